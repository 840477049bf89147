"""Continuity of grain choices: does the output read through the corpus, or jump every frame?

Works on the choices a matcher made (one corpus grain per output frame) and the grain
table's columns, so it needs no audio. Independent per-frame nearest-neighbour picks
jump almost every frame; a continuity-aware matcher plays runs of consecutive grains.
"""

from __future__ import annotations

import numpy as np

#: Jump length charged for a step into another file, channel or augmentation, in frames.
FOREIGN_JUMP = 1000


def _steps(ids: np.ndarray, file_id: np.ndarray, channel: np.ndarray, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    valid = ids >= 0  # negative ids (e.g. "keep the source") break every run
    safe = np.where(valid, ids, 0)
    f, c, t = np.asarray(file_id)[safe], np.asarray(channel)[safe], np.asarray(frame).astype(np.int64)[safe]
    same = (f[1:] == f[:-1]) & (c[1:] == c[:-1]) & valid[1:] & valid[:-1]
    return same, t[1:] - t[:-1]


def continuity(ids: np.ndarray, file_id: np.ndarray, channel: np.ndarray, frame: np.ndarray) -> dict:
    """How the chosen grains move through the corpus.

    Args:
        ids: chosen grain per output frame ``[T]`` (rows of the grain table; < 0 = no grain).
        file_id, channel, frame: the grain table's columns ``[N]`` (fold augmentation into
            ``file_id`` when it matters).

    Returns:
        ``continue_fraction`` in [0, 1]: share of frame steps that go on to the next frame of
        the same file and channel (1 = one continuous read, ~0 = a jump every frame);
        ``mean_jump`` >= 0: mean ``|step - 1|`` in frames, a step into another file counting
        :data:`FOREIGN_JUMP` (0 = continuous); ``unique_fraction`` in (0, 1]: distinct grains
        per frame (low = the same grains repeat). NaN for fewer than 2 frames.
    """
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    if ids.size < 2:
        nan = float("nan")
        return {"continue_fraction": nan, "mean_jump": nan, "unique_fraction": nan}
    same, step = _steps(ids, file_id, channel, frame)
    jump = np.where(same, np.abs(step - 1), FOREIGN_JUMP)
    return {
        "continue_fraction": float((same & (step == 1)).mean()),
        "mean_jump": float(jump.mean()),
        "unique_fraction": float(np.unique(ids[ids >= 0]).size / ids.size),
    }


def jump_positions(
    ids: np.ndarray, file_id: np.ndarray, channel: np.ndarray, frame: np.ndarray, *, hop: int, codec_sr: int, out_sr: int
) -> np.ndarray:
    """Output sample positions (at ``out_sr``) where the chosen grain does not continue the previous one.

    These are the grain boundaries where a renderer must splice unrelated audio; pass them
    as ``boundaries`` to :func:`latentmorph.evaluate.evaluate` to count clicks there.
    Returns ``[J]`` int64, frame ``t``'s boundary at ``round(t * hop * out_sr / codec_sr)``.
    """
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    if ids.size < 2:
        return np.zeros(0, dtype=np.int64)
    same, step = _steps(ids, file_id, channel, frame)
    frames = np.flatnonzero(~(same & (step == 1))) + 1
    return np.round(frames * hop * out_sr / codec_sr).astype(np.int64)
