"""True-peak limiter: keep the oversampled peak under a ceiling with a smooth, local gain.

The true peak is estimated as ITU-R BS.1770 (annex 2) suggests: upsample 4x (2x at
96 kHz and above) and take the largest magnitude of the interpolated signal, so peaks
between samples count. The limiter only lowers the gain where a peak needs it:

    need[n]  = min(1, ceiling / true_peak[n])          (linked over channels)
    hold[n]  = min(need[n - L : n + L + 1])            (sliding minimum)
    gain[n]  = mean(hold[n - L : n + L + 1])           (moving average)

Every value averaged into ``gain[n]`` comes from a window that contains ``n``, so
``gain[n] <= need[n]``: no peak passes the ceiling, and the gain falls and recovers
over ``2L`` samples (``L`` = :data:`LOOKAHEAD_S`) instead of jumping. A second pass
catches the few peaks the interpolated gain moved.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from latentmorph import parallel

#: Half the length of the gain ramps (seconds): the gain starts falling this long before a peak.
#: Measured on drums -> wind (the output needs ~10 dB of limiting to reach the source's
#: LUFS: wind is dark, K-weighting hears it quieter at equal RMS): loudness-envelope
#: correlation 0.95 at 1.5 ms, 0.89 at 5 ms, 0.75 at 20 ms (longer ramps flatten the hits).
LOOKAHEAD_S = 0.0015
#: Samples per block of the "is anything near the ceiling?" test.
SKIP_BLOCK = 512
#: Filter taps per polyphase branch of the true-peak interpolator.
TAPS_PER_PHASE = 12
#: Relative overshoot left by the passes that is float32 rounding of the measurement, not a peak:
#: the re-measured samples sum the interpolation in another order than the first measurement.
ROUNDING = 1e-6
#: Loud runs at most this many quiet blocks apart are oversampled as one run.
MERGE_GAP = 8


def running_min(x: np.ndarray, size: int) -> np.ndarray:
    """Centred sliding minimum of ``x [S]`` over ``size`` (odd) samples, edges held (like
    ``scipy.ndimage.minimum_filter1d(mode="nearest")``), in O(S) numpy: prefix and suffix
    minima of blocks of ``size`` (van Herk / Gil-Werman). Numpy only, so the transfer path
    does not import scipy.ndimage (~0.2 s of start-up)."""
    x = np.asarray(x)
    n, half = x.shape[0], size // 2
    if n == 0 or size <= 1:
        return x.copy()
    padded = np.concatenate([np.full(half, x[0]), x, np.full(half + (-(n + 2 * half)) % size, x[-1])])
    blocks = padded.reshape(-1, size)
    prefix = np.minimum.accumulate(blocks, axis=1).ravel()
    suffix = np.minimum.accumulate(blocks[:, ::-1], axis=1)[:, ::-1].ravel()
    # the window [i, i + size) of ``padded`` starts in one block and ends in the next
    return np.minimum(suffix[:n], prefix[size - 1 : size - 1 + n])


def running_mean(x: np.ndarray, size: int) -> np.ndarray:
    """Centred moving average of ``x [S]`` over ``size`` (odd) samples, edges held (like
    ``scipy.ndimage.uniform_filter1d(mode="nearest")``), by a float64 cumulative sum."""
    x = np.asarray(x, dtype=np.float64)
    n, half = x.shape[0], size // 2
    if n == 0 or size <= 1:
        return x.copy()
    padded = np.concatenate([np.full(half, x[0]), x, np.full(half, x[-1])])
    c = np.concatenate([[0.0], np.cumsum(padded)])
    return (c[size : size + n] - c[:n]) / size


def oversampling(sr: int) -> int:
    """Upsampling factor for true-peak estimates: 4 below 96 kHz, 2 above."""
    return 4 if sr < 96000 else 2


def interpolation_filter(factor: int, taps_per_phase: int = TAPS_PER_PHASE) -> np.ndarray:
    """Low-pass FIR ``[factor * taps_per_phase + 1]`` for ``factor``-times upsampling (gain ``factor``,
    cut-off at the original Nyquist): a Kaiser-windowed sinc, as BS.1770's 48-tap example."""
    n = factor * taps_per_phase + 1  # odd: the centre tap lands on the original samples
    m = np.arange(n) - (n - 1) / 2.0
    return (np.sinc(m / factor) * np.kaiser(n, 8.0)).astype(np.float64)


@lru_cache(maxsize=4)
def _phases(factor: int) -> tuple[tuple[tuple[np.ndarray, int], ...], int, float]:
    """The polyphase branches of :func:`interpolation_filter` for phases ``1 .. factor - 1``
    (each ``(taps float32, first offset)``: phase ``k`` at ``n + k/factor`` is
    ``sum_i x[n - i] h[factor*i + k + centre]``), the input samples the filter reaches on
    each side, and the largest sum of |taps| over the phases: no interpolated value passes
    that many times the largest sample within reach (1.76 for the default filter at 4x)."""
    h = interpolation_filter(factor)
    centre = (h.size - 1) // 2
    reach = centre // factor
    offsets = np.arange(-reach, reach + 1)
    phases, bound = [], 1.0
    for k in range(1, factor):
        idx = factor * offsets + k + centre
        ok = (idx >= 0) & (idx < h.size)
        phases.append((h[idx[ok]].astype(np.float32), int(offsets[ok][0])))
        bound = max(bound, float(np.abs(h[idx[ok]]).sum()))
    return tuple(phases), reach, bound


def peak_bound(sr: int) -> float:
    """How far (a factor >= 1) the interpolated true peak at ``sr`` can pass the largest
    sample within the interpolator's reach, for any signal: a block whose samples, and its
    neighbours', stay under ``ceiling / peak_bound(sr)`` cannot have a true peak over ``ceiling``."""
    return _phases(oversampling(int(sr)))[2]


def _dilate(blocks: np.ndarray) -> np.ndarray:
    """``blocks [B]`` bool, and the blocks either side of a marked one (the interpolator's
    reach is under a block, so a block's edge samples read only their neighbours)."""
    out = blocks.copy()
    out[1:] |= blocks[:-1]
    out[:-1] |= blocks[1:]
    return out


def _block_max(peak: np.ndarray) -> np.ndarray:
    """Largest value of ``peak [S]`` per :data:`SKIP_BLOCK` samples ``[ceil(S / SKIP_BLOCK)]``."""
    n = peak.shape[0]
    blocks = -(-n // SKIP_BLOCK)
    full = n // SKIP_BLOCK
    out = np.empty(blocks, peak.dtype)
    out[:full] = peak[: full * SKIP_BLOCK].reshape(full, SKIP_BLOCK).max(axis=1)
    if blocks > full:
        out[full] = peak[full * SKIP_BLOCK :].max()
    return out


def _oversample(x: np.ndarray, peak: np.ndarray, loud: np.ndarray, sr: int) -> None:
    """Raise ``peak [S]`` (float32, at least the sample peak) to the true peak of ``x [C, S]``
    on the blocks marked in ``loud [blocks]``, in place.

    Each interpolated phase is one short convolution per run of marked blocks, read with
    ``reach + 1`` samples of context on both sides (zeros only at the signal's own ends), so
    the values equal a whole-signal pass; runs closer than :data:`MERGE_GAP` blocks are
    joined (oversampling a block between them gives the same values and saves a convolution
    call per run).
    """
    if not loud.any():
        return
    n = x.shape[-1]
    phases, reach, _ = _phases(oversampling(int(sr)))
    loud = loud.copy()
    gaps = np.flatnonzero(np.diff(np.concatenate([[0], loud.astype(np.int8), [0]])))
    for g0, g1 in zip(gaps[1:-1:2], gaps[2::2]):
        if g1 - g0 <= MERGE_GAP:
            loud[g0:g1] = True
    edges = np.flatnonzero(np.diff(np.concatenate([[0], loud.astype(np.int8), [0]])))
    runs = [(int(b0) * SKIP_BLOCK, min(n, int(b1) * SKIP_BLOCK)) for b0, b1 in zip(edges[::2], edges[1::2])]

    def some_runs(span: tuple[int, int]) -> None:  # runs write disjoint parts of ``peak``
        for a, b in runs[span[0] : span[1]]:
            lo, hi = max(0, a - reach - 1), min(n, b + reach + 1)
            for taps, first in phases:
                for ch in range(x.shape[0]):
                    y = np.abs(np.convolve(x[ch, lo:hi], taps)[-first : -first + (hi - lo)])
                    np.maximum(peak[a:b], y[a - lo : b - lo], out=peak[a:b])

    parallel.map_blocks(some_runs, parallel.split(len(runs)))


@lru_cache(maxsize=4)
def _window_taps(factor: int) -> np.ndarray:
    """The phases of :func:`_phases` as one matrix ``[2 reach + 1, factor - 1]`` float32 on the
    windows ``x[n - reach .. n + reach]``."""
    phases, reach, _ = _phases(factor)
    out = np.zeros((2 * reach + 1, len(phases)), np.float32)
    for k, (taps, first) in enumerate(phases):
        out[reach - first - np.arange(taps.size), k] = taps  # x[n - first - i] weighs taps[i]
    return out


#: Samples per gathered block of windows in :func:`_remeasure` (~1.6 MB).
WINDOW_CHUNK = 16384


def _remeasure(x: np.ndarray, peak: np.ndarray, idx: np.ndarray, sr: int) -> None:
    """Set ``peak[idx]`` to the true peak of ``x [C, S]`` at the samples ``idx`` (sorted), in
    place: their windows gathered and multiplied by the polyphase taps at once (no call per
    run, for the many short runs a limiter pass leaves)."""
    n = x.shape[-1]
    taps = _window_taps(oversampling(int(sr)))
    reach = taps.shape[0] // 2
    offsets = np.arange(-reach, reach + 1)
    for i in range(0, idx.size, WINDOW_CHUNK):
        at = idx[i : i + WINDOW_CHUNK]
        where = at[:, None] + offsets  # [m, 2 reach + 1]
        inside = (where >= 0) & (where < n)
        best = _sample_peak(x[:, at])
        for ch in range(x.shape[0]):
            windows = np.where(inside, x[ch, np.clip(where, 0, n - 1)], np.float32(0.0))
            np.maximum(best, np.abs(windows @ taps).max(axis=1), out=best)
        peak[at] = best


#: :func:`_remeasure` costs about this many times a block pass per sample (its gathered
#: windows against one convolution per run), measured on a limited 60 s render.
GATHER_COST = 2.25


def _measure_again(x: np.ndarray, peak: np.ndarray, exact: np.ndarray, sel: np.ndarray, floor: float,
                   sr: int) -> np.ndarray:
    """Bring the envelope ``peak [S]`` up to date after the samples ``sel`` of ``x [C, S]``
    changed (their gain was lowered), in place; returns the new ``exact`` blocks.

    Only the samples whose interpolation reads a changed one can move: sparse changes
    re-measure just those (:func:`_remeasure`; a lowered gain keeps a quiet block quiet and
    an exact one exact); dense ones re-measure their blocks and the neighbours, cheaper
    per sample."""
    n = x.shape[-1]
    idx = _near(sel, _phases(oversampling(int(sr)))[1], n)
    touched = np.zeros(exact.size, bool)
    touched[idx // SKIP_BLOCK] = True
    touched = _dilate(touched)
    if GATHER_COST * idx.size < SKIP_BLOCK * np.count_nonzero(touched):
        _remeasure(x, peak, idx, sr)
        return exact
    spans = np.minimum(np.flatnonzero(touched)[:, None] * SKIP_BLOCK + np.arange(SKIP_BLOCK), n - 1).ravel()
    peak[spans] = _sample_peak(x[:, spans])
    todo = touched & _dilate(_block_max(peak) >= floor)
    _oversample(x, peak, todo, sr)
    return (exact & ~touched) | todo


def _sample_peak(x: np.ndarray) -> np.ndarray:
    """``max |x|`` over the channels of ``x [C, S]``: ``[S]`` float32."""
    return np.abs(x[0]) if x.shape[0] == 1 else np.abs(x).max(axis=0)


def true_peak_envelope(wave: np.ndarray, sr: int, *, skip_below: float = 0.0,
                       where: np.ndarray | None = None) -> np.ndarray:
    """Per-sample true peak ``[S]`` of ``wave [C, S]``: the largest |x| of the oversampled
    signal within each sample period (the sample and the ``factor - 1`` points interpolated
    after it), over all channels.

    Each interpolated phase is one short convolution (the polyphase branches of
    :func:`interpolation_filter`). Samples whose block (:data:`SKIP_BLOCK`) and both
    neighbouring blocks peak under ``skip_below`` keep their sample peak: their true peak
    is at most :func:`peak_bound` times it, so a limiter whose ceiling is that far above
    need not look closer. With ``where`` (``[S]`` bool) only the blocks holding a marked
    sample (and their neighbours) are oversampled (only what a limiter changed can have new
    peaks); ``where`` may also be the marked samples' indices.
    """
    x = np.asarray(wave, dtype=np.float32)
    if x.ndim == 1:
        x = x[None]
    n = x.shape[-1]
    out = _sample_peak(x) if n else np.zeros(0, np.float32)
    if n == 0:
        return out.astype(np.float64)
    loud = _dilate(_block_max(out) >= skip_below)
    if where is not None:
        w = np.asarray(where)
        marked = np.zeros(loud.size, bool)
        marked[(np.flatnonzero(w) if w.dtype == bool else w) // SKIP_BLOCK] = True
        loud &= _dilate(marked)
    _oversample(x, out, loud, sr)
    return out.astype(np.float64)


def true_peak(wave: np.ndarray, sr: int) -> float:
    """True peak (linear) of ``wave [C, S]`` or ``[S]``; 0 for empty input."""
    x = np.asarray(wave)
    if x.size == 0:
        return 0.0
    return float(true_peak_envelope(x, sr).max())


def _near(idx: np.ndarray, reach: int, n: int) -> np.ndarray:
    """Sorted sample indices within ``reach`` of the sorted indices ``idx`` (in ``[0, n)``),
    built from the merged intervals (cost grows with the answer, not with ``n``)."""
    lo, hi = np.maximum(idx - reach, 0), np.minimum(idx + reach + 1, n)
    new = np.concatenate([[True], lo[1:] > hi[:-1]])  # an interval that does not touch the previous one
    starts = lo[new]
    ends = np.maximum.reduceat(hi, np.flatnonzero(new))
    lengths = ends - starts
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return np.arange(int(lengths.sum()), dtype=np.int64) + offsets


@dataclass
class Limited:
    """What :func:`limit_tracked` did.

    Attributes:
        out: ``[C, S]`` float32, true peak <= the ceiling.
        changed: ``[S]`` bool, the samples whose gain was lowered locally.
        trim: the global gain (<= 1) applied after that.
        peak: ``[S]`` float32 envelope of ``out``: its true peak on the ``exact`` blocks,
            its sample peak elsewhere (where the true peak cannot reach the ceiling).
        exact: ``[ceil(S / SKIP_BLOCK)]`` bool.
    """

    out: np.ndarray
    changed: np.ndarray
    trim: float
    peak: np.ndarray
    exact: np.ndarray


def limit_tracked(wave: np.ndarray, sr: int, ceiling: float, *, lookahead_s: float | None = None,
                  passes: int = 2, known: tuple[np.ndarray, np.ndarray] | None = None) -> Limited:
    """:func:`limit`, keeping track of what it did and of the output's true-peak envelope.

    ``known = (peak, exact)`` is an envelope of ``wave`` as :class:`Limited` gives one (e.g.
    an earlier result's envelope times the gain applied since: the true peak scales with
    the signal): its exact blocks are not oversampled again.

    Only blocks whose samples (or their neighbours') reach ``ceiling / peak_bound(sr)`` are
    oversampled (no other true peak can pass the ceiling). The gain differs from 1 only
    within ``2L`` samples of a sample over the ceiling, so the sliding minimum/mean run only
    on the samples within ``2L + 1`` of one (the samples between them are 1 in every window
    that reaches them: the same values as a whole-signal pass, up to the rounding of a
    shorter running sum), and after each pass only the samples within the interpolator's
    reach of a changed one are measured again.
    """
    out = np.asarray(wave, dtype=np.float32)
    n = out.shape[-1] if out.ndim else 0
    changed = np.zeros(n, bool)
    blocks = -(-n // SKIP_BLOCK)
    if out.size == 0:
        return Limited(out.copy(), changed, 1.0, np.zeros(n, np.float32), np.zeros(blocks, bool))
    x = out.reshape(-1, n)
    floor = ceiling / peak_bound(sr)
    if known is None:
        peak, exact = _sample_peak(x), np.zeros(blocks, bool)
    else:
        peak, exact = np.array(known[0], dtype=np.float32), np.array(known[1], dtype=bool)
    todo = _dilate(_block_max(peak) >= floor) & ~exact
    _oversample(x, peak, todo, sr)
    exact |= todo
    half = max(1, int(round((LOOKAHEAD_S if lookahead_s is None else lookahead_s) * sr)))
    size = 2 * half + 1
    copied = False
    for _ in range(max(1, passes)):
        over = np.flatnonzero(peak > ceiling)
        if over.size == 0:
            return Limited(out, changed, 1.0, peak, exact)
        sel = _near(over, 2 * half + 1, n)
        need = np.minimum(1.0, ceiling / np.maximum(peak[sel].astype(np.float64), 1e-12))
        gain = np.minimum(running_mean(running_min(need, size), size), need)
        if not copied:
            out, copied = out.copy(), True
            x = out.reshape(-1, n)
        out[..., sel] = (out[..., sel] * gain).astype(np.float32)
        changed[sel] = True
        exact = _measure_again(x, peak, exact, sel, floor, sr)
    left = float(peak.max())
    trim = 1.0
    if left > ceiling * (1.0 + ROUNDING):  # what the passes left (interpolation overshoot): a last, tiny global trim
        trim = ceiling / left
        out = (out * trim).astype(np.float32)
        peak *= np.float32(trim)
    return Limited(out, changed, trim, peak, exact)


def limit(wave: np.ndarray, sr: int, ceiling: float, *, lookahead_s: float | None = None,
          passes: int = 2) -> np.ndarray:
    """Lower the gain around peaks so the true peak of ``wave [C, S]`` stays <= ``ceiling``.

    Returns ``[C, S]`` float32; unchanged where no peak comes within ``lookahead_s``
    of passing the ceiling. Both channels get the same gain (the stereo image holds).
    """
    return limit_tracked(wave, sr, ceiling, lookahead_s=lookahead_s, passes=passes).out
