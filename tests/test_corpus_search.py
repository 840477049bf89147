"""Exact search: known answers against brute-force numpy, all metrics, blocking, bf16."""

from __future__ import annotations

import numpy as np
import pytest

from latentmorph.corpus.search import ExactSearch, search


def brute(q: np.ndarray, db: np.ndarray, metric: str) -> np.ndarray:
    q64, db64 = q.astype(np.float64), db.astype(np.float64)
    if metric == "cosine":
        q64 = q64 / np.linalg.norm(q64, axis=1, keepdims=True)
        db64 = db64 / np.linalg.norm(db64, axis=1, keepdims=True)
        return q64 @ db64.T
    if metric == "dot":
        return q64 @ db64.T
    return -((q64[:, None, :] - db64[None]) ** 2).sum(-1)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    db = rng.standard_normal((3000, 16)).astype(np.float32) * rng.uniform(0.5, 3, (3000, 1)).astype(np.float32)
    q = rng.standard_normal((200, 16)).astype(np.float32)
    return q, db


@pytest.mark.parametrize("metric", ["cosine", "l2", "dot"])
def test_matches_brute_force(data, metric):
    q, db = data
    ref = brute(q, db, metric)
    scores, ids = search(q, db, k=5, metric=metric)
    assert scores.shape == (200, 5) and scores.dtype == np.float32 and ids.dtype == np.int64
    np.testing.assert_array_equal(ids, np.argsort(-ref, axis=1, kind="stable")[:, :5])
    np.testing.assert_allclose(scores, np.take_along_axis(ref, ids, 1), rtol=1e-4, atol=1e-3)
    assert (np.diff(scores, axis=1) <= 1e-6).all(), "scores must be sorted best first"


@pytest.mark.parametrize("metric", ["cosine", "l2", "dot"])
def test_blocked_search_equals_single_block(data, metric):
    q, db = data
    whole = ExactSearch(db, metric).search(q, 7)
    # tiny blocks: many query blocks and database blocks, merged top-k
    small = ExactSearch(db, metric, block_elements=37 * 11).search(q, 7)
    np.testing.assert_array_equal(whole[1], small[1])
    np.testing.assert_allclose(whole[0], small[0], rtol=1e-5, atol=1e-5)


def test_l2_known_answer():
    db = np.array([[0, 0], [3, 4], [1, 0]], dtype=np.float32)
    scores, ids = search(np.array([[3, 3]], dtype=np.float32), db, k=3, metric="l2")
    np.testing.assert_array_equal(ids, [[1, 2, 0]])
    np.testing.assert_allclose(scores, [[-1.0, -13.0, -18.0]], atol=1e-5)


def test_bf16_reranked_scores_are_exact(data):
    q, db = data
    s32, i32 = search(q, db, k=4, metric="l2")
    s16, i16 = search(q, db, k=4, metric="l2", precision="bf16")
    # re-ranking makes the returned scores exact fp32 values for the returned ids
    np.testing.assert_allclose(s16, np.take_along_axis(brute(q, db, "l2"), i16, 1), rtol=1e-4, atol=1e-3)
    assert (i16[:, 0] == i32[:, 0]).mean() >= 0.99


def test_k_is_clipped_and_bad_input_refused(data):
    q, db = data
    s, i = search(q[:3], db[:4], k=10, metric="cosine")
    assert s.shape == (3, 4) and sorted(i[0]) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="metric"):
        search(q, db, 1, metric="manhattan")
    with pytest.raises(ValueError, match="dim"):
        search(q[:, :8], db, 1)


def test_two_pass_topk_equals_torch_topk():
    import torch

    from latentmorph.corpus.search import topk_rows

    scores = torch.from_numpy(np.random.default_rng(3).standard_normal((40, 32 * 8 * 8 * 3)).astype(np.float32))
    # plant the best values inside one run of 32 columns, the hardest case for run maxima
    scores[:, 64:72] += 10.0
    s, i = topk_rows(scores, 8)
    ref_s, ref_i = scores.topk(8, dim=1)
    np.testing.assert_array_equal(i.numpy(), ref_i.numpy())
    np.testing.assert_array_equal(s.numpy(), ref_s.numpy())
    assert set(i[0].tolist()) == set(range(64, 72))


def test_ann_ivf_recall_and_cache(tmp_path, data_dir):
    """IVF over a real index: same convention as exact search, high recall, cached on disk."""
    pytest.importorskip("faiss")
    from latentmorph.corpus import build_index, load_index

    idx = build_index([data_dir], tmp_path / "all.lmindex", progress=False).index
    q = idx.latents[::5] + 0.01
    _, exact = idx.search(q, k=4, metric="l2")
    scores, approx = idx.search(q, k=4, metric="l2", method="ivf")
    assert approx.shape == exact.shape and (np.diff(scores, axis=1) <= 1e-5).all()
    assert np.mean(approx[:, 0] == exact[:, 0]) > 0.9
    cached = list(idx.path.glob("ann-*-l2-ivf.faiss"))
    assert len(cached) == 1
    again = load_index(idx.path).search(q, k=4, metric="l2", method="ivf")[1]
    np.testing.assert_array_equal(again, approx)


@pytest.mark.parametrize("metric", ["cosine", "l2", "dot"])
def test_numpy_and_torch_paths_agree(data, metric, monkeypatch):
    """Small searches run in numpy (no torch import), large ones in torch: same answer."""
    import latentmorph.corpus.search as search_mod

    q, db = data
    s_np, i_np = ExactSearch(db, metric).search(q, 6)
    monkeypatch.setattr(search_mod, "NUMPY_MAX_SCORES", 0)
    s_t, i_t = ExactSearch(db, metric).search(q, 6)
    np.testing.assert_array_equal(i_np, i_t)
    np.testing.assert_allclose(s_np, s_t, rtol=1e-5, atol=1e-4)
