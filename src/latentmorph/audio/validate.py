"""Checks that turn unusable audio into one-line :class:`AudioError` messages."""

from __future__ import annotations

import warnings

import numpy as np

from latentmorph.errors import AudioError
from latentmorph.numbers import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE

#: Default limit on input length, in seconds (override per call or with
#: the ``LATENTMORPH_MAX_SECONDS`` environment variable).
DEFAULT_MAX_SECONDS = 3600.0

#: Peak level under which a signal counts as silent (about -90 dBFS).
SILENCE_PEAK = 3e-5


class SilentAudioWarning(UserWarning):
    """The audio is (nearly) silent; results will be silent too."""


def check_wave(wave: np.ndarray, sr: int, name: str = "audio", *, warn_silence: bool = True) -> np.ndarray:
    """Validate a ``[channels, samples]`` float array and return it.

    Raises :class:`AudioError` for zero-length audio and for NaN/Inf samples; warns
    (:class:`SilentAudioWarning`) when the signal is silent.
    """
    try:
        rate_ok = sr is not None and not isinstance(sr, bool) and float(sr).is_integer() and MIN_SAMPLE_RATE <= int(sr) <= MAX_SAMPLE_RATE
    except (TypeError, ValueError, OverflowError):
        rate_ok = False
    if not rate_ok:
        raise AudioError(f"{name}: invalid sample rate {sr!r} (use an integer from {MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} Hz)")
    if wave.size == 0 or wave.shape[-1] == 0:
        raise AudioError(f"{name}: contains no audio (zero samples)")
    finite = np.isfinite(wave)
    if not finite.all():
        bad = int(wave.size - finite.sum())
        raise AudioError(f"{name}: contains {bad} NaN/Inf samples; the file is damaged")
    if warn_silence and float(np.max(np.abs(wave))) < SILENCE_PEAK:
        warnings.warn(f"{name}: audio is silent", SilentAudioWarning, stacklevel=3)
    return wave


def is_silent(wave: np.ndarray) -> bool:
    """True when the peak level is below :data:`SILENCE_PEAK`."""
    return wave.size == 0 or float(np.max(np.abs(wave))) < SILENCE_PEAK
