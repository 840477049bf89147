"""Channel layout helpers. Inside the library audio is ``[channels, samples]``."""

from __future__ import annotations

import numpy as np


def as_2d(wave: np.ndarray) -> np.ndarray:
    """Return ``wave`` as float32 ``[channels, samples]`` (a 1-D array becomes one channel).

    2-D arrays are taken as ``[channels, samples]`` when the first axis is the shorter
    one (as librosa does); ``[samples, channels]`` arrays from soundfile are transposed.
    """
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim == 1:
        return wave[None, :]
    if wave.ndim != 2:
        raise ValueError(f"audio must be 1-D or 2-D, got shape {wave.shape}")
    if wave.shape[0] > wave.shape[1]:
        wave = wave.T
    return np.ascontiguousarray(wave)


def to_mono(wave: np.ndarray) -> np.ndarray:
    """Average channels: ``[channels, samples]`` -> ``[1, samples]``."""
    wave = as_2d(wave)
    return wave.mean(axis=0, keepdims=True)


def match_channels(wave: np.ndarray, channels: int) -> np.ndarray:
    """Give ``wave`` exactly ``channels`` channels (mono is duplicated, extra channels averaged)."""
    wave = as_2d(wave)
    if wave.shape[0] == channels:
        return wave
    if wave.shape[0] == 1:
        return np.repeat(wave, channels, axis=0)
    if channels == 1:
        return to_mono(wave)
    mono = to_mono(wave)
    return np.repeat(mono, channels, axis=0)
