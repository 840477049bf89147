"""Multi-frame grains: compare windows of N consecutive frames instead of single frames.

A window of ``N`` frames starting at corpus grain ``g`` is the concatenation of the
features of ``g, succ(g), succ(succ(g)), ...`` where ``succ`` is the next frame of the
same file, channel and augmentation. Windows that would run off the end of a file are
invalid. Source windows start every ``stride`` frames; a chosen window start ``c`` at
source position ``p`` gives frame ``p*stride + j`` the grain ``succ^j(c)``, later
windows taking over from earlier ones.
"""

from __future__ import annotations

import numpy as np

from latentmorph.transfer.choices import KEEP_SOURCE


def successors(file_id: np.ndarray, channel: np.ndarray, aug: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """``[N]`` int64: the grain that follows each grain in its file (``-1`` at file ends)."""
    n = len(frame)
    order = np.lexsort((frame, channel, aug, file_id))
    succ = np.full(n, -1, dtype=np.int64)
    if n > 1:
        a, b = order[:-1], order[1:]
        same = (file_id[a] == file_id[b]) & (channel[a] == channel[b]) & (aug[a] == aug[b]) & (frame[b] == frame[a] + 1)
        succ[a[same]] = b[same]
    return succ


def chain(succ: np.ndarray, steps: int) -> np.ndarray:
    """``[N, steps]``: grain ``g`` followed by ``steps - 1`` successors (``-1`` past file ends)."""
    n = succ.shape[0]
    out = np.full((n, steps), -1, dtype=np.int64)
    cur = np.arange(n, dtype=np.int64)
    for j in range(steps):
        out[:, j] = cur
        cur = np.where(cur >= 0, succ[np.maximum(cur, 0)], -1)
    return out


def corpus_windows(features: np.ndarray, succ: np.ndarray, window: int, *,
                   skip_edges: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Corpus window features.

    Args:
        features: ``[N, D]`` per-grain features.
        succ: ``[N]`` successor ids.
        window: frames per window.
        skip_edges: also mark file-edge frames invalid (see below).

    Returns:
        ``(windows [N, window*D], valid [N] bool)``: row ``g`` is the window starting at
        ``g``; ``valid`` is False for windows that run off a file and for file-edge frames.
    """
    # A grain is usable when it has a predecessor and the window plus two more frames
    # fit in its file: edge frames are encoded from zero padding and their audio would
    # run off the file's end inside the crossfade (a click).
    has_pred = np.zeros(features.shape[0], dtype=bool)
    has_pred[succ[succ >= 0]] = True
    ids = chain(succ, window + 2)
    fits = np.asarray((ids[:, :window] >= 0).all(1))
    valid = np.asarray((ids >= 0).all(1) & has_pred) if skip_edges else fits
    if not valid.any():  # tiny corpus: settle for frames whose window fits
        valid = fits
    if window <= 1:
        return features, valid
    ids = ids[:, :window]
    stacked = features[np.maximum(ids, 0)].reshape(features.shape[0], -1)
    return np.ascontiguousarray(stacked), valid


def source_windows(features: np.ndarray, window: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Source window features ``[P, window*D]`` and their start frames ``[P]``.

    The last frames are repeated to fill windows that run past the end.
    """
    T = features.shape[0]
    stride = max(1, int(stride))
    starts = np.arange(0, T, stride, dtype=np.int64)
    if window <= 1:
        return features[starts], starts
    idx = np.minimum(starts[:, None] + np.arange(window)[None], T - 1)
    return np.ascontiguousarray(features[idx].reshape(len(starts), -1)), starts


def expand(window_ids: np.ndarray, starts: np.ndarray, frames: int, succ: np.ndarray) -> np.ndarray:
    """Window choices -> frame choices.

    Args:
        window_ids: ``[P, k]`` chosen corpus window starts per source window.
        starts: ``[P]`` source frame where each window starts.
        frames: number of source frames ``T``.
        succ: ``[N]`` successor ids.

    Returns:
        ``[T, k]`` grain ids: frame ``t`` plays ``succ^(t - s)(c)`` for the latest window
        start ``s <= t``; past a file's end the last grain of the file is held.
    """
    which = np.searchsorted(starts, np.arange(frames), side="right") - 1
    offset = np.arange(frames) - starts[which]
    cur = window_ids[which].copy()
    for step in range(int(offset.max()) if frames else 0):
        move = (offset > step)[:, None] & (cur >= 0)
        nxt = np.where(cur >= 0, succ[np.maximum(cur, 0)], -1)
        cur = np.where(move & (nxt >= 0), nxt, cur)
    cur[window_ids[which] == KEEP_SOURCE] = KEEP_SOURCE
    return cur
