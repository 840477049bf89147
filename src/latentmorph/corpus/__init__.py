"""The corpus index: encode a sound library once, search it fast, keep it safe.

Build or update with :func:`build_index`, load with :func:`load_index`, search with
:meth:`CorpusIndex.search` (or :func:`latentmorph.corpus.search.search` on plain
arrays). See ``docs/index.md`` for the on-disk format and behaviour.
"""

from latentmorph.corpus.augment import apply_augmentation, parse_augment
from latentmorph.corpus.build import BuildReport, CorpusFileWarning, build_index
from latentmorph.corpus.index import CorpusIndex, load_index
from latentmorph.corpus.lock import index_lock
from latentmorph.corpus.records import FileRecord, GrainTable
from latentmorph.corpus.search import ExactSearch

__all__ = [
    "BuildReport",
    "CorpusFileWarning",
    "CorpusIndex",
    "ExactSearch",
    "FileRecord",
    "GrainTable",
    "apply_augmentation",
    "build_index",
    "index_lock",
    "load_index",
    "parse_augment",
]
