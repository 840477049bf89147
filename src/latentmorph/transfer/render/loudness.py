"""Loudness following: the output takes the source's frame-by-frame loudness envelope."""

from __future__ import annotations

import numpy as np

from latentmorph.audio import fit_length, rms_envelope
from latentmorph.audio.validate import SILENCE_PEAK
from latentmorph.transfer.render.envelope import frames_to_samples

#: Largest boost applied to a quiet output frame (dB); stops noise floors being blown up.
MAX_GAIN_DB = 30.0


def follow_loudness(wet: np.ndarray, source: np.ndarray, hop: int, *, passes: int = 2,
                    max_gain_db: float = MAX_GAIN_DB) -> np.ndarray:
    """Scale ``wet`` so its RMS per hop matches ``source``'s.

    Args:
        wet: ``[C, S]`` rendered audio.
        source: ``[C, S']`` the source at the same rate (zero-padded / cut to ``S``).
        hop: envelope frame in samples (the codec hop: the resolution of the choices).
        passes: refinements (interpolated gains change the frame RMS slightly).

    Returns:
        ``[C, S]`` float32. A silent source frame gives a silent output frame.
    """
    C, S = wet.shape
    src = fit_length(source, S)
    out = wet.astype(np.float32).copy()
    limit = 10 ** (max_gain_db / 20)
    for c in range(C):
        target = rms_envelope(src[c], hop).astype(np.float64)
        for _ in range(max(1, passes)):
            have = rms_envelope(out[c], hop).astype(np.float64)
            gain = np.where(have > 1e-9, target / np.maximum(have, 1e-9), 0.0)
            gain = np.minimum(gain, limit)
            out[c] *= frames_to_samples(gain, hop, S)
    return out


def silence_gate(wet: np.ndarray, source: np.ndarray, hop: int) -> np.ndarray:
    """Mute output frames whose source frame is silent (peak under about -90 dBFS)."""
    C, S = wet.shape
    src = fit_length(source, S)
    T = -(-S // hop)
    padded = np.pad(np.abs(src), ((0, 0), (0, T * hop - S)))
    peak = padded.reshape(C, T, hop).max(-1)
    open_ = (peak >= SILENCE_PEAK).astype(np.float32)
    if open_.all():
        return wet
    return wet * frames_to_samples(open_, hop, S)
