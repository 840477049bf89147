"""Exact search's running top-k (seeded threshold, sparse and dense block merges) returns
what a full sort of every score returns, ties included (lower id first)."""

from __future__ import annotations

import numpy as np
import pytest

from latentmorph.corpus import search as S


@pytest.mark.parametrize("db_block", [97, 96])  # blocks of whole 32-row runs (run maxima first) or not
@pytest.mark.parametrize("dense_hits", [64, 0])  # sparse merges, or every block reduced to its own top-k
@pytest.mark.parametrize("metric", ["dot", "cosine", "l2"])
def test_running_topk_equals_a_full_sort(monkeypatch, metric: str, dense_hits: int, db_block: int) -> None:
    rng = np.random.default_rng(11)
    # small integers: many exactly equal scores; rows sorted so the best ones come late
    db = rng.integers(-2, 3, (1500, 6)).astype(np.float32)
    db = db[np.argsort(db.sum(1), kind="stable")]
    db[db.sum(1) == 0] += 0.5  # no all-zero rows (cosine)
    q = rng.integers(-2, 3, (70, 6)).astype(np.float32)
    q[q.sum(1) == 0, 0] = 1.0
    for name, value in (("DB_BLOCK", db_block), ("Q_BLOCK", 16), ("FIRST_ROWS", 20), ("SEED_ROWS", 33),
                        ("DENSE_HITS", dense_hits), ("RUNNING_MIN_ROWS", 0)):
        monkeypatch.setattr(S, name, value)
    index = S.ExactSearch(db, metric)
    scores, ids = index.search(q, 9)
    qm = index._query_matrix(S._normalise(q) if metric == "cosine" else q)  # noqa: SLF001
    full = qm @ index._mat.T  # noqa: SLF001  # the same float32 scores, all at once
    want = np.lexsort((np.broadcast_to(np.arange(db.shape[0]), full.shape), -full), axis=1)[:, :9]
    np.testing.assert_array_equal(ids, want)
    assert (np.diff(scores, axis=1) <= 0).all()


@pytest.mark.parametrize("block_elements", [1 << 25, 97 * 32 * 5])  # one database block, or several (padded runs)
@pytest.mark.parametrize("metric", ["dot", "cosine", "l2"])
def test_dense_blocks_in_a_reused_buffer_equal_a_full_sort(monkeypatch, metric: str, block_elements: int) -> None:
    rng = np.random.default_rng(5)
    db = rng.integers(-2, 3, (3001, 5)).astype(np.float32)  # not a whole number of 32-row runs
    db[db.sum(1) == 0] += 0.5
    q = rng.integers(-2, 3, (83, 5)).astype(np.float32)
    q[q.sum(1) == 0, 0] = 1.0
    monkeypatch.setattr(S, "DENSE_Q_BLOCK", 16)  # 83 queries: five full blocks and a short one
    index = S.ExactSearch(db, metric, block_elements=block_elements)
    scores, ids = index.search(q, 3)
    qm = index._query_matrix(S._normalise(q) if metric == "cosine" else q)  # noqa: SLF001
    full = qm @ index._mat.T  # noqa: SLF001
    want = np.lexsort((np.broadcast_to(np.arange(db.shape[0]), full.shape), -full), axis=1)[:, :3]
    np.testing.assert_array_equal(ids, want)
    assert (np.diff(scores, axis=1) <= 0).all()


def test_read_only_windows_are_prepared_once_and_let_go_with_them() -> None:
    from latentmorph.transfer import search as T

    rng = np.random.default_rng(2)
    win = rng.standard_normal((500, 4)).astype(np.float32)
    valid = rng.random(500) > 0.3
    q = rng.standard_normal((20, 4)).astype(np.float32)
    want = T.topk(q, win, 5, "cosine", valid)  # writeable: nothing kept
    assert not T._LAST  # noqa: SLF001
    win.flags.writeable = valid.flags.writeable = False
    got = T.topk(q, win, 5, "cosine", valid)
    kept = T._LAST[0][3]  # noqa: SLF001
    again = T.topk(q, win, 5, "cosine", valid)
    assert T._LAST[0][3] is kept  # noqa: SLF001
    other = valid.copy()
    other[np.flatnonzero(valid)[0]] = False  # another (writeable) mask: searched afresh, honoured, not kept
    third = T.topk(q, win, 5, "cosine", other)
    assert other[third[1]].all() and T._LAST[0][3] is kept  # noqa: SLF001
    for a in (got, again):
        np.testing.assert_array_equal(a[0], want[0])
        np.testing.assert_array_equal(a[1], want[1])
    del win, valid, other
    import gc

    gc.collect()
    assert not T._LAST  # noqa: SLF001
