"""Loudness following: the output takes the source's frame-by-frame loudness envelope."""

from __future__ import annotations

import numpy as np

from latentmorph.audio import rms_envelope
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
    src = source[:, :S] if source.shape[-1] >= S else np.pad(source, ((0, 0), (0, S - source.shape[-1])))
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
    src = source[:, :S] if source.shape[-1] >= S else np.pad(source, ((0, 0), (0, S - source.shape[-1])))
    T = -(-S // hop)
    padded = np.pad(np.abs(src), ((0, 0), (0, T * hop - S)))
    peak = padded.reshape(C, T, hop).max(-1)
    open_ = (peak >= SILENCE_PEAK).astype(np.float32)
    if open_.all():
        return wet
    return wet * frames_to_samples(open_, hop, S)


#: Shortest signal BS.1770 gating can measure (one 400 ms block).
BLOCK_SECONDS = 0.4


def integrated_lufs(wave: np.ndarray, sr: int) -> float:
    """Integrated loudness (ITU-R BS.1770-4: K-weighting, 400 ms blocks, -70 LUFS absolute
    and -10 LU relative gates) of ``wave [C, S]`` or ``[S]``, in LUFS.

    Channels are weighted 1 (mono/stereo; surround weights are not applied). Signals
    shorter than one block are padded with silence; ``-inf`` for silence.
    """
    import pyloudnorm

    x = np.asarray(wave, dtype=np.float64)
    if x.ndim == 1:
        x = x[None]
    need = int(np.ceil(BLOCK_SECONDS * sr)) + 1
    if x.shape[-1] < need:
        x = np.pad(x, ((0, 0), (0, need - x.shape[-1])))
    x = np.where(np.isfinite(x), x, 0.0)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyloudnorm warns on clipped input; we measure it anyway
        value = pyloudnorm.Meter(int(sr)).integrated_loudness(x.T if x.shape[0] > 1 else x[0])
    return float(value) if np.isfinite(value) else float("-inf")
