"""Renderers: turn :class:`~latentmorph.transfer.choices.Choices` into audio.

``decode``  build the matched latent sequence and run the codec's decoder (neural codecs).
``grains``  overlap-add the corpus audio of the chosen grains (any codec, no decoder).
Then ``loudness`` makes the result follow the source's envelope and ``mix`` does the
latency-aligned dry/wet mix, the morph towards the source (``strength``) and the
output level (the source's BS.1770 loudness under a true-peak limiter, ``limiter``).
"""

from latentmorph.transfer.render.decode import matched_latents, render_decode
from latentmorph.transfer.render.grains import render_grains
from latentmorph.transfer.render.loudness import follow_loudness, silence_gate
from latentmorph.transfer.render.mix import dry_wet, match_level, morph, safe_level

RENDERERS = ("decode", "grains")

__all__ = [
    "RENDERERS",
    "dry_wet",
    "follow_loudness",
    "match_level",
    "matched_latents",
    "morph",
    "render_decode",
    "render_grains",
    "safe_level",
    "silence_gate",
]
