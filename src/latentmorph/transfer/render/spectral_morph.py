"""A timbre in between two sounds: log-magnitude interpolation in the STFT domain.

A crossfade of two sounds is heard as two sounds, and where one is louder in a band that
band keeps its spectrum: an equal-power mix at 0.5 still sounded (and measured) mostly
like the louder-coloured one (the strength sweep's timbre distance was front- and
end-loaded, largest deviation 0.62 from a straight line on the dev pairs). Here each STFT
bin's magnitude is interpolated geometrically,

    |Z| = |X|^(1 - s) |Y|^s      (so  log|Z| = (1 - s) log|X| + s log|Y|),

which moves the log spectrum, and so the log-mel spectrum and the MFCCs that are linear
in it, along a straight line from ``x`` to ``y``. The phase is that of the linear mix
``(1 - s) X + s Y``: it is ``x``'s at 0 and ``y``'s at 1 and turns continuously in between
(no bin flips from one sound's phase to the other's at one strength). Each frame's energy
is set to the geometric interpolation of the two frames' energies (the geometric mean of
two independent spectra is ~1 dB quieter than either), so a morph of two sounds of the
same loudness envelope keeps that envelope at every ``s``.

Analysis and resynthesis: periodic Hann window of ~46 ms (a power of two), hop a quarter
of it, weighted overlap-add normalised by the summed squared window, so ``s = 0`` gives
``x`` back to float precision. Frames are processed in blocks (memory stays that of a block).
"""

from __future__ import annotations

import numpy as np

from latentmorph.spectral import BLOCK_FRAMES, frames, hann

#: Analysis window length in seconds (rounded to a power of two in samples).
WINDOW_SECONDS = 0.046
#: Hops per window (75 % overlap: Hann analysis and synthesis windows sum to a constant).
OVERLAP = 4


def window_size(sr: int) -> int:
    """The STFT size for rate ``sr``: the power of two nearest ``WINDOW_SECONDS`` (>= 64)."""
    return int(max(64, 2 ** round(np.log2(WINDOW_SECONDS * sr))))


def _overlap_add(frames_: np.ndarray, hop: int, out: np.ndarray, start_frame: int) -> None:
    """Add ``frames_ [F, n_fft]`` (``n_fft = R * hop``) into ``out [samples]`` from frame ``start_frame`` on."""
    F, n = frames_.shape
    R = n // hop
    chunks = frames_.reshape(F, R, hop)
    base = start_frame * hop
    view = out[base : base + (F + R - 1) * hop].reshape(F + R - 1, hop)
    for r in range(R):
        view[r : r + F] += chunks[:, r]


def log_spectral_morph(x: np.ndarray, y: np.ndarray, amount: float, sr: int) -> np.ndarray:
    """Interpolate ``x`` (``amount`` 0) to ``y`` (1) in log magnitude, per STFT bin.

    Args:
        x, y: ``[samples]`` float signals of equal length at ``sr``.
        amount: 0..1 (0 returns ``x``, 1 returns ``y``, up to float rounding).
        sr: sample rate (sets the ~46 ms window).

    Returns:
        ``[samples]`` float32: magnitudes ``|X|^(1-s) |Y|^s``, the phase of
        ``(1-s) X + s Y``, each frame's energy ``E_x^(1-s) E_y^s``.
    """
    s = float(np.clip(amount, 0.0, 1.0))
    n = int(x.shape[-1])
    if y.shape[-1] != n:
        raise ValueError(f"x and y differ in length ({n} and {y.shape[-1]} samples)")
    n_fft = window_size(sr)
    hop = n_fft // OVERLAP
    win = hann(n_fft).astype(np.float32)
    pad = n_fft - hop  # every output sample is covered by OVERLAP full frames
    count = int(np.ceil((n + pad) / hop))
    fx = frames(np.asarray(x, np.float32), n_fft, hop, pad=(pad, 0), count=count)
    fy = frames(np.asarray(y, np.float32), n_fft, hop, pad=(pad, 0), count=count)
    out = np.zeros((count - 1) * hop + n_fft, np.float64)
    norm = np.zeros_like(out)
    tiny = np.float32(1e-12)
    for a in range(0, count, BLOCK_FRAMES):
        X = np.fft.rfft(fx[a : a + BLOCK_FRAMES] * win, axis=-1)
        Y = np.fft.rfft(fy[a : a + BLOCK_FRAMES] * win, axis=-1)
        mx, my = np.abs(X), np.abs(Y)
        mag = np.exp((1.0 - s) * np.log(mx + tiny) + s * np.log(my + tiny))
        lin = (1.0 - s) * X + s * Y
        ml = np.abs(lin)
        phase = np.where(ml > tiny, lin / np.maximum(ml, tiny), np.where(mx >= my, X, Y) / np.maximum(np.maximum(mx, my), tiny))
        ex = np.sum(mx.astype(np.float64) ** 2, axis=-1, keepdims=True)
        ey = np.sum(my.astype(np.float64) ** 2, axis=-1, keepdims=True)
        ez = np.sum(mag.astype(np.float64) ** 2, axis=-1, keepdims=True)
        target = np.exp((1.0 - s) * np.log(ex + 1e-30) + s * np.log(ey + 1e-30))
        gain = np.sqrt(np.where(ez > 1e-30, target / np.maximum(ez, 1e-30), 0.0))
        z = np.fft.irfft(mag * phase * gain.astype(np.float32), n=n_fft, axis=-1) * win
        _overlap_add(z.astype(np.float64), hop, out, a)
        _overlap_add(np.broadcast_to(win.astype(np.float64) ** 2, z.shape), hop, norm, a)
    seg, w = out[pad : pad + n], norm[pad : pad + n]
    return (seg / np.maximum(w, 1e-9)).astype(np.float32)
