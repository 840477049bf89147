"""Per-frame values -> per-sample envelopes (linear between frame centres)."""

from __future__ import annotations

import numpy as np


def frames_to_samples(values: np.ndarray, hop: int, length: int) -> np.ndarray:
    """``values [..., T]`` given at frame centres ``t*hop + hop/2`` -> ``[..., length]``.

    Linear interpolation between centres, held flat before the first and after the last.
    """
    values = np.asarray(values, dtype=np.float64)
    T = values.shape[-1]
    centres = np.arange(T) * hop + hop / 2.0
    x = np.arange(length, dtype=np.float64)
    if values.ndim == 1:
        return np.interp(x, centres, values).astype(np.float32)
    flat = values.reshape(-1, T)
    out = np.stack([np.interp(x, centres, row) for row in flat])
    return out.reshape(values.shape[:-1] + (length,)).astype(np.float32)
