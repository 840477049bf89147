"""High-quality sample-rate conversion (soxr)."""

from __future__ import annotations

import numpy as np
import soxr


def resample(wave: np.ndarray, sr_in: int, sr_out: int, quality: str = "HQ") -> np.ndarray:
    """Resample ``wave`` from ``sr_in`` to ``sr_out`` Hz.

    Args:
        wave: ``[channels, samples]`` or ``[samples]`` float array.
        sr_in, sr_out: sample rates in Hz.
        quality: soxr quality, ``"HQ"`` (default) or ``"VHQ"``/``"MQ"``/``"LQ"``/``"QQ"``.

    Returns:
        float32 array with the same layout as ``wave``.
    """
    wave = np.asarray(wave, dtype=np.float32)
    if int(sr_in) == int(sr_out) or wave.shape[-1] == 0:
        return wave
    if wave.ndim == 1:
        return soxr.resample(wave, sr_in, sr_out, quality=quality).astype(np.float32, copy=False)
    # soxr wants [samples, channels]
    out = soxr.resample(np.ascontiguousarray(wave.T), sr_in, sr_out, quality=quality)
    if out.ndim == 1:
        out = out[:, None]
    return np.ascontiguousarray(out.T, dtype=np.float32)
