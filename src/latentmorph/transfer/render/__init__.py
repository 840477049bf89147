"""Renderers: turn :class:`~latentmorph.transfer.choices.Choices` into audio.

``decode``  build the matched latent sequence and run the codec's decoder (neural codecs).
``grains``  overlap-add the corpus audio of the chosen grains (any codec, no decoder).
Then ``loudness`` makes the result follow the source's envelope and ``mix`` does the
latency-aligned dry/wet mix and keeps the level safe.
"""

from latentmorph.transfer.render.decode import matched_latents, render_decode
from latentmorph.transfer.render.grains import render_grains
from latentmorph.transfer.render.loudness import follow_loudness, silence_gate
from latentmorph.transfer.render.mix import dry_wet, safe_level

RENDERERS = ("decode", "grains")

__all__ = [
    "RENDERERS",
    "dry_wet",
    "follow_loudness",
    "matched_latents",
    "render_decode",
    "render_grains",
    "safe_level",
    "silence_gate",
]
