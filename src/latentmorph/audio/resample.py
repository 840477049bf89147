"""High-quality sample-rate conversion (soxr)."""

from __future__ import annotations

import math

import numpy as np
import soxr

from latentmorph.errors import AudioError

#: Largest conversion ratio either way. soxr with a NaN/inf or absurd ratio never returns
#: (it spins in C, holding the GIL, so Ctrl-C is not seen): every call goes through
#: :func:`check_rates` first.
MAX_RATIO = 1024.0


def check_rates(sr_in: float, sr_out: float) -> None:
    """Raise :class:`AudioError` unless both rates are finite, above 0, and within :data:`MAX_RATIO` of each other."""
    for name, value in (("input", sr_in), ("output", sr_out)):
        try:
            ok = math.isfinite(float(value)) and float(value) > 0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise AudioError(f"resample: {name} sample rate must be a finite number above 0, got {value!r}")
    ratio = float(sr_out) / float(sr_in)
    if not 1.0 / MAX_RATIO <= ratio <= MAX_RATIO:
        raise AudioError(f"resample: {sr_in} Hz -> {sr_out} Hz is a ratio of {ratio:g}, outside 1/{MAX_RATIO:g}..{MAX_RATIO:g}")


def resample(wave: np.ndarray, sr_in: float, sr_out: float, quality: str = "HQ") -> np.ndarray:
    """Resample ``wave`` from ``sr_in`` to ``sr_out`` Hz.

    Args:
        wave: ``[channels, samples]`` or ``[samples]`` float array.
        sr_in, sr_out: sample rates in Hz (finite, above 0; non-integer rates are fine,
            e.g. for varispeed).
        quality: soxr quality, ``"HQ"`` (default) or ``"VHQ"``/``"MQ"``/``"LQ"``/``"QQ"``.

    Returns:
        float32 array with the same layout as ``wave``.

    Raises:
        AudioError: a NaN/inf/non-positive rate or a ratio beyond :data:`MAX_RATIO`.
    """
    wave = np.asarray(wave, dtype=np.float32)
    check_rates(sr_in, sr_out)
    if float(sr_in) == float(sr_out) or wave.shape[-1] == 0:
        return wave
    if wave.ndim == 1:
        return soxr.resample(wave, sr_in, sr_out, quality=quality).astype(np.float32, copy=False)
    # soxr wants [samples, channels]
    out = soxr.resample(np.ascontiguousarray(wave.T), sr_in, sr_out, quality=quality)
    if out.ndim == 1:
        out = out[:, None]
    return np.ascontiguousarray(out.T, dtype=np.float32)


def band_limit(wave: np.ndarray, sr: float, to_sr: float) -> np.ndarray:
    """``wave`` at ``sr`` with only the band that survives a later resampling to ``to_sr``
    (below ``to_sr / 2``): down to ``to_sr`` and back, same length and layout, float32.

    Unchanged (a float32 view) when ``to_sr >= sr``: nothing would be lost.
    """
    wave = np.asarray(wave, dtype=np.float32)
    if float(to_sr) >= float(sr) or wave.shape[-1] == 0:
        return wave
    from latentmorph.audio.length import fit_length

    return fit_length(resample(resample(wave, sr, to_sr), to_sr, sr), wave.shape[-1])
