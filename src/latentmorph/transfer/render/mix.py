"""Dry/wet mix and a safe output level."""

from __future__ import annotations

import numpy as np

#: Peak the output never exceeds (about -0.1 dBFS).
PEAK_CEILING = 0.989


def dry_wet(wet: np.ndarray, dry: np.ndarray, amount: float) -> np.ndarray:
    """``amount * wet + (1 - amount) * dry`` on ``[C, S]`` arrays of equal shape.

    Both must already be latency-aligned (the renderers remove codec latency), so the
    mix never combs.
    """
    amount = float(np.clip(amount, 0.0, 1.0))
    if amount >= 1.0:
        return wet
    if amount <= 0.0:
        return dry.astype(np.float32, copy=True)
    return (amount * wet + (1.0 - amount) * dry).astype(np.float32)


def safe_level(wave: np.ndarray, ceiling: float = PEAK_CEILING) -> np.ndarray:
    """Replace NaN/Inf by 0 and scale the whole signal down if its peak passes ``ceiling``."""
    wave = np.nan_to_num(np.asarray(wave, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    peak = float(np.max(np.abs(wave))) if wave.size else 0.0
    if peak > ceiling:
        wave = wave * (ceiling / peak)
    return wave.astype(np.float32)
