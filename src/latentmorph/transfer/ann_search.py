"""Candidate search for transfer: exact, or approximate (FAISS IVF/HNSW) above a stated size.

Transfer searches in its matching space (standardised, windowed corpus latents with a
validity mask), not in the raw index latents, so the FAISS index is built over those
vectors; it is kept in memory for the process and, for an on-disk index, saved in the index
folder (``ann-transfer-<key>-<method>.faiss``, ``<key>`` = hash of the generation, the
matching-space vectors sampled every ``N/1000`` rows, the mask and the metric), so a second
transfer against the same index and options does not rebuild it.

``search="auto"`` (the default) is exact up to :data:`EXACT_LIMIT` usable corpus windows and
IVF above: ``bench/bench_scale.py`` measured, at 10 h of embedded-codec grains (1.55 M), exact
search at 44 s for 500 query frames against 8.3 s for IVF with :data:`IVF_NPROBE` = 128 at
recall@8 1.000, and at 100 h (15.5 M) 80 s against 9.2 s at recall@8 0.973 (nprobe 48 fell to
0.934 there; 2 loaded cores; see ``docs/scale.md``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from latentmorph.corpus.ann import choose_method
from latentmorph.transfer.search import topk

#: ``search="auto"`` is exact up to this many usable corpus windows (~6.5 h of mono grains at 43 frames/s).
EXACT_LIMIT = 1_000_000
#: IVF cells searched per query (of up to 4096); HNSW search breadth. Chosen for recall@8 >= 0.95.
IVF_NPROBE = 128
HNSW_EF = 128

_MEMORY: dict[str, Any] = {}


def choose_search(search: str, n: int) -> str:
    """``"exact"``, ``"ivf"`` or ``"hnsw"`` for ``n`` usable corpus windows (auto: exact up to :data:`EXACT_LIMIT`)."""
    return choose_method(search, n, exact_limit=EXACT_LIMIT, what="search")


def _key(win: np.ndarray, valid: np.ndarray, metric: str, method: str, generation: str | None) -> str:
    h = hashlib.sha256(f"{generation}|{win.shape}|{metric}|{method}|{IVF_NPROBE}|{HNSW_EF}".encode())
    step = max(1, win.shape[0] // 1000)
    h.update(np.ascontiguousarray(win[::step], dtype=np.float32).tobytes())
    h.update(np.packbits(valid).tobytes())
    return h.hexdigest()[:20]


def _ann(rows_win: np.ndarray, metric: str, method: str, key: str, folder: Path | None):  # noqa: ANN202
    from latentmorph.corpus import ann

    if key in _MEMORY:
        return _MEMORY[key]
    cache = folder / f"ann-transfer-{key}-{method}.faiss" if folder is not None else None
    built = None
    if cache is not None and cache.exists():
        try:
            built = ann.AnnIndex.load(cache, metric, method, nprobe=IVF_NPROBE, ef_search=HNSW_EF)
            if len(built) != rows_win.shape[0]:
                built = None
        except Exception:  # noqa: BLE001 - a damaged cache is rebuilt
            built = None
    if built is None:
        built = ann.AnnIndex(rows_win, metric, kind=method, nprobe=IVF_NPROBE, ef_search=HNSW_EF)
        if cache is not None:
            try:
                built.save(cache)
            except OSError:
                pass  # read-only index folder: still works, rebuilt next process
    _MEMORY.clear()  # one corpus at a time: a 100 h FAISS index is gigabytes
    _MEMORY[key] = built
    return built


def candidates(
    queries: np.ndarray,
    win: np.ndarray,
    k: int,
    metric: str,
    valid: np.ndarray,
    *,
    search: str = "auto",
    folder: str | Path | None = None,
    generation: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` corpus windows for each query window, like :func:`latentmorph.transfer.search.topk`.

    Args:
        queries: ``[M, D]`` source windows in the matching space.
        win: ``[N, D]`` corpus windows; ``valid`` ``[N]`` bool marks the usable ones.
        search: ``"auto"``, ``"exact"``, ``"ivf"`` or ``"hnsw"`` (see the module docstring).
        folder, generation: the index folder and its latents generation, to cache the FAISS index on disk.

    Returns:
        ``(scores [M, k] float32, ids [M, k] int64)``, best first, higher = closer; slots an
        approximate search could not fill repeat the best candidate found.
    """
    valid = np.asarray(valid, dtype=bool)
    method = choose_search(search, int(valid.sum()))
    if method == "exact":
        return topk(queries, win, k, metric, valid)
    rows = np.flatnonzero(valid)
    key = _key(win, valid, metric, method, generation)
    index = _ann(np.ascontiguousarray(win[rows], dtype=np.float32), metric, method, key, Path(folder) if folder else None)
    scores, ids = index.search(np.asarray(queries, dtype=np.float32), max(1, int(k)))
    missing = ids < 0
    if missing.any():
        ids = np.where(missing, ids[:, :1], ids)
        scores = np.where(missing, scores[:, :1], scores)
    ids = np.where(ids < 0, 0, ids)  # FAISS l2 scores are negated squared distances, as topk's
    return scores.astype(np.float32), rows[ids]
