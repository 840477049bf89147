"""Exact nearest-neighbour search over latent vectors: blocked float32 BLAS matmul + top-k.

Convention everywhere in latentmorph: a HIGHER score means closer.

=========  ===========================================  ===========================
metric     score                                        note
=========  ===========================================  ===========================
cosine     cosine similarity in [-1, 1]                 vectors normalised first
dot        inner product ``q . x``
l2         negative squared distance ``-|q - x|^2``     ``q . x`` trick, exact up to
                                                        float32 rounding
=========  ===========================================  ===========================

numpy only (no torch): float32 BLAS matmuls score blocks of queries against the
database. Up to :data:`RUNNING_MIN_ROWS` rows each block's top-k is a two-pass selection
(:func:`topk_rows`: maxima of runs of 32 rows, then ``argpartition`` over the best runs
only); above, the database is scored in blocks of :data:`DB_BLOCK` rows and each query
keeps a running top-k whose worst score is a threshold: a block only hands over its
scores above it (a comparison, then a sparse merge). Either way selection costs a
fraction of the matmul.
Memory stays bounded (``block_elements`` scores at a time) whatever the corpus size.
Equal scores are ranked by lower id first. ``precision="bf16"`` (imports torch) scores
in bfloat16, keeps a wider candidate list and re-ranks it in float32.
"""

from __future__ import annotations

from typing import Any

import numpy as np

METRICS = ("cosine", "l2", "dot")
PRECISIONS = ("fp32", "bf16")

#: Scores computed per block (float32 elements): 32M = 128 MB at most.
DEFAULT_BLOCK_ELEMENTS = 1 << 25
#: Exact search blocks: database rows x queries per matrix product (16384 x 256 float32 =
#: 16 MB, so the comparison pass that follows reads them from cache), and the rows spread
#: over the database that seed each query's threshold. Measured on 2 cores against 142k x 65 windows: the
#: product is most of the cost, and the selection a small part of it.
DB_BLOCK = 16384
Q_BLOCK = 256
#: Databases up to this many rows use the dense path (:meth:`ExactSearch._search_dense`):
#: measured faster there (25.8k rows: 0.49 s against 0.66 s for 2584 queries); above, the
#: running top-k (142k rows: 0.9 s against 1.6 s).
RUNNING_MIN_ROWS = 65536
SEED_ROWS = 2048
FIRST_ROWS = 2048
#: A block hands over at most this many candidates per query and k before it is reduced to its own top-k.
DENSE_HITS = 64
#: Queries per matrix product on the dense path: 256 queries x 25.8k rows (26 MB of scores,
#: written into one buffer reused for every block) run the product at ~110 GFLOP/s on 2
#: cores where 1292 queries (134 MB, a fresh array) ran it at ~30 and then paid a copy to pad it.
DENSE_Q_BLOCK = 256


def check_metric(metric: str) -> str:
    m = str(metric).lower()
    if m in ("euclidean", "sqeuclidean"):
        m = "l2"
    if m in ("ip", "inner", "inner_product"):
        m = "dot"
    if m not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; use one of {', '.join(METRICS)}")
    return m


def _as_matrix(x: Any, name: str) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor
        x = x.detach().cpu().numpy()
    t = np.asarray(x, dtype=np.float32)
    if t.ndim == 1:
        t = t[None]
    if t.ndim != 2:
        raise ValueError(f"{name} must be [rows, dim], got shape {tuple(t.shape)}")
    return np.ascontiguousarray(t)


def _normalise(t: np.ndarray) -> np.ndarray:
    norm = np.sqrt(np.einsum("ij,ij->i", t, t, dtype=np.float32))[:, None]
    return (t / np.maximum(norm, np.float32(1e-12))).astype(np.float32, copy=False)


def _best_first(scores: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best of each row of candidates ``[m, c]``, sorted by score (descending), then
    id (ascending): ``argpartition`` picks them, rows whose ``k``-th best score is shared
    past the cut are settled by a full sort, then only the ``k`` kept are sorted."""
    m, c = scores.shape
    if c > k:
        part = np.argpartition(scores, c - k, axis=1)
        top = part[:, c - k :]
        kth = np.take_along_axis(scores, part[:, c - k : c - k + 1], 1)
        tied = np.flatnonzero((scores >= kth).sum(axis=1) > k)
        if tied.size:
            top[tied] = np.lexsort((ids[tied], -scores[tied]), axis=1)[:, :k]
        scores, ids = np.take_along_axis(scores, top, 1), np.take_along_axis(ids, top, 1)
    order = np.lexsort((ids, -scores), axis=1)[:, :k]
    return np.take_along_axis(scores, order, 1), np.take_along_axis(ids, order, 1)


def topk_rows(scores: np.ndarray, k: int, group: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Column-wise top-``k`` of ``scores [n, m]`` (n database rows, m queries): returns
    ``(scores [m, k], ids [m, k])`` best first, ties by lower row id.

    Two passes for small ``k``: the maximum of each run of ``group`` rows, the ``k`` runs
    with the highest maxima per query (they hold every top-``k`` element: a run whose
    maximum is below the ``k``-th best value holds none of the best ``k``), then the
    exact top-``k`` over those ``k * group`` candidates only. A query where more than ``k``
    runs reach the ``k``-th best maximum (equal scores in runs left out, which may hold a
    lower id) is settled over its whole column instead.
    """
    n, m = scores.shape
    k = min(int(k), n)
    if n % group or n < 8 * k * group:
        return _best_first(np.ascontiguousarray(scores.T), np.broadcast_to(np.arange(n), (m, n)), k)
    runs = np.ascontiguousarray(scores.reshape(n // group, group, m).max(axis=1).T)  # [m, n/group]
    r = runs.shape[1]
    best = np.argpartition(runs, r - k, axis=1)[:, r - k :]  # [m, k] run ids
    cand = (best[:, :, None] * group + np.arange(group)).reshape(m, k * group)
    cand_s = np.take(scores.reshape(-1), cand * m + np.arange(m)[:, None])  # scores[cand, query]
    out_s, out_i = _best_first(cand_s, cand, k)
    # a run left out whose maximum equals the k-th best run's may hold a lower id of an equal score
    kth = np.take_along_axis(runs, best[:, :1], 1)
    tied = np.flatnonzero((runs >= kth).sum(axis=1) > k)
    if tied.size:
        out_s[tied], out_i[tied] = _best_first(np.ascontiguousarray(scores[:, tied].T),
                                               np.broadcast_to(np.arange(n), (tied.size, n)), k)
    return out_s, out_i


def _block_hits(s: np.ndarray, thr: np.ndarray, limit: int,
                group: int = 32) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``(rows, queries, scores)`` of the block's scores ``s [rows, m]`` at or above
    ``thr [m]``, grouped by query (rows ascending within one), or ``None`` when more than
    ``limit`` pass. A block of whole runs of ``group`` rows compares the runs' maxima first
    and looks inside the few runs that reach a threshold only, instead of listing the hits
    of the whole comparison."""
    rows, m = s.shape
    if rows % group == 0:
        run, q = np.nonzero(s.reshape(rows // group, group, m).max(axis=1) >= thr)  # run ascending, then query
        if run.size > limit:  # every such run holds at least one hit
            return None
        row = (run[:, None] * group + np.arange(group)).reshape(-1)
        q = np.repeat(q, group)
        cand = s[row, q]
        keep = cand >= thr[q]
        row, q, cand = row[keep], q[keep], cand[keep]
    else:
        mask = s >= thr
        if int(np.count_nonzero(mask)) > limit:
            return None
        hit = np.flatnonzero(mask)  # row-major: (row, query) pairs
        row, q = np.divmod(hit, m)
        cand = s.reshape(-1)[hit]
    if row.size > limit:
        return None
    order = np.argsort(q.astype(np.int16) if m < 32768 else q, kind="stable")  # group by query (radix sort)
    return row[order], q[order], cand[order]


def _merge_block(best_s: np.ndarray, best_i: np.ndarray, thr: np.ndarray, s: np.ndarray, lo: int) -> None:
    """Merge the block of scores ``s [rows, m]`` (database rows ``lo ...``) into the running
    top-k ``best_s/best_i [m, k]`` (sorted best first by score, then id) in place; only
    scores at or above a query's threshold ``thr [m]`` (raised to its new ``k``-th best)
    are candidates."""
    m, k = best_s.shape
    found = _block_hits(s, thr, DENSE_HITS * m * k)
    if found is not None and found[0].size == 0:
        return
    if found is None:  # many pass: the block's own top-k first
        rows = s.shape[0]
        block_s, block_i = _best_first(np.ascontiguousarray(s.T), np.broadcast_to(np.arange(lo, lo + rows), (m, rows)),
                                       min(k, rows))
        best_s[:], best_i[:] = _best_first(np.concatenate([best_s, block_s], 1), np.concatenate([best_i, block_i], 1), k)
        np.maximum(thr, best_s[:, -1], out=thr)
        return
    row, q, cand = found
    counts = np.bincount(q, minlength=m)
    u = np.flatnonzero(counts)
    group = np.cumsum(counts > 0)[q] - 1  # row of ``u`` each candidate belongs to
    rank = np.arange(q.size) - (np.cumsum(counts) - counts)[q]  # its place within its query
    width = k + int(counts.max())
    pad_s = np.full((u.size, width), -np.inf, np.float32)
    pad_i = np.full((u.size, width), np.iinfo(np.int64).max, np.int64)
    pad_s[:, :k], pad_i[:, :k] = best_s[u], best_i[u]
    pad_s[group, k + rank], pad_i[group, k + rank] = cand, row + lo
    best_s[u], best_i[u] = _best_first(pad_s, pad_i, k)
    thr[u] = np.maximum(thr[u], best_s[u, -1])


def _unique_rows(q: np.ndarray, min_rows: int = 256, min_share: float = 0.1) -> tuple[np.ndarray | None, np.ndarray]:
    """``(unique rows, inverse)`` when at least ``min_share`` of ``q``'s rows repeat another
    row bit for bit (else ``(None, [])``); only for ``min_rows`` queries or more."""
    if q.shape[0] < min_rows:
        return None, np.zeros(0, np.int64)
    keys = np.ascontiguousarray(q).view(np.dtype((np.void, q.dtype.itemsize * q.shape[1]))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    if first.size > (1.0 - min_share) * q.shape[0]:
        return None, np.zeros(0, np.int64)
    return q[first], inverse.reshape(-1)


class ExactSearch:
    """A database prepared once for many exact searches.

    For ``l2`` the squared norms ride along as one extra column (``[x, -|x|^2]`` against
    ``[2q, 1]``), so one matmul gives ``2 q.x - |x|^2`` with no extra pass over the scores.

    Args:
        database: ``[N, dim]`` float vectors (numpy, or a torch tensor; copied to float32).
        metric: ``"cosine"``, ``"l2"`` or ``"dot"``.
        block_elements: scores computed at once; lower it to save memory.
    """

    #: database rows are padded to a multiple of this (see :func:`topk_rows`).
    GROUP = 32

    def __init__(self, database: Any, metric: str = "cosine", *, block_elements: int = DEFAULT_BLOCK_ELEMENTS) -> None:
        self.metric = check_metric(metric)
        db = _as_matrix(database, "database")
        if self.metric == "cosine":
            db = _normalise(db)
        if self.metric == "l2":
            mat = np.concatenate([db, -np.einsum("ij,ij->i", db, db, dtype=np.float32)[:, None]], axis=1)
        else:
            mat = db
        self._n = db.shape[0]
        self._dim = db.shape[1]
        self._mat = np.ascontiguousarray(mat, dtype=np.float32)
        self.block_elements = int(block_elements)
        self._mat_bf16: Any = None

    def __len__(self) -> int:
        return self._n

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def db(self) -> np.ndarray:
        """The (normalised, for cosine) database ``[N, dim]``."""
        return self._mat[:, : self._dim]

    def _query_matrix(self, q: np.ndarray) -> np.ndarray:
        if self.metric == "l2":
            return np.concatenate([2.0 * q, np.ones((q.shape[0], 1), np.float32)], axis=1).astype(np.float32)
        return q

    def search(self, queries: Any, k: int = 8, *, precision: str = "fp32") -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` database rows for each query.

        Args:
            queries: ``[M, dim]`` (or ``[dim]``).
            k: neighbours per query, clipped to the database size.
            precision: ``"fp32"`` (exact) or ``"bf16"`` (bf16 scores, fp32 re-ranking; needs torch).

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
        uniq, inverse = _unique_rows(q)
        if uniq is not None:  # repeated queries (a looped source) are searched once: same answer
            s_u, i_u = self.search(uniq, k, precision=precision)
            return s_u[inverse], i_u[inverse]
        if self.metric == "cosine":
            q = _normalise(q)
        qm = self._query_matrix(q)
        if precision == "bf16":
            out_s, out_i = self._search_bf16(q, qm, k)
        else:
            out_s, out_i = self._search_fp32(qm, k)
        if self.metric == "l2":
            out_s = np.minimum(out_s - np.einsum("ij,ij->i", q, q, dtype=np.float32)[:, None], np.float32(0.0))
        return out_s.astype(np.float32, copy=False), out_i.astype(np.int64, copy=False)

    def _search_dense(self, qm: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Up to :data:`RUNNING_MIN_ROWS` rows: scores of the whole database (or ``block_elements``
        of them) per block of at most :data:`DENSE_Q_BLOCK` queries, top-k by :func:`topk_rows`
        (run maxima, then ``argpartition``). The products write into one preallocated buffer,
        padded with ``-inf`` rows to whole runs where that is needed (no copy)."""
        n, m = len(self), qm.shape[0]
        g = self.GROUP
        db_block = max(g, min(n + (-n) % g, self.block_elements // max(1, min(m, 64))))
        db_block -= db_block % g
        q_block = max(1, min(m, DENSE_Q_BLOCK, self.block_elements // db_block))
        buf = np.empty((min(n, db_block) + g) * q_block, np.float32)
        out_s = np.empty((m, k), np.float32)
        out_i = np.empty((m, k), np.int64)
        for qs in range(0, m, q_block):
            qb = qm[qs : qs + q_block]
            b = qb.shape[0]
            best: tuple[np.ndarray, np.ndarray] | None = None
            for lo in range(0, n, db_block):
                hi = min(n, lo + db_block)
                pad = (-(hi - lo)) % g
                if not (pad and hi - lo >= 8 * k * g):  # pad to whole runs with scores that never win
                    pad = 0
                s = buf[: (hi - lo + pad) * b].reshape(hi - lo + pad, b)  # [rows, queries]
                np.matmul(self._mat[lo:hi], qb.T, out=s[: hi - lo])
                s[hi - lo :] = -np.inf
                top_s, top_i = topk_rows(s, min(k, hi - lo), g)
                top_i = top_i + lo
                if best is not None:
                    top_s, top_i = _best_first(np.concatenate([best[0], top_s], 1), np.concatenate([best[1], top_i], 1), k)
                best = (top_s, top_i)
            assert best is not None
            out_s[qs : qs + q_block], out_i[qs : qs + q_block] = best
        return out_s, out_i

    def _search_fp32(self, qm: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Blocked scores ``db_block @ q_block.T`` ``[rows, queries]`` with a running top-k.

        Each query keeps its ``k`` best so far (the first :data:`FIRST_ROWS` rows give them)
        and a threshold no higher than the ``k``-th best score overall: the ``k``-th best of
        :data:`SEED_ROWS` rows spread over the database (less a margin for rounding), or of
        the rows seen so far when higher. A block of
        :data:`DB_BLOCK` rows only hands over its scores at or above the threshold (one
        comparison, then a sparse merge); a block where many pass (early, or a threshold
        still loose) is reduced to its own top-k instead. So the cost is the matrix product
        plus one pass over its output while in cache. Ties: merged by score then id, so a
        lower id wins, as in :func:`_best_first`.
        """
        n, m = len(self), qm.shape[0]
        if n <= RUNNING_MIN_ROWS:
            return self._search_dense(qm, k)
        q_block = max(1, min(m, Q_BLOCK, self.block_elements // max(1, min(n, DB_BLOCK))))
        db_block = max(1, min(n, DB_BLOCK, self.block_elements // q_block))
        seed = np.unique(np.linspace(0, n - 1, min(n, SEED_ROWS)).astype(np.int64))
        out_s = np.empty((m, k), np.float32)
        out_i = np.empty((m, k), np.int64)
        buf = np.empty(db_block * q_block, np.float32)  # every block's scores, written in place
        for qs in range(0, m, q_block):
            qb = qm[qs : qs + q_block]
            b = qb.shape[0]
            thr = np.full(b, -np.inf, np.float32)
            if seed.size > k:
                kth = np.partition(qb @ self._mat[seed].T, seed.size - k, axis=1)[:, seed.size - k]
                thr = (kth - np.float32(1e-5) * np.maximum(np.abs(kth), np.float32(1.0))).astype(np.float32)
            first = min(n, max(k, FIRST_ROWS))
            block = np.ascontiguousarray((self._mat[:first] @ qb.T).T)  # [queries, first]
            best_s, best_i = _best_first(block, np.broadcast_to(np.arange(first), block.shape), k)
            best_s, best_i = best_s.copy(), best_i.copy()
            np.maximum(thr, best_s[:, -1], out=thr)
            for lo in range(first, n, db_block):
                hi = min(n, lo + db_block)
                s = buf[: (hi - lo) * b].reshape(hi - lo, b)
                _merge_block(best_s, best_i, thr, np.matmul(self._mat[lo:hi], qb.T, out=s), lo)
            out_s[qs : qs + q_block], out_i[qs : qs + q_block] = best_s, best_i
        return out_s, out_i

    def _search_bf16(self, q: np.ndarray, qm: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """bf16 scores (torch), a wider candidate list, exact float32 re-ranking."""
        import torch

        n, m = len(self), qm.shape[0]
        kk = min(n, max(4 * k, k + 32))
        if self._mat_bf16 is None:
            self._mat_bf16 = torch.from_numpy(self._mat).to(torch.bfloat16)
        mat = self._mat_bf16
        q_block = max(1, min(m, 512))
        db_block = max(kk, self.block_elements // q_block)
        cand = np.empty((m, kk), np.int64)
        with torch.inference_mode():
            qt = torch.from_numpy(np.ascontiguousarray(qm)).to(torch.bfloat16)
            for qs in range(0, m, q_block):
                qb = qt[qs : qs + q_block]
                best_s = best_i = None
                for lo in range(0, n, db_block):
                    hi = min(n, lo + db_block)
                    s = (qb @ mat[lo:hi].T).float()
                    top_s, top_i = s.topk(min(kk, hi - lo), dim=1)
                    top_i += lo
                    if best_s is not None and best_i is not None:
                        cat_s, cat_i = torch.cat([best_s, top_s], 1), torch.cat([best_i, top_i], 1)
                        top_s, pos = cat_s.topk(min(kk, cat_s.shape[1]), dim=1)
                        top_i = cat_i.gather(1, pos)
                    best_s, best_i = top_s, top_i
                assert best_i is not None
                cand[qs : qs + q_block] = best_i.numpy()
        rows = self._mat[cand]  # [M, kk, D(+1)]
        s = np.einsum("md,mkd->mk", qm, rows, dtype=np.float32)
        return _best_first(s, cand, k)


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
