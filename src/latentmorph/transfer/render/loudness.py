"""Loudness following: the output takes the source's frame-by-frame loudness envelope."""

from __future__ import annotations

from functools import lru_cache

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


#: BS.1770 gating: 400 ms blocks every 100 ms, absolute gate -70 LUFS, relative gate -10 LU.
BLOCK_SECONDS = 0.4
STEP_SECONDS = 0.1
ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0


def k_weighting(sr: int) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """BS.1770 K-weighting at ``sr``: the high-shelf (+4 dB above ~1.7 kHz, head effects) and
    the high-pass (~38 Hz, RLB) biquads, as ``((b, a), (b, a))``.

    Designed from the analogue prototypes (bilinear transform with pre-warping), so any rate
    works; at 48 kHz this gives the standard's tabulated coefficients.
    """
    k = np.tan(np.pi * 1681.974450955533 / sr)
    vh = 10.0 ** (3.999843853973347 / 20.0)
    vb = vh**0.4996667741545416
    q = 0.7071752369554196
    a0 = 1.0 + k / q + k * k
    shelf = (np.array([vh + vb * k / q + k * k, 2.0 * (k * k - vh), vh - vb * k / q + k * k]) / a0,
             np.array([1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0]))
    k = np.tan(np.pi * 38.13547087602444 / sr)
    q = 0.5003270373238773
    a0 = 1.0 + k / q + k * k
    high_pass = (np.array([1.0, -2.0, 1.0]), np.array([1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0]))
    return shelf, high_pass


#: Zeros appended before the FFT filter (seconds): the K-weighting's impulse response
#: (slowest pole: the 38 Hz high-pass) has decayed by far more than 200 dB within it, so
#: the circular convolution equals the causal IIR filter to float64 rounding.
FFT_TAIL_SECONDS = 0.5


def _fast_length(n: int) -> int:
    """The smallest ``2^a 3^b 5^c >= n`` (an FFT length pocketfft does fastest)."""
    best = 1 << max(0, (n - 1).bit_length())
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            m = p35 << max(0, (-(-n // p35) - 1).bit_length())  # times the smallest power of 2 reaching n
            best = min(best, m)
            p35 *= 3
        p5 *= 5
    return best


@lru_cache(maxsize=4)
def _response(n_fft: int, sections: tuple[tuple[tuple[float, ...], tuple[float, ...]], ...]) -> np.ndarray:
    """``[n_fft // 2 + 1]`` complex64 response of the biquad cascade on the rFFT bins (cached:
    loudness matching measures the same length several times)."""
    w = np.exp(-2j * np.pi * np.arange(n_fft // 2 + 1) / n_fft)  # z^-1 on the FFT bins
    h = np.ones_like(w)
    for b, a in sections:
        h *= (b[0] + b[1] * w + b[2] * w * w) / (a[0] + a[1] * w + a[2] * w * w)
    return h.astype(np.complex64)


def _filter_fft(x: np.ndarray, sections: tuple[tuple[np.ndarray, np.ndarray], ...], sr: int) -> np.ndarray:
    """``x [C, S]`` through the cascade of biquads ``((b, a), ...)``: the same causal filter
    as running them with ``scipy.signal.lfilter`` (zero initial state), computed as one FFT
    product with their frequency response, in float32 (relative error ~1e-6, i.e. ~1e-5 dB
    of loudness). Numpy only: the transfer path does not import scipy.signal (~0.8 s of
    start-up). Returns ``[C, S]`` float32."""
    n = x.shape[-1]
    n_fft = _fast_length(n + int(FFT_TAIL_SECONDS * sr))
    spec = np.fft.rfft(np.asarray(x, dtype=np.float32), n_fft, axis=-1)
    spec *= _response(n_fft, tuple((tuple(b), tuple(a)) for b, a in sections))
    return np.fft.irfft(spec, n_fft, axis=-1)[..., :n]


def integrated_lufs(wave: np.ndarray, sr: int) -> float:
    """Integrated loudness (ITU-R BS.1770-4) of ``wave [C, S]`` or ``[S]``, in LUFS.

    K-weighting, mean square per 400 ms block (75 % overlap) summed over channels (weight
    1: mono/stereo), blocks under -70 LUFS dropped, then blocks more than 10 LU under the
    mean of the rest dropped; the loudness of what remains. Signals shorter than one block
    are padded with silence; ``-inf`` for silence.
    """
    x = np.asarray(wave, dtype=np.float32)
    if x.ndim == 1:
        x = x[None]
    x = np.where(np.isfinite(x), x, np.float32(0.0))
    block, step = int(round(BLOCK_SECONDS * sr)), int(round(STEP_SECONDS * sr))
    if x.shape[-1] < block:
        x = np.pad(x, ((0, 0), (0, block - x.shape[-1])))
    y = _filter_fft(x, k_weighting(int(sr)), int(sr))
    power = np.concatenate([[0.0], np.cumsum(np.einsum("cs,cs->s", y, y, dtype=np.float64))])  # channels summed (weights 1)
    starts = np.arange(0, x.shape[-1] - block + 1, step)
    z = (power[starts + block] - power[starts]) / block  # [blocks]
    with np.errstate(divide="ignore"):
        level = -0.691 + 10.0 * np.log10(z)
    keep = level > ABSOLUTE_GATE_LUFS
    if not keep.any():
        return float("-inf")
    gate = -0.691 + 10.0 * np.log10(z[keep].mean()) + RELATIVE_GATE_LU
    keep &= level > gate
    return float(-0.691 + 10.0 * np.log10(z[keep].mean()))
