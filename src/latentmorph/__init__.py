"""latentmorph: make one sound take on the character of others through codec latents.

The public API is numpy in, numpy out (see :mod:`latentmorph.api`)::

    import latentmorph as lm
    wave, sr = lm.audio.load("guitar.wav")        # [channels, samples]
    latents = lm.encode(wave, sr)                  # [channels, dim, frames]
    out, out_sr = lm.transfer(wave, sr, index="ocean.lmindex")

Names from :mod:`latentmorph.api` are imported on first use, so ``import latentmorph``
(and ``latentmorph --help``) does not pay for torch until something needs it.

``lm.transfer`` and ``lm.evaluate`` are plain functions, imported here (their imports are
numpy-only), while ``latentmorph/transfer/`` and ``latentmorph/evaluate/`` stay the packages
that hold them. Because the name ``latentmorph.transfer`` is the function, reach a module of
those packages with ``from latentmorph.transfer import match`` (or ``from
latentmorph.transfer.match import nearest``), not ``import latentmorph.transfer.match as m``.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

from latentmorph import audio  # noqa: E402  (light: numpy, soundfile, soxr)

# Imported after their packages, so these names are the functions, not the packages
# (importing ``latentmorph.transfer.X`` later never rebinds ``latentmorph.transfer``).
from latentmorph.evaluate.report import evaluate  # noqa: E402
from latentmorph.transfer.engine import transfer  # noqa: E402


def __getattr__(name: str) -> Any:
    if name.startswith("__") and name != "__all__":
        raise AttributeError(name)
    # importlib, not ``from latentmorph import api``: that form would ask this hook for "api".
    api = importlib.import_module("latentmorph.api")
    if name == "__all__":
        return ["__version__", "audio", *api.__all__]  # api.__all__ holds transfer and evaluate
    if name in globals():  # ``lm.api`` itself, bound by the import just made
        return globals()[name]
    try:
        return getattr(api, name)
    except AttributeError:
        raise AttributeError(f"module 'latentmorph' has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__getattr__("__all__")))
