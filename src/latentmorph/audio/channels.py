"""Channel layout helpers. Inside the library audio is ``[channels, samples]``."""

from __future__ import annotations

import numpy as np

from latentmorph.errors import AudioError

#: More rows than this in a 2-D array is not a channel count: it is a ``[samples, channels]``
#: array or a damaged file. Same limit as :data:`latentmorph.audio.io.MAX_CHANNELS`.
MAX_CHANNELS = 64


def as_2d(wave: np.ndarray) -> np.ndarray:
    """Return ``wave`` as float32 ``[channels, samples]`` (a 1-D array becomes one channel).

    A 2-D array is always read as ``[channels, samples]``; the layout is never guessed
    from the shape (a short multichannel buffer must not turn into a long mono one). An
    array with more than :data:`MAX_CHANNELS` rows is refused with a hint to transpose it.

    Raises:
        AudioError: not 1-D/2-D, or more than :data:`MAX_CHANNELS` channels.
    """
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim == 1:
        return wave[None, :]
    if wave.ndim != 2:
        raise AudioError(f"audio must be [samples] or [channels, samples], got shape {list(wave.shape)}")
    if wave.shape[0] > MAX_CHANNELS:
        raise AudioError(
            f"audio has shape {list(wave.shape)}: that is {wave.shape[0]} channels (at most {MAX_CHANNELS}); "
            "pass [channels, samples] (transpose a soundfile [samples, channels] array with .T)"
        )
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
