"""Loudness envelopes: frame RMS in dB, shared by the renderers and the metrics."""

from __future__ import annotations

import numpy as np


def rms_envelope(wave: np.ndarray, frame: int, hop: int | None = None) -> np.ndarray:
    """Frame-wise RMS of a mono or multi-channel signal.

    Args:
        wave: ``[channels, samples]`` or ``[samples]``; channels are averaged in power.
        frame: window length in samples; ``hop`` defaults to ``frame``.

    Returns:
        ``[frames]`` linear RMS, frame ``t`` covering ``[t*hop, t*hop+frame)`` (zero-padded).
    """
    x = np.asarray(wave)
    if x.ndim == 1:
        x = x[None]
    hop = hop or frame
    if frame == hop:
        return _block_rms(x, frame)
    x = x.astype(np.float64, copy=False)
    n = x.shape[-1]
    frames = max(1, int(np.ceil(n / hop)))
    pad = (frames - 1) * hop + frame - n
    power = np.pad((x**2).mean(axis=0), (0, max(0, pad)))
    csum = np.concatenate([[0.0], np.cumsum(power)])
    starts = np.arange(frames) * hop
    sums = csum[starts + frame] - csum[starts]
    return np.sqrt(np.maximum(sums / frame, 0.0)).astype(np.float32)


def _block_rms(x: np.ndarray, frame: int) -> np.ndarray:
    """:func:`rms_envelope` of ``x [C, S]`` when frames do not overlap (``hop == frame``): one
    float64 sum of squares per frame, without the float64 copy and running sum of the
    overlapping case (~10x faster on a minute of audio)."""
    C, n = x.shape
    full = n // frame
    sums = np.zeros(max(1, -(-n // frame)))
    if full:
        blocks = x[:, : full * frame].reshape(C, full, frame)
        sums[:full] = np.einsum("cfs,cfs->f", blocks, blocks, dtype=np.float64)
    if n > full * frame:
        rest = x[:, full * frame :]
        sums[full] = np.einsum("cs,cs->", rest, rest, dtype=np.float64)
    return np.sqrt(np.maximum(sums / (C * frame), 0.0)).astype(np.float32)


def to_db(x: np.ndarray, floor_db: float = -100.0) -> np.ndarray:
    """Linear amplitude -> dB, floored at ``floor_db``."""
    return np.maximum(20.0 * np.log10(np.maximum(np.asarray(x, dtype=np.float64), 1e-12)), floor_db).astype(np.float32)
