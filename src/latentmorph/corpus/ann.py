"""Approximate nearest-neighbour search with FAISS (optional: ``pip install 'latentmorph[ann]'``).

Exact search (:mod:`latentmorph.corpus.search`) is the default and is fast enough up
to a few million grains. Beyond that an inverted-file index (``ivf``: k-means cells,
search the ``nprobe`` nearest) or a graph index (``hnsw``) trades a little recall
for speed; ``bench/bench_index.py`` measures recall@1 against exact search.
Scores follow the latentmorph convention (higher = closer).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from latentmorph.atomic import atomic_path
from latentmorph.corpus.search import check_metric
from latentmorph.errors import CorpusError

#: ``method="auto"`` uses exact search up to this many grains, IVF above.
AUTO_EXACT_LIMIT = 3_000_000
METHODS = ("exact", "ivf", "hnsw", "auto")


def choose_method(method: str, n: int, exact_limit: int = AUTO_EXACT_LIMIT, what: str = "search method") -> str:
    """``"exact"``, ``"ivf"`` or ``"hnsw"`` for ``n`` vectors; ``"auto"`` is exact up to ``exact_limit``, IVF above."""
    m = str(method).lower()
    if m not in METHODS:
        raise CorpusError(f"{what} must be one of {', '.join(METHODS)}, got {method!r}")
    if m == "auto":
        return "exact" if n <= exact_limit else "ivf"
    return m


def _faiss():  # noqa: ANN202
    try:
        import faiss
    except ImportError:
        raise CorpusError("approximate search needs faiss: pip install 'latentmorph[ann]' (or use method='exact')") from None
    return faiss


class AnnIndex:
    """A FAISS index over ``database`` ``[N, dim]``.

    Args:
        metric: ``cosine`` (vectors normalised, inner product), ``dot`` or ``l2``.
        kind: ``"ivf"`` (IndexIVFFlat, ``nlist`` ~ 4 sqrt(N) cells up to 4096, ``nprobe``
            searched) or ``"hnsw"`` (IndexHNSWFlat, ``m`` links, ``ef_search``).
        train_size: vectors sampled to train IVF centroids (default ``64 * nlist``).
    """

    def __init__(
        self,
        database: np.ndarray,
        metric: str = "cosine",
        *,
        kind: str = "ivf",
        nlist: int | None = None,
        nprobe: int = 16,
        m: int = 32,
        ef_search: int = 64,
        train_size: int | None = None,
        seed: int = 0,
    ) -> None:
        faiss = _faiss()
        self.metric = check_metric(metric)
        self.kind = kind
        db = np.ascontiguousarray(database, dtype=np.float32)
        if self.metric == "cosine":
            db = db / np.maximum(np.linalg.norm(db, axis=1, keepdims=True), 1e-12)
        n, d = db.shape
        self.n = n
        ip = self.metric in ("cosine", "dot")
        faiss_metric = faiss.METRIC_INNER_PRODUCT if ip else faiss.METRIC_L2
        if kind == "ivf":
            nlist = nlist or max(1, min(int(4 * math.sqrt(n)), 4096, n // 39 or 1))
            train_size = train_size or 64 * nlist
            quantizer = faiss.IndexFlatIP(d) if ip else faiss.IndexFlatL2(d)
            index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss_metric)
            rng = np.random.default_rng(seed)
            sample = db if n <= train_size else db[rng.choice(n, train_size, replace=False)]
            index.train(sample)
            index.nprobe = min(nprobe, nlist)
            self._quantizer = quantizer
        elif kind == "hnsw":
            index = faiss.IndexHNSWFlat(d, m, faiss_metric)
            index.hnsw.efSearch = ef_search
        else:
            raise ValueError(f"unknown ANN kind {kind!r}; use 'ivf' or 'hnsw'")
        index.add(db)
        self.index = index

    def __len__(self) -> int:
        return self.n

    def save(self, path: str | Path) -> None:
        """Write the FAISS index atomically (reloaded by :meth:`load`)."""
        faiss = _faiss()
        with atomic_path(path) as tmp:
            faiss.write_index(self.index, str(tmp))

    @classmethod
    def load(cls, path: str | Path, metric: str, kind: str, nprobe: int = 16, ef_search: int = 64) -> "AnnIndex":
        """Read an index written by :meth:`save`."""
        faiss = _faiss()
        self = cls.__new__(cls)
        self.metric, self.kind = check_metric(metric), kind
        self.index = faiss.read_index(str(path))
        self.n = int(self.index.ntotal)
        if kind == "ivf":
            self.index.nprobe = nprobe
        else:
            self.index.hnsw.efSearch = ef_search
        return self

    def search(self, queries: np.ndarray, k: int = 8) -> tuple[np.ndarray, np.ndarray]:
        """``queries`` ``[M, dim]`` -> ``(scores [M, k] float32, ids [M, k] int64)``, best first.

        Slots FAISS could not fill (tiny ``nprobe``) have id -1 and score -inf.
        """
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if self.metric == "cosine":
            q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
        k = max(0, min(int(k), self.n))
        if k == 0:
            return np.zeros((len(q), 0), np.float32), np.zeros((len(q), 0), np.int64)
        d, i = self.index.search(q, k)
        scores = -d if self.metric == "l2" else d
        scores = np.where(i < 0, -np.inf, scores).astype(np.float32)
        return scores, i.astype(np.int64)


def recall_at_1(approx_ids: np.ndarray, exact_ids: np.ndarray) -> float:
    """Fraction of queries whose approximate best match is the exact best match."""
    return float(np.mean(approx_ids[:, 0] == exact_ids[:, 0]))
