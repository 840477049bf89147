"""Loudness following: the output takes the source's frame-by-frame loudness envelope."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from latentmorph import parallel
from latentmorph.audio import fit_length
from latentmorph.audio.biquads import filter_biquads
from latentmorph.audio.validate import SILENCE_PEAK
from latentmorph.transfer.render.envelope import centre_weights, frames_to_samples

#: Largest boost applied to a quiet output frame (dB); stops noise floors being blown up.
MAX_GAIN_DB = 30.0


def follow_loudness(wet: np.ndarray, source: np.ndarray, hop: int, *, passes: int = 2,
                    max_gain_db: float = MAX_GAIN_DB) -> np.ndarray:
    """Scale ``wet`` so its RMS per hop matches ``source``'s.

    Each pass measures the frame RMS, divides the target by it (capped at ``max_gain_db``)
    and scales by those gains interpolated between frame centres (:func:`frames_to_samples`).
    The passes run on frames only: all their curves are linear between the same centres, so
    on each half frame their product is a polynomial in the position ``w`` and the frame
    energies of ``wet`` times it follow exactly from moments of ``wet**2`` computed once
    (:func:`segment_moments`, :func:`curve_energies`); the samples are scaled once, at the
    end, by the product (:func:`curve_samples`). The same gains as scaling the samples every
    pass, up to float rounding.

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
    x = np.asarray(wet, dtype=np.float32)
    passes = max(1, passes)
    limit = 10 ** (max_gain_db / 20)
    target = _frame_rms(src, hop)  # [C, T]
    moments = segment_moments(x, hop, 2 * (passes - 1))
    poly = np.ones(target.shape[:1] + (target.shape[1] + 1, 1))  # the gain so far: 1
    for _ in range(passes):
        have = np.sqrt(np.maximum(curve_energies(moments, poly), 0.0) / hop).astype(np.float32).astype(np.float64)
        gain = np.minimum(np.where(have > 1e-9, target / np.maximum(have, 1e-9), 0.0), limit)
        poly = times_line(poly, gain)
    return x * curve_samples(poly, hop, S)


def segment_moments(x: np.ndarray, hop: int, degree: int) -> np.ndarray:
    """Energy moments of ``x [C, S]`` per half frame: ``[C, T + 1, 2, degree + 1]`` float64
    (``T = ceil(S / hop)``).

    For each interval between frame centres (:func:`~latentmorph.transfer.render.envelope.centre_weights`;
    the first and last reach outside the centres) and each of its two parts (the samples in
    the earlier frame, those in the later one): the sums of ``x**2 w**k``, ``k = 0..degree``,
    ``w`` the samples' positions between the centres.
    """
    C, S = x.shape
    T = max(1, -(-S // hop))
    w, lead = centre_weights(hop)
    sq = np.zeros((C, (T + 1) * hop), np.float64)
    sq[:, hop - lead : hop - lead + S] = x
    np.square(sq, out=sq)
    seg = sq.reshape(C, T + 1, hop)
    basis = w[:, None] ** np.arange(degree + 1)  # [hop, degree + 1]
    cut = hop - lead
    out = np.empty((C, T + 1, 2, degree + 1))
    out[:, :, 0] = seg[..., :cut] @ basis[:cut]
    out[:, :, 1] = seg[..., cut:] @ basis[cut:]
    return out


def times_line(poly: np.ndarray, values: np.ndarray) -> np.ndarray:
    """A gain curve ``poly [C, T + 1, m]`` (per interval between frame centres, coefficients of
    ``w**0 .. w**(m-1)``) times the curve linear between the centres through ``values
    [C, T]`` (held flat outside them): ``[C, T + 1, m + 1]``."""
    a = np.concatenate([values[:, :1], values], axis=1)[..., None]  # [C, T + 1, 1]: each interval's start
    d = np.concatenate([values, values[:, -1:]], axis=1)[..., None] - a  # and rise
    out = np.zeros(poly.shape[:-1] + (poly.shape[-1] + 1,))
    out[..., :-1] = poly * a
    out[..., 1:] += poly * d
    return out


def curve_energies(moments: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Per-frame energy ``[C, T]`` (sum of squares over each ``hop``) of the signal whose
    :func:`segment_moments` are ``moments`` times the gain curve ``poly [C, T + 1, m]``
    (:func:`times_line`): ``sum x**2 q(w)**2 = sum_k (q*q)_k sum x**2 w**k``, which needs
    ``moments`` up to degree ``2 (m - 1)``."""
    m = poly.shape[-1]
    square = np.zeros(poly.shape[:-1] + (2 * m - 1,))
    for j in range(m):
        square[..., j : j + m] += poly[..., j : j + 1] * poly
    e = np.einsum("ctpk,ctk->ctp", moments[..., : 2 * m - 1], square)  # [C, T + 1, 2]
    return e[:, 1:, 0] + e[:, :-1, 1]


def curve_samples(poly: np.ndarray, hop: int, length: int) -> np.ndarray:
    """The gain curve ``poly [C, T + 1, m]`` (:func:`times_line`) at the samples:
    ``[C, length]`` float32 (``length <= T*hop``), by Horner's rule per interval."""
    w, lead = centre_weights(hop)
    w32 = w.astype(np.float32)
    c = poly.astype(np.float32)
    curve = np.broadcast_to(c[..., -1:], c.shape[:-1] + (hop,)).copy()
    for k in range(c.shape[-1] - 2, -1, -1):
        curve *= w32
        curve += c[..., k : k + 1]
    return curve.reshape(c.shape[0], -1)[:, hop - lead : hop - lead + length]


def _frame_rms(x: np.ndarray, hop: int) -> np.ndarray:
    """RMS of each channel of ``x [C, S]`` per ``hop`` samples (the last frame zero-padded):
    ``[C, ceil(S / hop)]`` float64 of float32 values, what :func:`latentmorph.audio.rms_envelope`
    gives one channel at a time, by one reshape instead of a cumulative sum per channel."""
    C, S = x.shape
    T = max(1, -(-S // hop))
    frames = np.zeros((C, T * hop), np.float32)
    frames[:, :S] = x
    frames = frames.reshape(C, T, hop)
    power = np.einsum("ctk,ctk->ct", frames, frames, dtype=np.float64) / hop
    return np.sqrt(np.maximum(power, 0.0)).astype(np.float32).astype(np.float64)


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


#: Impulse-response length kept by :func:`refilter`'s overlap-save K-weighting frames
#: (seconds, rounded up to a power of two in samples): its slowest pole (the 38 Hz
#: high-pass, nearly critically damped) has decayed by more than 140 dB within it, so the
#: frames equal the causal filter (:func:`k_weighted`) to float32 rounding.
TAIL_SECONDS = 0.08
#: Overlap-save frame = this many times the kept tail (FFT size; 32768 at 44.1 kHz).
FRAME_TAILS = 8


@lru_cache(maxsize=8)
def _response(n_fft: int, sections: tuple[tuple[tuple[float, ...], tuple[float, ...]], ...]) -> np.ndarray:
    """``[n_fft // 2 + 1]`` complex64 response of the biquad cascade on the rFFT bins (cached:
    one short frame size per rate)."""
    w = np.exp(-2j * np.pi * np.arange(n_fft // 2 + 1) / n_fft)  # z^-1 on the FFT bins
    h = np.ones_like(w)
    for b, a in sections:
        h *= (b[0] + b[1] * w + b[2] * w * w) / (a[0] + a[1] * w + a[2] * w * w)
    return h.astype(np.complex64)


def _ols_sizes(sr: int) -> tuple[int, int]:
    """``(tail, frame)`` samples of the overlap-save K-weighting at ``sr`` (:data:`TAIL_SECONDS` kept)."""
    tail = 1 << max(4, int(np.ceil(np.log2(max(16.0, TAIL_SECONDS * sr)))))
    return tail, FRAME_TAILS * tail


def _kweight_frames(padded: np.ndarray, starts: np.ndarray, sr: int) -> np.ndarray:
    """Overlap-save frames of the K-weighting: ``padded [C, L]`` read at ``starts [m]`` (each
    frame ``size`` samples: ``tail`` of history, then its ``size - tail`` outputs; sizes from
    :func:`_ols_sizes`), ``[C, m, size - tail]`` float32 outputs. Only :func:`refilter` uses
    it: a few frames around the samples a limiter changed, where filtering the whole signal
    again (:func:`k_weighted`) would cost far more."""
    tail, size = _ols_sizes(int(sr))
    h = _response(size, tuple((tuple(b), tuple(a)) for b, a in k_weighting(int(sr))))
    C = padded.shape[0]
    out = np.empty((C, starts.size, size - tail), np.float32)
    view = sliding_window_view(padded, size, axis=-1)

    def piece(span: tuple[int, int]) -> None:  # each frame is its own FFT: any split gives the same values
        i, j = span
        spec = np.fft.rfft(view[:, starts[i:j]], axis=-1)  # [C, m, size // 2 + 1]
        spec *= h
        out[:, i:j] = np.fft.irfft(spec, size, axis=-1)[..., tail:]

    parallel.map_blocks(piece, parallel.split(starts.size, at_most=max(1, (1 << 21) // size)))  # <= ~8 MB a call
    return out


def refilter(weighted: np.ndarray, wave: np.ndarray, changed: np.ndarray, sr: int) -> None:
    """Bring ``weighted [C, S']`` (:func:`k_weighted` of an earlier version of ``wave``, times
    any gain applied since) up to date with ``wave [C, S]`` where ``changed [S]`` marks the
    samples that differ: only the overlap-save frames reading a changed sample are filtered
    again (in place)."""
    idx = np.flatnonzero(changed)
    if idx.size == 0:
        return
    tail, size = _ols_sizes(int(sr))
    hop = size - tail
    n, m = wave.shape[-1], weighted.shape[-1]
    count = -(-m // hop)
    frames = np.zeros(count, bool)
    frames[idx // hop] = True  # frame f reads [f hop - tail, (f + 1) hop): the sample's own frame
    frames[np.minimum((idx + tail) // hop, count - 1)] = True  # and the next one's tail
    redo = np.flatnonzero(frames)
    first = int(redo[0]) * hop - tail  # the span the frames read, in samples of ``wave``
    span = np.zeros((wave.shape[0], (int(redo[-1]) + 1 - int(redo[0])) * hop + tail), np.float32)
    a, b = max(0, first), min(n, (int(redo[-1]) + 1) * hop)
    span[:, a - first : b - first] = wave[:, a:b]
    span = np.where(np.isfinite(span), span, np.float32(0.0))
    fresh = _kweight_frames(span, (redo - redo[0]) * hop, sr)  # [C, frames, hop]
    for j, f in enumerate(redo):
        lo, hi = int(f) * hop, min(m, (int(f) + 1) * hop)
        weighted[:, lo:hi] = fresh[:, j, : hi - lo]


def _blocks(sr: int) -> tuple[int, int]:
    return int(round(BLOCK_SECONDS * sr)), int(round(STEP_SECONDS * sr))


def block_energies(weighted: np.ndarray, sr: int) -> np.ndarray:
    """BS.1770 block mean squares ``[blocks]`` (400 ms, 75 % overlap, channels summed with
    weight 1) of an already K-weighted ``weighted [C, S]`` (:func:`k_weighted`).

    When a block is four steps (every common rate), each block adds up four step sums
    (one pass over the samples, float64 sums); otherwise a running sum gives them."""
    block, step = _blocks(int(sr))
    C, n = weighted.shape
    count = (n - block) // step + 1 if n >= block else 0
    if block == 4 * step:
        steps = count + 3
        frames = weighted[:, : steps * step].reshape(C, steps, step)
        power = np.einsum("cts,cts->t", frames, frames, dtype=np.float64)
        return (power[:-3] + power[1:-2] + power[2:-1] + power[3:]) / block
    power = np.concatenate([[0.0], np.cumsum(np.einsum("cs,cs->s", weighted, weighted, dtype=np.float64))])
    starts = np.arange(count) * step
    return (power[starts + block] - power[starts]) / block


def k_weighted(wave: np.ndarray, sr: int) -> np.ndarray:
    """``wave [C, S]`` or ``[S]`` as :func:`integrated_lufs` measures it: NaN/Inf as 0, padded
    with silence to one block, K-weighted. Returns ``[C, max(S, block)]`` float32."""
    x = np.asarray(wave, dtype=np.float32)
    if x.ndim == 1:
        x = x[None]
    if not np.isfinite(x).all():
        x = np.where(np.isfinite(x), x, np.float32(0.0))
    block, _ = _blocks(int(sr))
    if x.shape[-1] < block:
        x = np.pad(x, ((0, 0), (0, block - x.shape[-1])))
    return filter_biquads(x, k_weighting(int(sr)))


def gated_loudness(z: np.ndarray) -> float:
    """Integrated loudness (LUFS) from BS.1770 block mean squares ``z [blocks]``: blocks
    under -70 LUFS dropped, then blocks more than 10 LU under the mean of the rest;
    ``-inf`` when nothing is left."""
    z = np.asarray(z, dtype=np.float64)
    with np.errstate(divide="ignore"):
        level = -0.691 + 10.0 * np.log10(z)
    keep = level > ABSOLUTE_GATE_LUFS
    if not keep.any():
        return float("-inf")
    gate = -0.691 + 10.0 * np.log10(z[keep].mean()) + RELATIVE_GATE_LU
    keep &= level > gate
    return float(-0.691 + 10.0 * np.log10(z[keep].mean()))


def integrated_lufs(wave: np.ndarray, sr: int) -> float:
    """Integrated loudness (ITU-R BS.1770-4) of ``wave [C, S]`` or ``[S]``, in LUFS.

    K-weighting, mean square per 400 ms block (75 % overlap) summed over channels (weight
    1: mono/stereo), blocks under -70 LUFS dropped, then blocks more than 10 LU under the
    mean of the rest dropped; the loudness of what remains. Signals shorter than one block
    are padded with silence; ``-inf`` for silence.
    """
    return gated_loudness(block_energies(k_weighted(wave, sr), sr))
