"""latentmorph: make one sound take on the character of others through codec latents.

The public API is numpy in, numpy out (see :mod:`latentmorph.api`)::

    import latentmorph as lm
    wave, sr = lm.audio.load("guitar.wav")        # [channels, samples]
    latents = lm.encode(wave, sr)                  # [channels, dim, frames]
"""

__version__ = "0.1.0"

from latentmorph import audio  # noqa: E402
from latentmorph.api import *  # noqa: E402,F401,F403
from latentmorph.api import __all__ as _api_all  # noqa: E402

__all__ = ["__version__", "audio", *_api_all]
