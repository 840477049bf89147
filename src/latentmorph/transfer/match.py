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

_MIN = np.minimum.reduce
_ANY = np.logical_or.reduce

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
    # everything that does not depend on the path, for all positions at once
    s64 = scores.astype(np.float64)
    srt = np.sort(ids, axis=1)
    distinct = ~(srt[:, 1:] == srt[:, :-1]).any(axis=1) if k > 1 else np.ones(P, bool)  # [P]
    next_ext = np.append(np.asarray(next_of), -1)  # next_ext[-1] == -1: a dead state has no continuation
    follows = next_ext[next_ext >= 0]
    injective = follows.size == 0 or int(np.bincount(follows).max()) <= 1  # distinct grains, distinct continuations
    distinct &= injective
    distinct[1:2] &= distinct[0]  # position 1 continues position 0's candidates as they came
    cand = ids[0].copy()
    acc = ((scores[0, 0] - scores[0]) / unit).astype(np.float64)
    # [H, states]: the last H grains of each path, a ring (row ``slot`` is the oldest): the
    # repeat test asks only whether a grain is among them, so their order does not matter
    hist = np.full((max(H, 1), cand.shape[0]), -2, dtype=np.int64)
    slot = 0
    if H:
        hist[-1] = cand
    all_cand, all_back, all_scores = [cand], [np.zeros(cand.shape[0], np.int64)], [s64[0]]
    for p in range(1, P):
        cont = next_ext[cand]
        if _MIN(cont) >= 0:  # ufunc reductions called directly: ~2 us less each than the methods, per position
            cont_scores = np.asarray(score_fn(p, cont), dtype=np.float64)
        else:
            ok = cont >= 0
            cont_scores = np.full(cont.shape[0], -np.inf)
            if ok.any():
                cont_scores[ok] = score_fn(p, cont[ok])
        ids_p = ids[p]
        new = np.concatenate([ids_p, cont])
        new_scores = np.concatenate([s64[p], cont_scores])
        # the emission cost of every candidate (the search's own and the continuations) at once
        emis = (s64[p, 0] - new_scores) / unit
        emis[~np.isfinite(emis)] = np.inf
        # trans[i, j]: from previous state i to new candidate j
        # (the same float64 values as continuity * jump + REPEAT_PENALTY * repeat)
        trans = np.where(new != cont[:, None], continuity, 0.0)
        if H:
            np.add(trans, REPEAT_PENALTY, out=trans, where=_ANY(hist[:, :, None] == new, axis=0))
        trans += acc[:, None]  # the total cost through each previous state
        back = trans.argmin(0)
        acc = _MIN(trans, axis=0)
        acc += emis
        keep = _beam(new, acc, ids_p, cont, beam) if distinct[p] else _beam_general(new, acc, beam)
        new, back, acc = new[keep], back[keep], acc[keep]
        if H:
            hist = hist[:, back]
            hist[slot] = new
            slot = (slot + 1) % H
        acc -= _MIN(acc)
        cand = new
        all_cand.append(new)
        all_back.append(back)
        all_scores.append(new_scores[keep])
    path = np.empty(P, np.int64)
    path_scores = np.empty(P, np.float32)
    j = int(np.argmin(acc))
    for p in range(P - 1, -1, -1):
        path[p] = all_cand[p][j]
        path_scores[p] = all_scores[p][j]
        j = int(all_back[p][j])
    return PositionChoices(path[:, None], np.ones((P, 1), np.float32), path_scores)


def _beam_general(new: np.ndarray, acc: np.ndarray, beam: int) -> np.ndarray:
    """The states kept: each grain once (its cheapest path), then the ``beam`` cheapest
    finite ones, cheapest first (ties: lower index); the cheapest state if none is finite."""
    order = np.argsort(acc, kind="stable")
    _, first = np.unique(new[order], return_index=True)
    keep = order[np.sort(first)][:beam]
    return keep[np.isfinite(acc[keep])] if np.isfinite(acc[keep]).any() else keep[:1]


def _beam(new: np.ndarray, acc: np.ndarray, ids_p: np.ndarray, cont: np.ndarray, beam: int) -> np.ndarray:
    """:func:`_beam_general` when ``new = [ids_p, cont]`` and ``ids_p`` holds no grain twice:
    the continuations are distinct too (they continue distinct grains), so a grain can only
    appear once among the search's candidates and once among the continuations; of such a
    pair the later one in (cost, index) order goes. No sort of the whole set by grain."""
    alive = np.isfinite(acc)
    k = ids_p.shape[0]
    a, b = (ids_p[:, None] == cont[None, :]).nonzero()
    if a.size:
        j = b + k
        alive[np.where(acc[j] >= acc[a], j, a)] = False
    idx = alive.nonzero()[0]
    if idx.size == 0:
        return acc.argsort(kind="stable")[:1]
    return idx[acc[idx].argsort(kind="stable")][:beam]


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
