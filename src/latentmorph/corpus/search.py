"""Exact nearest-neighbour search over latent vectors: batched torch matmul + top-k.

Convention everywhere in latentmorph: a HIGHER score means closer.

=========  ===========================================  ===========================
metric     score                                        note
=========  ===========================================  ===========================
cosine     cosine similarity in [-1, 1]                 vectors normalised first
dot        inner product ``q . x``
l2         negative squared distance ``-|q - x|^2``     ``q . x`` trick, exact up to
                                                        float32 rounding
=========  ===========================================  ===========================

Queries are processed in blocks against database blocks, keeping a running top-k,
so memory stays bounded (``block_elements`` scores at a time) whatever the corpus
size. ``precision="bf16"`` scores in bfloat16, keeps a wider candidate list and
re-ranks it in float32: roughly twice as fast on CPUs with bf16 matmul and almost
always the same answer (see bench/bench_index.py for the measured agreement).
"""

from __future__ import annotations

import numpy as np
import torch

METRICS = ("cosine", "l2", "dot")
PRECISIONS = ("fp32", "bf16")

#: Scores computed per block (float32 elements): 32M = 128 MB.
DEFAULT_BLOCK_ELEMENTS = 1 << 25


def check_metric(metric: str) -> str:
    m = str(metric).lower()
    if m in ("euclidean", "sqeuclidean"):
        m = "l2"
    if m in ("ip", "inner", "inner_product"):
        m = "dot"
    if m not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; use one of {', '.join(METRICS)}")
    return m


def _as_matrix(x: np.ndarray | torch.Tensor, name: str) -> torch.Tensor:
    t = x if isinstance(x, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(np.asarray(x, dtype=np.float32)))
    if t.ndim == 1:
        t = t[None]
    if t.ndim != 2:
        raise ValueError(f"{name} must be [rows, dim], got shape {tuple(t.shape)}")
    return t.float().contiguous()


def _normalise(t: torch.Tensor) -> torch.Tensor:
    return t / t.norm(dim=1, keepdim=True).clamp_min(1e-12)


class ExactSearch:
    """A database prepared once for many exact searches.

    Args:
        database: ``[N, dim]`` float vectors (numpy or torch; copied to float32).
        metric: ``"cosine"``, ``"l2"`` or ``"dot"``.
        block_elements: scores computed at once; lower it to save memory.
    """

    def __init__(self, database: np.ndarray | torch.Tensor, metric: str = "cosine", *, block_elements: int = DEFAULT_BLOCK_ELEMENTS) -> None:
        self.metric = check_metric(metric)
        db = _as_matrix(database, "database")
        self.db = _normalise(db) if self.metric == "cosine" else db
        self.sqnorm = (self.db * self.db).sum(dim=1) if self.metric == "l2" else None
        self.block_elements = int(block_elements)
        self._db_bf16: torch.Tensor | None = None

    def __len__(self) -> int:
        return self.db.shape[0]

    @property
    def dim(self) -> int:
        return self.db.shape[1]

    def _scores(self, q: torch.Tensor, lo: int, hi: int, bf16: bool) -> torch.Tensor:
        """Scores of queries ``q`` [m, D] against database rows ``lo:hi`` -> [m, hi-lo]."""
        if bf16:
            if self._db_bf16 is None:
                self._db_bf16 = self.db.to(torch.bfloat16)
            s = (q.to(torch.bfloat16) @ self._db_bf16[lo:hi].T).float()
        else:
            s = q @ self.db[lo:hi].T
        if self.metric == "l2":
            # -(|q|^2 - 2 q.x + |x|^2); |q|^2 is added back after top-k (it does not change the order)
            s.mul_(2.0).sub_(self.sqnorm[lo:hi])
        return s

    def search(self, queries: np.ndarray | torch.Tensor, k: int = 8, *, precision: str = "fp32") -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` database rows for each query.

        Args:
            queries: ``[M, dim]`` (or ``[dim]``).
            k: neighbours per query, clipped to the database size.
            precision: ``"fp32"`` (exact) or ``"bf16"`` (bf16 scores, fp32 re-ranking).

        Returns:
            ``(scores [M, k] float32, ids [M, k] int64)``, best first.
        """
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
        q = _as_matrix(queries, "queries")
        if q.shape[1] != self.dim:
            raise ValueError(f"queries have dim {q.shape[1]}, the database has dim {self.dim}")
        n, m = len(self), q.shape[0]
        k = max(0, min(int(k), n))
        if m == 0 or k == 0:
            return np.zeros((m, k), np.float32), np.zeros((m, k), np.int64)
        if self.metric == "cosine":
            q = _normalise(q)
        bf16 = precision == "bf16"
        kk = min(n, max(4 * k, k + 32)) if bf16 else k
        q_block = max(1, min(m, 1024))
        db_block = max(kk, self.block_elements // q_block)
        out_s = torch.empty(m, kk)
        out_i = torch.empty(m, kk, dtype=torch.int64)
        with torch.inference_mode():
            for qs in range(0, m, q_block):
                qb = q[qs : qs + q_block]
                best_s: torch.Tensor | None = None
                best_i: torch.Tensor | None = None
                for lo in range(0, n, db_block):
                    hi = min(n, lo + db_block)
                    s = self._scores(qb, lo, hi, bf16)
                    top_s, top_i = s.topk(min(kk, hi - lo), dim=1)
                    top_i += lo
                    if best_s is None:
                        best_s, best_i = top_s, top_i
                    else:
                        cat_s = torch.cat([best_s, top_s], dim=1)
                        cat_i = torch.cat([best_i, top_i], dim=1)
                        best_s, pos = cat_s.topk(kk, dim=1)
                        best_i = cat_i.gather(1, pos)
                out_s[qs : qs + q_block] = best_s
                out_i[qs : qs + q_block] = best_i
            if bf16:
                out_s, out_i = self._rerank(q, out_i, k)
            if self.metric == "l2":
                out_s -= (q * q).sum(dim=1, keepdim=True)
                out_s.clamp_(max=0.0)
        return out_s.numpy().astype(np.float32, copy=False), out_i.numpy()

    def _rerank(self, q: torch.Tensor, cand: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact fp32 scores for candidate ids ``cand`` [M, kk]; keep the best ``k``."""
        s = torch.einsum("md,mkd->mk", q, self.db[cand])
        if self.metric == "l2":
            s = 2.0 * s - self.sqnorm[cand]
        top_s, pos = s.topk(k, dim=1)
        return top_s, cand.gather(1, pos)


def search(
    queries: np.ndarray,
    database: np.ndarray,
    k: int,
    metric: str = "cosine",
    *,
    precision: str = "fp32",
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` search of ``queries`` ``[M, dim]`` in ``database`` ``[N, dim]``.

    Returns ``(scores [M, k] float32, ids [M, k] int64)`` sorted best first; a higher
    score is closer (cosine similarity, dot product, or negative squared L2 distance).
    ``k`` is clipped to ``N``. For repeated searches of one database build an
    :class:`ExactSearch` once (``CorpusIndex.search`` does that for you).
    """
    return ExactSearch(database, metric).search(queries, k, precision=precision)
