"""The corpus index: encode a sound library once, search it fast, keep it safe.

Build or update with :func:`build_index`, load with :func:`load_index`, search with
:meth:`CorpusIndex.search` (or :func:`latentmorph.corpus.search.search` on plain
arrays). See ``docs/index.md`` for the on-disk format and behaviour.

Names are imported lazily, so ``from latentmorph.corpus import index_lock`` (or
``index_info``) does not pull in torch and the codecs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "BuildReport": "build",
    "CorpusFileWarning": "build",
    "build_index": "build",
    "CorpusIndex": "index",
    "load_index": "index",
    "ExactSearch": "search",
    "FileRecord": "records",
    "GrainTable": "records",
    "apply_augmentation": "augment",
    "parse_augment": "augment",
    "index_lock": "lock",
    "index_info": "info",
    "export_index": "portable",
    "import_index": "portable",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # pragma: no cover
    from latentmorph.corpus.augment import apply_augmentation, parse_augment
    from latentmorph.corpus.build import BuildReport, CorpusFileWarning, build_index
    from latentmorph.corpus.index import CorpusIndex, load_index
    from latentmorph.corpus.info import index_info
    from latentmorph.corpus.lock import index_lock
    from latentmorph.corpus.portable import export_index, import_index
    from latentmorph.corpus.records import FileRecord, GrainTable
    from latentmorph.corpus.search import ExactSearch


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'latentmorph.corpus' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"latentmorph.corpus.{module}"), name)
    globals()[name] = value
    return value
