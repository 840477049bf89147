"""Exact top-k candidate search in the matching space (torch matmul, chunked).

Scores follow the corpus index's convention: HIGHER is closer (cosine similarity,
dot product, negative squared Euclidean distance).
"""

from __future__ import annotations

import numpy as np
import torch

METRICS = ("cosine", "l2", "dot")

_CHUNK = 2048  # queries per matmul block: bounds memory to CHUNK x N floats


def topk(queries: np.ndarray, database: np.ndarray, k: int, metric: str = "cosine",
         valid: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest rows of ``database`` for every query.

    Args:
        queries: ``[M, D]`` float.
        database: ``[N, D]`` float.
        k: candidates per query (clipped to the number of usable rows).
        metric: ``"cosine"``, ``"l2"`` or ``"dot"``.
        valid: optional ``[N]`` bool; rows that are False are never returned.

    Returns:
        ``(scores [M, k] float32, ids [M, k] int64)``, best first.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; use one of {', '.join(METRICS)}")
    q = torch.from_numpy(np.ascontiguousarray(queries, dtype=np.float32))
    db = torch.from_numpy(np.ascontiguousarray(database, dtype=np.float32))
    if metric == "cosine":
        q = torch.nn.functional.normalize(q, dim=1)
        db = torch.nn.functional.normalize(db, dim=1)
    n_valid = int(db.shape[0] if valid is None else np.count_nonzero(valid))
    k = max(1, min(int(k), n_valid))
    mask = None if valid is None else torch.from_numpy(~np.asarray(valid, dtype=bool))
    db_sq = (db * db).sum(1) if metric == "l2" else None
    out_s = np.empty((q.shape[0], k), np.float32)
    out_i = np.empty((q.shape[0], k), np.int64)
    with torch.inference_mode():
        for a in range(0, q.shape[0], _CHUNK):
            block = q[a : a + _CHUNK]
            s = block @ db.T
            if metric == "l2":
                s = 2 * s - db_sq[None] - (block * block).sum(1, keepdim=True)
            if mask is not None:
                s[:, mask] = -torch.inf
            top = torch.topk(s, k, dim=1)
            out_s[a : a + _CHUNK] = top.values.numpy()
            out_i[a : a + _CHUNK] = top.indices.numpy()
    return out_s, out_i


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
