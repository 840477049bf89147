"""Pad-or-crop: the one way a signal is brought to an exact length."""

from __future__ import annotations

import numpy as np


def fit_length(x: np.ndarray, n: int) -> np.ndarray:
    """Cut or zero-pad the last axis of ``x`` (``[samples]`` or ``[..., samples]``) to ``n`` samples.

    A longer input is cut (a view, no copy); a shorter one gets zeros at the end.
    """
    n = max(0, int(n))
    if x.shape[-1] >= n:
        return x[..., :n]
    return np.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, n - x.shape[-1])])
