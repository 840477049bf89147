"""latentmorph: make one sound take on the character of others through codec latents."""

__version__ = "0.1.0"
