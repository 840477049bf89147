"""The fast Viterbi matcher picks exactly what the straightforward one (kept here as the
reference: one unique-sort of the candidates per position) picks, on random problems with
ties, repeated candidates (an approximate search's filled slots), file ends and
non-injective continuations."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pytest

from latentmorph.transfer.engine import _score_fn
from latentmorph.transfer.match import REPEAT_PENALTY, PositionChoices, spread, viterbi
from latentmorph.transfer.search import topk


def reference_viterbi(
    scores: np.ndarray,
    ids: np.ndarray,
    next_of: np.ndarray,
    score_fn: Callable[[int, np.ndarray], np.ndarray],
    *,
    continuity: float,
    repeat_positions: int = 0,
) -> PositionChoices:
    """Cheapest path with continuity and repetition costs.

    Args:
        scores, ids: ``[P, k]`` search candidates per position, best first.
        next_of: ``[N]`` the grain that continues each grain by one position in corpus
            order (``-1`` at file ends).
        score_fn: ``score_fn(p, grain_ids [m]) -> scores [m]`` for position ``p`` (used for
            continuation candidates that the search did not return).
        continuity: cost of a jump (any step that is not "play on in order").
        repeat_positions: forbid (softly) reusing a grain used in the last this-many positions.

    Returns:
        One grain per position on the cheapest path.
    """
    P, k = ids.shape
    unit = spread(scores)
    H = max(0, int(repeat_positions))
    beam = 2 * k
    cand = ids[0].copy()
    emis = (scores[0, 0] - scores[0]) / unit
    acc = emis.astype(np.float64)
    cand_scores = scores[0].astype(np.float64)
    hist = np.full((cand.shape[0], max(H, 1)), -2, dtype=np.int64)
    if H:
        hist[:, -1] = cand
    all_cand, all_back, all_scores = [cand], [np.zeros(cand.shape[0], np.int64)], [cand_scores]
    for p in range(1, P):
        cont = np.where(cand >= 0, next_of[np.maximum(cand, 0)], -1)
        cont_ok = cont >= 0
        cont_scores = np.full(cont.shape[0], -np.inf)
        if cont_ok.any():
            cont_scores[cont_ok] = score_fn(p, cont[cont_ok])
        new = np.concatenate([ids[p], cont])
        new_scores = np.concatenate([scores[p].astype(np.float64), cont_scores])
        emis = (scores[p, 0] - new_scores) / unit
        emis[~np.isfinite(emis)] = np.inf
        # trans[i, j]: from previous state i to new candidate j
        jump = new[None, :] != cont[:, None]
        trans = continuity * jump
        if H:
            trans = trans + REPEAT_PENALTY * (hist[:, :, None] == new[None, None, :]).any(1)
        total = acc[:, None] + trans
        back = np.argmin(total, axis=0)
        acc = total[back, np.arange(new.shape[0])] + emis
        if H:
            hist = np.concatenate([hist[back][:, 1:], new[:, None]], axis=1)
        # beam: keep each grain once (its cheapest path), then the `beam` cheapest states
        order = np.argsort(acc, kind="stable")
        _, first = np.unique(new[order], return_index=True)
        keep = order[np.sort(first)][:beam]
        keep = keep[np.isfinite(acc[keep])] if np.isfinite(acc[keep]).any() else keep[:1]
        new, new_scores, back, acc = new[keep], new_scores[keep], back[keep], acc[keep]
        if H:
            hist = hist[keep]
        acc = acc - acc.min()
        cand = new
        all_cand.append(new)
        all_back.append(back)
        all_scores.append(new_scores)
    path = np.empty(P, np.int64)
    path_scores = np.empty(P, np.float32)
    j = int(np.argmin(acc))
    for p in range(P - 1, -1, -1):
        path[p] = all_cand[p][j]
        path_scores[p] = all_scores[p][j]
        j = int(all_back[p][j])
    return PositionChoices(path[:, None], np.ones((P, 1), np.float32), path_scores)


@pytest.mark.parametrize("metric", ["cosine", "l2", "dot"])
def test_viterbi_equals_the_reference(metric: str) -> None:
    rng = np.random.default_rng(7)
    for trial in range(24):
        n, p, k = int(rng.integers(5, 200)), int(rng.integers(1, 80)), int(rng.integers(1, 9))
        w = rng.normal(size=(n, 4)).astype(np.float32)
        if trial % 3 == 0:
            w = np.round(w)  # equal scores
        q = rng.normal(size=(p, 4)).astype(np.float32)
        nxt = np.arange(1, n + 1)
        nxt[rng.random(n) < 0.2] = -1
        nxt[-1] = -1
        if trial % 5 == 0:
            nxt = rng.integers(-1, n, n)  # two grains may share a continuation
        scores, ids = topk(q, w, k, metric)
        if trial % 4 == 0 and k > 2:
            ids[:, -1], scores[:, -1] = ids[:, 0], scores[:, 0]  # a repeated slot
        f = _score_fn(q, w, metric, np.linalg.norm(w, axis=1))
        for h in (0, 2, 8):
            c = float(rng.uniform(0, 4))
            want = reference_viterbi(scores, ids, nxt, f, continuity=c, repeat_positions=h)
            got = viterbi(scores, ids, nxt, f, continuity=c, repeat_positions=h)
            np.testing.assert_array_equal(got.ids, want.ids)
            np.testing.assert_array_equal(got.scores, want.scores)
