"""Matchers: turn search candidates into choices (which grains, with which weights).

Every matcher works on *positions* (source windows, one per ``stride`` frames; with
``window=1, stride=1`` a position is a frame) and returns per-position grain ids and
weights; :func:`latentmorph.transfer.windows.expand` turns them into frame choices.

Modes:
    ``nearest``  the best candidate at every position, independently (the reference).
    ``soft``     blend the top-k with softmax weights ``exp(-cost / temperature)``.
    ``sample``   draw one of the top-k with those probabilities (``seed`` for repeatability).
    ``viterbi``  the cheapest path through the top-k *plus the continuation of every
                 path so far*, paying ``continuity`` each time it jumps instead of playing
                 the corpus on in order, and a large penalty for reusing a grain within
                 ``avoid_repeat`` frames.

Costs are in "spread units": ``(best score - score) / median spread of the top-k``, so
``continuity`` and ``temperature`` mean the same for every metric and codec.

:data:`MATCHERS` is the registry the engine uses: mode name -> :class:`Matcher`, whose
``run(problem, settings)`` has one signature for every mode (a :class:`MatchProblem`
holds what any matcher may need for one channel). A new mode is a function and one
entry; ``TransferSettings`` takes its names from here, and each entry lists the options
it reads so a setting the chosen mode ignores is reported, not silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from latentmorph.transfer.choices import KEEP_SOURCE

if TYPE_CHECKING:  # pragma: no cover
    from latentmorph.transfer.settings import TransferSettings

#: Cost of reusing a recent grain, in spread units (large: only taken when nothing else fits).
REPEAT_PENALTY = 8.0


@dataclass
class PositionChoices:
    """Per-position matcher output (before expansion to frames).

    ids ``[P, k]`` int64, weights ``[P, k]`` float32, scores ``[P]`` float32 (score of the
    main choice, higher = closer).
    """

    ids: np.ndarray
    weights: np.ndarray
    scores: np.ndarray


def spread(scores: np.ndarray) -> float:
    """Typical gap between the best and the worst of the top-k (the cost unit)."""
    if scores.shape[1] < 2:
        return 1.0
    gap = scores[:, 0] - scores[:, -1]
    gap = gap[np.isfinite(gap)]
    value = float(np.median(gap)) if gap.size else 0.0
    return value if value > 1e-9 else 1.0


def _softmax(cost: np.ndarray, temperature: float) -> np.ndarray:
    t = max(float(temperature), 1e-6)
    z = -(cost - cost.min(1, keepdims=True)) / t
    w = np.exp(z)
    return (w / w.sum(1, keepdims=True)).astype(np.float32)


def nearest(scores: np.ndarray, ids: np.ndarray) -> PositionChoices:
    """Top-1 at every position. ``scores``/``ids``: ``[P, k]`` best first."""
    return PositionChoices(ids[:, :1].copy(), np.ones((ids.shape[0], 1), np.float32), scores[:, 0].copy())


def soft(scores: np.ndarray, ids: np.ndarray, temperature: float) -> PositionChoices:
    """Softmax blend of the top-k (low temperature -> nearest, high -> equal mix)."""
    cost = (scores[:, :1] - scores) / spread(scores)
    return PositionChoices(ids.copy(), _softmax(cost, temperature), scores[:, 0].copy())


def sample(scores: np.ndarray, ids: np.ndarray, temperature: float, seed: int | None) -> PositionChoices:
    """Draw one of the top-k per position with softmax probabilities (``seed`` -> repeatable)."""
    cost = (scores[:, :1] - scores) / spread(scores)
    p = _softmax(cost, temperature).astype(np.float64)
    rng = np.random.default_rng(seed)
    u = rng.random((p.shape[0], 1))
    pick = np.minimum((np.cumsum(p, 1) < u).sum(1), p.shape[1] - 1)
    rows = np.arange(p.shape[0])
    return PositionChoices(ids[rows, pick][:, None], np.ones((p.shape[0], 1), np.float32), scores[rows, pick])


def viterbi(
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


def keep_source(choice: PositionChoices, distances: np.ndarray, threshold: float | None) -> np.ndarray:
    """Mark positions whose main distance exceeds ``threshold`` as ``KEEP_SOURCE``; returns the mask."""
    if threshold is None:
        return np.zeros(choice.ids.shape[0], dtype=bool)
    far = distances > float(threshold)
    choice.ids[far] = KEEP_SOURCE
    choice.weights[far] = 0.0
    choice.weights[far, 0] = 1.0
    return far


# ---- the registry -------------------------------------------------------------------
@dataclass(frozen=True)
class MatchProblem:
    """What a matcher gets for one source channel.

    Attributes:
        scores, ids: ``[P, k]`` search candidates per position, best first (``k = 1``
            for a matcher with ``top_k=False``).
        next_of: ``[N]`` the usable grain that continues each grain by one position in
            corpus order (``-1`` at file ends and where the continuation is not usable).
        score_fn: ``score_fn(p, grain_ids [m]) -> scores [m]`` of position ``p`` against
            any corpus windows (for candidates the search did not return).
        channel: the source channel (matchers that draw at random offset their seed by it).
    """

    scores: np.ndarray
    ids: np.ndarray
    next_of: np.ndarray
    score_fn: Callable[[int, np.ndarray], np.ndarray]
    channel: int = 0


@dataclass(frozen=True)
class Matcher:
    """One matching mode.

    Attributes:
        run: ``run(problem, settings) -> PositionChoices``.
        options: the mode-specific settings it reads (of ``k``, ``temperature``, ``seed``,
            ``continuity``, ``avoid_repeat``); the others have no effect with this mode.
        top_k: whether it needs ``settings.k`` candidates per position (else only the best).
        doc: one line for help texts.
    """

    run: Callable[[MatchProblem, "TransferSettings"], PositionChoices]
    options: tuple[str, ...]
    top_k: bool
    doc: str

    def candidates(self, settings: "TransferSettings") -> int:
        """Candidates per position to ask the search for."""
        return int(settings.k) if self.top_k else 1


def _run_nearest(problem: MatchProblem, settings: "TransferSettings") -> PositionChoices:
    return nearest(problem.scores, problem.ids)


def _run_soft(problem: MatchProblem, settings: "TransferSettings") -> PositionChoices:
    return soft(problem.scores, problem.ids, settings.temperature)


def _run_sample(problem: MatchProblem, settings: "TransferSettings") -> PositionChoices:
    seed = None if settings.seed is None else int(settings.seed) + problem.channel
    return sample(problem.scores, problem.ids, settings.temperature, seed)


def _run_viterbi(problem: MatchProblem, settings: "TransferSettings") -> PositionChoices:
    # avoid_repeat counts frames; the search steps in positions of `stride` frames
    repeat = -(-int(settings.avoid_repeat) // int(settings.stride)) if settings.avoid_repeat else 0
    return viterbi(problem.scores, problem.ids, problem.next_of, problem.score_fn,
                   continuity=float(settings.continuity), repeat_positions=repeat)


#: Mode name -> matcher, in the order help texts list them.
MATCHERS: dict[str, Matcher] = {
    "nearest": Matcher(_run_nearest, (), False, "the best grain at every frame, independently (the reference)"),
    "soft": Matcher(_run_soft, ("k", "temperature"), True, "blend the top-k with softmax weights"),
    "sample": Matcher(_run_sample, ("k", "temperature", "seed"), True, "draw one of the top-k (seed: repeatable)"),
    "viterbi": Matcher(_run_viterbi, ("k", "continuity", "avoid_repeat"), True,
                       "cheapest path that prefers playing on through the corpus (the default)"),
}

#: The mode names (kept for callers of the old tuple).
MODES = tuple(MATCHERS)
