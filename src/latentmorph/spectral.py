"""The one STFT / mel / DCT toolbox (numpy), shared by the embedded codec, the metrics and plots.

Conventions: a signal is ``[..., samples]``; frames are ``[..., frames, n_fft]``; spectra are
``[..., frames, n_fft // 2 + 1]`` (frames first, so a block of frames is a contiguous slice).
Where a frame is centred is the caller's choice (:func:`frames` takes the padding), because the
codec (frame ``t`` centred on ``t * hop + hop / 2``) and the metrics (centred on ``t * hop``,
librosa's ``center=True``) need different ones.

The streaming engine (``stream/core.py``, TorchScript) runs the same maths in torch from the
matrices built here (:func:`hann`, :func:`mel_filterbank`, :func:`dct_matrix`).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import numpy as np

#: STFT frames per FFT batch: work buffers stay a few MB whatever the input length.
BLOCK_FRAMES = 2048
#: STFT frames per block of :func:`project_power` (the blocks that threads share).
THREAD_FRAMES = 512


def hann(n: int) -> np.ndarray:
    """Periodic Hann window ``[n]`` float64 (the STFT window; ``torch.hann_window(n)``)."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    """HTK mel scale: ``2595 log10(1 + f / 700)``."""
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m: np.ndarray | float) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`."""
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


@lru_cache(maxsize=16)
def mel_filterbank(sr: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None,
                   *, area_normalised: bool = False) -> np.ndarray:
    """Triangular HTK-mel filters ``[n_mels, n_fft // 2 + 1]`` float64 (read-only, cached).

    Each filter peaks at 1, or sums to 1 with ``area_normalised``. A band narrower than a bin
    (low bands of a short FFT) gets the bin nearest its centre, so no band is empty.
    """
    fmax = sr / 2.0 if fmax is None else min(sr / 2.0, fmax)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (freqs[None] - lower) / np.maximum(centre - lower, 1e-9)
    down = (upper - freqs[None]) / np.maximum(upper - centre, 1e-9)
    fb = np.maximum(0.0, np.minimum(up, down))
    for b in np.flatnonzero(fb.sum(axis=1) == 0):
        fb[b, int(np.argmin(np.abs(freqs - centre[b, 0])))] = 1.0
    if area_normalised:
        fb /= fb.sum(axis=1, keepdims=True)
    fb.setflags(write=False)
    return fb


@lru_cache(maxsize=16)
def dct_matrix(n_out: int, n_in: int | None = None) -> np.ndarray:
    """Orthonormal DCT-II basis ``[n_out, n_in]`` float64 (rows are basis vectors; read-only).

    ``dct_matrix(n) @ x`` is the DCT of ``x`` ``[n, ...]``; its transpose inverts it.
    """
    n_in = n_out if n_in is None else n_in
    k = np.arange(n_out)[:, None]
    i = np.arange(n_in)[None, :]
    m = np.cos(np.pi / n_in * (i + 0.5) * k) * np.sqrt(2.0 / n_in)
    m[0] /= np.sqrt(2.0)
    m.setflags(write=False)
    return m


def frames(x: np.ndarray, n_fft: int, hop: int, *, pad: tuple[int, int] = (0, 0),
           mode: Literal["constant", "reflect"] = "constant",
           count: int | None = None) -> np.ndarray:
    """Frames of ``x`` ``[..., samples]`` -> ``[..., frames, n_fft]`` (a read-only strided view).

    Args:
        pad: samples added before and after (``mode``: ``"constant"`` zeros or ``"reflect"``).
        count: exact number of frames (the end is zero-padded as needed); default all that fit.
    """
    widths = [(0, 0)] * (x.ndim - 1)
    xp = np.pad(x, [*widths, pad], mode=mode) if any(pad) else x
    if count is not None:
        need = (count - 1) * hop + n_fft if count > 0 else 0
        if xp.shape[-1] < need:
            xp = np.pad(xp, [*widths, (0, need - xp.shape[-1])])
    elif xp.shape[-1] < n_fft:
        xp = np.pad(xp, [*widths, (0, n_fft - xp.shape[-1])])
    view = np.lib.stride_tricks.sliding_window_view(xp, n_fft, axis=-1)[..., ::hop, :]
    return view if count is None else view[..., :count, :]


def power_spectrum(frames_: np.ndarray, window: np.ndarray) -> np.ndarray:
    """``|rfft(frames * window)|^2`` ``[..., frames, n_fft // 2 + 1]`` (float32 in, float32 out)."""
    spec = np.fft.rfft(frames_ * window, axis=-1)
    return spec.real**2 + spec.imag**2


def project_power(frames_: np.ndarray, window: np.ndarray, matrix: np.ndarray, *, dtype: type = np.float64) -> np.ndarray:
    """``power_spectrum(frames) @ matrix.T`` block by block: ``[..., frames, rows]``.

    The full power spectrogram is never held (about 1.3 GB per hour of audio at 22 kHz);
    only its projection (mel bands, pitch classes, or the identity for the power itself).
    Blocks of :data:`THREAD_FRAMES` frames run on :func:`latentmorph.parallel.threads`
    threads; their size does not depend on the thread count, so neither does the result.
    """
    from latentmorph import parallel

    count = frames_.shape[-2]
    out = np.empty((*frames_.shape[:-2], count, matrix.shape[0]), dtype=dtype)
    mt: np.ndarray = np.ascontiguousarray(matrix.T, dtype=dtype)

    def block(start: int) -> None:
        power = power_spectrum(frames_[..., start : start + THREAD_FRAMES, :], window)
        out[..., start : start + THREAD_FRAMES, :] = power.astype(dtype, copy=False) @ mt

    parallel.map_blocks(block, range(0, count, THREAD_FRAMES))
    return out
