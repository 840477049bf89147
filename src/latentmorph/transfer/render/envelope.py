"""Per-frame values -> per-sample envelopes (linear between frame centres)."""

from __future__ import annotations

import numpy as np


def centre_weights(hop: int) -> tuple[np.ndarray, int]:
    """Where the samples sit between two frame centres (``t*hop + hop/2``).

    Returns ``(w, lead)``: ``lead`` samples come before the first centre, then interval
    ``i >= 1`` (from centre ``i - 1`` to centre ``i``) holds the ``hop`` samples
    ``(i - 1)*hop + lead .. i*hop + lead - 1``, at positions ``w [hop]`` float64 (0 on the
    left centre, under 1) between the two; its first ``hop - lead`` samples are in frame
    ``i - 1``, the others in frame ``i``.
    """
    lead = -(-hop // 2)  # the first sample at or after the centre hop / 2
    return (lead - hop / 2.0 + np.arange(hop)) / hop, lead


def frames_to_samples(values: np.ndarray, hop: int, length: int) -> np.ndarray:
    """``values [..., T]`` given at frame centres ``t*hop + hop/2`` -> ``[..., length]`` float32.

    Linear interpolation between centres, held flat before the first and after the last
    (``np.interp``'s values), built interval by interval as ``a + (b - a) w`` with the
    positions ``w`` of :func:`centre_weights` (one broadcast instead of a search per sample).
    """
    values = np.asarray(values, dtype=np.float64)
    T = values.shape[-1]
    if int(hop) != hop or hop < 1 or T == 0:
        centres = np.arange(T) * hop + hop / 2.0
        flat = values.reshape(-1, T)
        x = np.arange(length, dtype=np.float64)
        out = np.stack([np.interp(x, centres, row) for row in flat]) if T else np.zeros((flat.shape[0], length))
        return out.reshape(values.shape[:-1] + (length,)).astype(np.float32)
    hop = int(hop)
    w, lead = centre_weights(hop)
    count = max(1, -(-(length + hop - lead) // hop))  # intervals covering the samples
    i = np.arange(count)
    a = values[..., np.clip(i - 1, 0, T - 1)]  # the value at each interval's left centre
    d = values[..., np.clip(i, 0, T - 1)] - a
    curve = (a[..., None] + d[..., None] * w).astype(np.float32)  # [..., count, hop]
    curve = curve.reshape(values.shape[:-1] + (count * hop,))
    return np.ascontiguousarray(curve[..., hop - lead : hop - lead + length])
