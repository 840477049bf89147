"""Latent granular transfer: make a source take on a corpus's character.

Layout (a matcher returns choices, never audio; a renderer turns choices into audio):

- ``space.py``    which latent dimensions are compared, and how they are scaled
- ``search.py``   exact top-k candidates (cosine / l2 / dot)
- ``windows.py``  multi-frame grains (windows of N frames, stride)
- ``settings.py`` :class:`TransferSettings`: every option's default, check and the presets
- ``match.py``    candidates -> choices: nearest, soft blend, sampling, Viterbi continuity,
                  repetition avoidance, keep-source threshold; the ``MATCHERS`` registry
- ``choices.py``  the :class:`Choices` a matcher returns
- ``render/``     decode renderer, grain overlap-add renderer, loudness follow, dry/wet
- ``engine.py``   :func:`transfer` (encode -> search -> match -> render)
- ``corpus.py``   index / in-memory corpus / cached index from files
- ``report.py``   JSON report; ``plot.py`` spectrogram figure (matplotlib, optional)
"""

import importlib
from typing import Any

#: Exported name -> the module that holds it. Imported on first use, so reading the option
#: list (``latentmorph.transfer.settings``, which every CLI start does for its flags) does
#: not import the engine and what it needs.
_EXPORTS = {
    "KEEP_SOURCE": "choices", "Choices": "choices", "MemoryCorpus": "corpus", "open_corpus": "corpus",
    "TransferCorpus": "corpus", "PRESETS": "settings", "IgnoredOptionWarning": "settings",
    "TransferSettings": "settings", "TransferResult": "engine", "transfer": "engine",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"latentmorph.transfer.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'latentmorph.transfer' has no attribute {name!r}")

