"""Signal features for the metrics, in plain numpy/scipy (no librosa, no weights).

Every function takes a mono float signal ``[samples]`` and its sample rate and returns
frame-wise features, frame ``t`` centred on sample ``t * hop`` (the signal is
reflect-padded by ``n_fft // 2`` on both sides, as librosa does with ``center=True``).

The analysis frame is about 46 ms whatever the rate (``n_fft = frame_size(sr)``) with a
quarter-frame hop, so features of a 16 kHz and a 44.1 kHz file line up in time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from latentmorph import spectral

#: Analysis window length in seconds (rounded to a power of two in samples).
FRAME_SECONDS = 0.046


def frame_size(sr: int) -> int:
    """Power-of-two window length closest to :data:`FRAME_SECONDS` at ``sr``."""
    return int(2 ** round(np.log2(max(64.0, sr * FRAME_SECONDS))))


def mono(wave: np.ndarray, dtype: type = np.float64) -> np.ndarray:
    """``[channels, samples]`` or ``[samples]`` -> ``[samples]`` (channel mean), ``dtype`` (float64).

    A 2-D array is always ``[channels, samples]`` (never guessed from the shape; more than
    64 rows is refused by :func:`latentmorph.audio.as_2d`).
    """
    from latentmorph.audio.channels import as_2d

    x = np.asarray(wave)
    if x.ndim == 2:
        x = as_2d(x).mean(axis=0, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"audio must be 1-D or 2-D, got shape {x.shape}")
    return np.asarray(x, dtype=dtype)


def frames_of(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Centred, reflect-padded frames ``[frames, n_fft]`` (a strided view, do not write)."""
    pad = n_fft // 2
    return spectral.frames(x, n_fft, hop, pad=(pad, pad), mode="reflect" if x.shape[0] > pad else "constant")


#: STFT frames per FFT batch: the work buffers stay a few MB whatever the input length.
BLOCK_FRAMES = spectral.BLOCK_FRAMES


def project_power(x: np.ndarray, sr: int, matrix: np.ndarray, *, n_fft: int | None = None,
                  hop: int | None = None) -> np.ndarray:
    """``matrix @ power_spectrogram(x)`` computed block by block: ``[rows, frames]`` float64.

    The full ``[n_fft // 2 + 1, frames]`` power matrix is never held (it is ~1.3 GB per
    hour of audio at 22 kHz); only the projection (mel bands, pitch classes) is kept.
    """
    n_fft = n_fft or frame_size(sr)
    hop = hop or n_fft // 4
    return np.ascontiguousarray(spectral.project_power(frames_of(x, n_fft, hop), spectral.hann(n_fft), matrix).T)


def power_spectrogram(x: np.ndarray, sr: int, *, n_fft: int | None = None, hop: int | None = None) -> np.ndarray:
    """Hann-windowed power STFT.

    Returns:
        ``[n_fft // 2 + 1, frames]`` float64 power, frames every ``hop`` (default ``n_fft // 4``).
    """
    n_fft = n_fft or frame_size(sr)
    hop = hop or n_fft // 4
    window = spectral.hann(n_fft)
    frames = frames_of(x, n_fft, hop)
    out = np.empty((n_fft // 2 + 1, frames.shape[0]))
    for start in range(0, frames.shape[0], BLOCK_FRAMES):
        out[:, start : start + BLOCK_FRAMES] = spectral.power_spectrum(frames[start : start + BLOCK_FRAMES], window).T
    return out


def mel_filters(sr: int, n_fft: int, n_mels: int, fmin: float = 30.0, fmax: float | None = None) -> np.ndarray:
    """Triangular mel filters (HTK mel scale, area-normalised), ``[n_mels, n_fft // 2 + 1]``."""
    return spectral.mel_filterbank(sr, n_fft, n_mels, fmin, fmax, area_normalised=True)


def log_mel(x: np.ndarray, sr: int, *, n_mels: int = 40, power: np.ndarray | None = None) -> np.ndarray:
    """Log mel power (natural log, floored at 1e-10), ``[n_mels, frames]``."""
    n_fft = frame_size(sr)
    fb = mel_filters(sr, n_fft, n_mels)
    mel = project_power(x, sr, fb, n_fft=n_fft) if power is None else fb @ power
    return np.log(np.maximum(mel, 1e-10))


def _dct(n_out: int, n_in: int) -> np.ndarray:
    return spectral.dct_matrix(n_out, n_in)


def mfcc(x: np.ndarray, sr: int, *, n_mfcc: int = 20, n_mels: int = 40, power: np.ndarray | None = None) -> np.ndarray:
    """Mel-frequency cepstral coefficients (orthonormal DCT-II of log mel power), ``[n_mfcc, frames]``.

    Coefficient 0 follows loudness; 1.. describe the spectral envelope (timbre).
    """
    return _dct(n_mfcc, n_mels) @ log_mel(x, sr, n_mels=n_mels, power=power)


def chroma(x: np.ndarray, sr: int, *, power: np.ndarray | None = None, fmin: float = 55.0, fmax: float = 4000.0) -> np.ndarray:
    """Pitch-class energy, ``[12, frames]`` (row 0 = A), each frame summing to 1 (0 when silent).

    Every STFT bin between ``fmin`` and ``fmax`` gives its power to the nearest pitch class.
    """
    n_fft = frame_size(sr)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    keep = (freqs >= fmin) & (freqs <= min(fmax, sr / 2.0))
    pc = np.round(12.0 * np.log2(freqs[keep] / 440.0)).astype(int) % 12
    fold = np.zeros((12, freqs.size))  # bin -> pitch class, 0/1
    fold[pc, np.flatnonzero(keep)] = 1.0
    c = project_power(x, sr, fold, n_fft=n_fft) if power is None else fold @ power
    total = c.sum(axis=0, keepdims=True)
    return np.divide(c, total, out=np.zeros_like(c), where=total > 0)


def onset_envelope(x: np.ndarray, sr: int, *, power: np.ndarray | None = None) -> np.ndarray:
    """Onset strength: summed positive change of log mel power between frames, ``[frames]``.

    Frame 0 is 0; frame ``t`` is the rise from frame ``t - 1``. Same units as log power.
    """
    lm = log_mel(x, sr, power=power)
    # Floor 80 dB (natural-log units: 18.4) under the loudest band so noise in silence does not count.
    lm = np.maximum(lm, lm.max() - 18.4)
    rise = np.maximum(0.0, np.diff(lm, axis=1)).mean(axis=0)
    return np.concatenate([[0.0], rise])


def spectral_flux(x: np.ndarray, sr: int, *, power: np.ndarray | None = None) -> np.ndarray:
    """Spectral flux: L2 norm of the frame-to-frame change of log mel power, ``[frames]``.

    Unlike :func:`onset_envelope` it counts falls as well as rises, so an abrupt cut shows too.
    """
    lm = log_mel(x, sr, power=power)
    lm = np.maximum(lm, lm.max() - 18.4)
    return np.concatenate([[0.0], np.sqrt((np.diff(lm, axis=1) ** 2).mean(axis=0))])


def pick_peaks(env: np.ndarray, frame_rate: float, *, min_gap_s: float = 0.05, delta: float = 0.3) -> np.ndarray:
    """Indices of onset peaks in an onset envelope.

    A frame is an onset when it is the maximum within ``min_gap_s`` on both sides and
    exceeds the moving mean over +-0.1 s by ``delta`` times the envelope's standard deviation.
    """
    env = np.asarray(env, dtype=np.float64)
    if env.size < 3 or not np.any(env > 0):
        return np.zeros(0, dtype=int)
    from scipy.ndimage import maximum_filter1d, uniform_filter1d

    gap = max(1, int(round(min_gap_s * frame_rate)))
    local_max = maximum_filter1d(env, size=2 * gap + 1, mode="constant")
    mean = uniform_filter1d(env, size=max(3, int(round(0.2 * frame_rate)) | 1), mode="nearest")
    threshold = mean + delta * env.std()
    peaks = np.flatnonzero((env >= local_max) & (env > threshold) & (env > 0))
    # plateaus: keep the first frame of equal neighbours
    if peaks.size > 1:
        peaks = peaks[np.concatenate([[True], np.diff(peaks) > gap])]
    return peaks


@dataclass(frozen=True)
class Pitch:
    """A pitch track: ``f0`` in Hz (0 where unvoiced), ``voiced`` mask, ``frame_rate`` in frames/s."""

    f0: np.ndarray
    voiced: np.ndarray
    frame_rate: float


def yin(
    x: np.ndarray,
    sr: int,
    *,
    fmin: float = 60.0,
    fmax: float = 1000.0,
    hop_s: float = 0.01,
    threshold: float = 0.15,
    silence_db: float = -40.0,
) -> Pitch:
    """Monophonic pitch track with the YIN method (cumulative-mean-normalised difference).

    The signal is resampled to 16 kHz first. A frame is voiced when its normalised
    difference dips under ``threshold`` and its level is within ``silence_db`` of the
    loudest frame. Frame ``t`` starts at ``t * hop_s`` seconds.
    """
    from latentmorph.audio.resample import resample

    rate = 16000
    x = resample(np.asarray(x, dtype=np.float32), int(sr), rate).astype(np.float64)
    hop = int(round(hop_s * rate))
    tau_max = int(np.ceil(rate / fmin))
    tau_min = max(2, int(np.floor(rate / fmax)))
    width = 512  # integration window (32 ms)
    n = width + tau_max
    x = np.pad(x, (0, n))
    count = max(1, (x.shape[0] - n) // hop + 1)
    frames = np.lib.stride_tricks.as_strided(x, shape=(count, n), strides=(x.strides[0] * hop, x.strides[0]), writeable=False)
    nfft = int(2 ** np.ceil(np.log2(n + width)))
    f0 = np.zeros(count)
    aperiodic = np.ones(count)
    level = np.zeros(count)
    taus = np.arange(tau_max + 1)
    for start in range(0, count, 1024):
        fr = frames[start : start + 1024]
        head = np.zeros_like(fr)
        head[:, :width] = fr[:, :width]
        r = np.fft.irfft(np.conj(np.fft.rfft(head, nfft)) * np.fft.rfft(fr, nfft), nfft)[:, : tau_max + 1]
        sq = np.concatenate([np.zeros((fr.shape[0], 1)), np.cumsum(fr**2, axis=1)], axis=1)
        energy = sq[:, taus + width] - sq[:, taus]  # energy of x[tau : tau + width]
        d = np.maximum(energy[:, :1] + energy - 2.0 * r, 0.0)
        d[:, 0] = 0.0
        cum = np.cumsum(d[:, 1:], axis=1) / taus[1:]
        cmnd = np.ones_like(d)
        cmnd[:, 1:] = np.divide(d[:, 1:], cum, out=np.ones_like(cum), where=cum > 0)
        level[start : start + fr.shape[0]] = energy[:, 0] / width
        for i, row in enumerate(cmnd):
            seg = row[tau_min:]
            below = np.flatnonzero(seg < threshold)
            if below.size:
                t = below[0]
                while t + 1 < seg.size and seg[t + 1] < seg[t]:  # walk to the dip's bottom
                    t += 1
            else:
                t = int(np.argmin(seg))
            tau = t + tau_min
            best = seg[t]
            if 0 < tau < tau_max:  # parabolic refinement
                a, b, c = row[tau - 1], row[tau], row[tau + 1]
                den = a - 2 * b + c
                shift = 0.5 * (a - c) / den if den > 0 else 0.0
            else:
                shift = 0.0
            f0[start + i] = rate / (tau + shift)
            aperiodic[start + i] = best
    level_db = 10 * np.log10(np.maximum(level, 1e-12))
    voiced = (aperiodic < threshold) & (level_db > level_db.max() + silence_db)
    return Pitch(f0=np.where(voiced, f0, 0.0), voiced=voiced, frame_rate=rate / hop)
