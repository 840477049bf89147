"""Matchers, windows and search on plain arrays (known answers, no audio)."""

from __future__ import annotations

import numpy as np

from latentmorph.transfer import match
from latentmorph.transfer.choices import KEEP_SOURCE
from latentmorph.transfer.search import score_to_distance, topk
from latentmorph.transfer.windows import chain, corpus_windows, expand, source_windows, successors


def _exact(q: np.ndarray, db: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Brute-force cosine top-k, written independently of transfer.search."""
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    dn = db / np.linalg.norm(db, axis=1, keepdims=True)
    s = qn @ dn.T
    ids = np.argsort(-s, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(s, ids, 1), ids


def test_topk_matches_brute_force_for_every_metric() -> None:
    rng = np.random.default_rng(0)
    db, q = rng.normal(size=(300, 12)), rng.normal(size=(40, 12))
    s, ids = topk(q, db, 5, "cosine")
    s_ref, ids_ref = _exact(q, db, 5)
    np.testing.assert_array_equal(ids, ids_ref)
    np.testing.assert_allclose(s, s_ref, atol=1e-5)
    s, ids = topk(q, db, 3, "l2")
    d = ((q[:, None] - db[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(ids, np.argsort(d, axis=1)[:, :3])
    np.testing.assert_allclose(-s, np.sort(d, axis=1)[:, :3], rtol=1e-4)
    s, ids = topk(q, db, 2, "dot")
    np.testing.assert_array_equal(ids, np.argsort(-(q @ db.T), axis=1)[:, :2])
    # masked rows are never returned
    valid = np.ones(300, bool)
    valid[ids_ref[:, 0]] = False
    _, ids = topk(q, db, 1, "cosine", valid)
    assert valid[ids[:, 0]].all()


def test_distances_have_known_values() -> None:
    np.testing.assert_allclose(score_to_distance(np.array([1.0, 0.0, -1.0]), "cosine"), [0, 1, 2])
    np.testing.assert_allclose(score_to_distance(np.array([-16.0]), "l2", dims=4), [2.0])


def test_successors_follow_file_order_whatever_the_row_order() -> None:
    file_id = np.array([1, 0, 0, 1, 0])
    frame = np.array([0, 2, 0, 1, 1])
    zeros = np.zeros(5, int)
    succ = successors(file_id, zeros, zeros, frame)
    # rows: (f1,t0)->row3 (f1,t1); (f0,t0)=row2 -> row4 (f0,t1) -> row1 (f0,t2)
    np.testing.assert_array_equal(succ, [3, -1, 4, -1, 1])
    np.testing.assert_array_equal(chain(succ, 3)[2], [2, 4, 1])


def test_windows_concatenate_frames_and_expand_back() -> None:
    feats = np.arange(20, dtype=np.float32).reshape(10, 2)
    succ = np.r_[np.arange(1, 10), -1]
    win, valid = corpus_windows(feats, succ, 3)
    np.testing.assert_array_equal(win[2], [4, 5, 6, 7, 8, 9])
    assert not valid[0] and valid[1] and not valid[8]  # file edges are not matched
    q, starts = source_windows(feats[:5], 3, 2)
    np.testing.assert_array_equal(starts, [0, 2, 4])
    np.testing.assert_array_equal(q[2], [8, 9, 8, 9, 8, 9])  # padded with the last frame
    frames = expand(np.array([[1], [6], [KEEP_SOURCE]]), starts, 6, succ)[:, 0]
    np.testing.assert_array_equal(frames, [1, 2, 6, 7, KEEP_SOURCE, KEEP_SOURCE])


def test_nearest_soft_and_sample() -> None:
    scores = np.array([[0.9, 0.5, 0.1], [0.8, 0.79, 0.0]], np.float32)
    ids = np.array([[4, 7, 9], [2, 3, 5]])
    assert match.nearest(scores, ids).ids[:, 0].tolist() == [4, 2]
    w = match.soft(scores, ids, temperature=0.5).weights
    np.testing.assert_allclose(w.sum(1), 1, atol=1e-6)
    assert w[1, 0] > w[1, 2] and w[0, 0] > 0.5  # closer candidates weigh more
    a = match.sample(np.tile(scores, (50, 1)), np.tile(ids, (50, 1)), 1.0, seed=3).ids
    b = match.sample(np.tile(scores, (50, 1)), np.tile(ids, (50, 1)), 1.0, seed=3).ids
    c = match.sample(np.tile(scores, (50, 1)), np.tile(ids, (50, 1)), 1.0, seed=4).ids
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def _line_corpus(n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """One file of ``n`` grains with successor links."""
    return np.arange(n), np.r_[np.arange(1, n), -1]


def test_viterbi_prefers_playing_on_when_continuity_is_high() -> None:
    # Per position the search ranks a random grain first, but the continuation of the
    # previous choice is only slightly worse: with continuity the path plays on.
    _, succ = _line_corpus()
    P = 10
    rng = np.random.default_rng(1)
    ids = np.stack([[int(rng.integers(20, 40)), 5 + p] for p in range(P)])
    scores = np.tile(np.array([1.0, 0.9], np.float32), (P, 1))

    def score_fn(p: int, g: np.ndarray) -> np.ndarray:
        return np.where(g == 5 + p, 0.9, 0.0)

    free = match.viterbi(scores, ids, succ, score_fn, continuity=0.0).ids[:, 0]
    np.testing.assert_array_equal(free, ids[:, 0])
    glued = match.viterbi(scores, ids, succ, score_fn, continuity=5.0).ids[:, 0]
    np.testing.assert_array_equal(glued, 5 + np.arange(P))


def test_viterbi_avoids_repeating_a_grain() -> None:
    # The same grain is best everywhere; without repeat avoidance it is held throughout.
    P = 12
    ids = np.tile(np.array([3, 10, 20, 30, 31, 32, 33, 34]), (P, 1))
    scores = np.tile(np.linspace(1.0, 0.8, 8).astype(np.float32), (P, 1))
    succ = -np.ones(40, dtype=np.int64)

    def score_fn(p: int, g: np.ndarray) -> np.ndarray:
        return np.zeros(len(g))

    held = match.viterbi(scores, ids, succ, score_fn, continuity=0.0).ids[:, 0]
    assert (held == 3).all()
    varied = match.viterbi(scores, ids, succ, score_fn, continuity=0.0, repeat_positions=4).ids[:, 0]
    for p in range(P):
        assert varied[p] not in varied[max(0, p - 4) : p]


def test_keep_source_threshold_marks_far_positions() -> None:
    pc = match.nearest(np.array([[0.9], [0.2]], np.float32), np.array([[1], [2]]))
    far = match.keep_source(pc, score_to_distance(pc.scores, "cosine"), 0.5)
    assert far.tolist() == [False, True]
    assert pc.ids[:, 0].tolist() == [1, KEEP_SOURCE]
