"""Candidate search in the matching space, over :class:`latentmorph.corpus.search.ExactSearch`.

Scores follow the corpus index's convention: HIGHER is closer (cosine similarity,
dot product, negative squared Euclidean distance).
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from latentmorph.corpus.search import METRICS as METRICS  # re-exported: transfer.engine checks options against it
from latentmorph.corpus.search import ExactSearch, check_metric


def topk(queries: np.ndarray, database: np.ndarray, k: int, metric: str = "cosine",
         valid: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest rows of ``database`` for every query, skipping rows not ``valid``.

    Args:
        queries: ``[M, D]`` float.
        database: ``[N, D]`` float.
        k: candidates per query (clipped to the number of usable rows).
        metric: ``"cosine"``, ``"l2"`` or ``"dot"``.
        valid: optional ``[N]`` bool; rows that are False are never returned.

    Returns:
        ``(scores [M, k] float32, ids [M, k] int64)``, best first; ids index ``database``.
    """
    check_metric(metric)
    if valid is None:
        return ExactSearch(database, metric).search(queries, max(1, int(k)))
    valid = np.asarray(valid, dtype=bool)
    searcher, rows = _prepared(np.asarray(database), valid, metric)
    scores, ids = searcher.search(queries, max(1, int(k)))
    return scores, rows[ids]


#: The last prepared database: (weak refs to the windows and the mask, metric, searcher, rows).
_LAST: list[tuple[Any, Any, str, ExactSearch, np.ndarray]] = []


def _prepared(database: np.ndarray, valid: np.ndarray, metric: str) -> tuple[ExactSearch, np.ndarray]:
    """The :class:`ExactSearch` of ``database[valid]`` and those rows. Read-only arrays (the
    engine's cached corpus windows) are prepared once and reused while both objects live:
    a transfer per channel or a repeated one against a loaded 60 min index does not copy
    and normalise 142k windows again (~0.05 s each time)."""
    reuse = not database.flags.writeable and not valid.flags.writeable
    last = list(_LAST)  # one snapshot: another thread's transfer may clear or replace the slot meanwhile
    if reuse and last:
        db_ref, valid_ref, m, searcher, rows = last[0]
        if db_ref() is database and valid_ref() is valid and m == metric:
            return searcher, rows
    rows = np.flatnonzero(valid)
    searcher = ExactSearch(database[rows], metric)
    if reuse:
        gone = lambda _ref: _LAST.clear()  # noqa: E731 - the windows went: so does their copy
        _LAST[:] = [(weakref.ref(database, gone), weakref.ref(valid, gone), metric, searcher, rows)]
    return searcher, rows


def score_to_distance(scores: np.ndarray, metric: str, dims: int = 1) -> np.ndarray:
    """Scores (higher = closer) -> distances (lower = closer, 0 = identical for cosine/l2).

    cosine: ``1 - similarity`` (0..2); l2: root-mean-square difference per compared
    dimension (``sqrt(squared distance / dims)``, so it does not grow with windows);
    dot: ``-dot / dims``.
    """
    scores = np.asarray(scores, dtype=np.float32)
    if metric == "cosine":
        return np.maximum(1.0 - scores, 0.0)
    if metric == "l2":
        return np.sqrt(np.maximum(-scores, 0.0) / max(1, dims))
    return -scores / max(1, dims)
