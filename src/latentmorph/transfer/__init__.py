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

from latentmorph.transfer.choices import KEEP_SOURCE, Choices
from latentmorph.transfer.corpus import MemoryCorpus, open_corpus
from latentmorph.transfer.engine import PRESETS, TransferResult, transfer
from latentmorph.transfer.settings import IgnoredOptionWarning, TransferSettings

__all__ = ["KEEP_SOURCE", "PRESETS", "Choices", "IgnoredOptionWarning", "MemoryCorpus", "TransferResult",
           "TransferSettings", "open_corpus", "transfer"]


from latentmorph._callable import make_callable  # noqa: E402

# ``from latentmorph import transfer; transfer(wave, sr, index=...)`` calls the function,
# while ``latentmorph.transfer.match`` etc. stay importable as a package.
make_callable(__name__, transfer)
