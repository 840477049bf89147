"""Transient shaping: the output attacks where the source does, and only there.

A granular render reshuffles its spectrum all the time (a new corpus note, a jump between
grains: 15-40 per second), so a source onset is one spectral change among many and most
of the output's onsets are ones the source does not have (piano -> strings: 73 output
onsets for the source's 17; recall was fine, precision was not). Two stages, both on the
*weak top* of the spectrum: the frequencies above the point under which all but
:data:`SHARE` (5 %) of the power lies. That part is most of the spectrum's bands (and of a
log-mel onset measure, and of what is heard as an attack) but under 5 % of the power, so
changing it leaves the loudness envelope that the follow imposed.

1. :func:`hold_top`: between the source's attacks (:func:`source_attacks`), each weak STFT
   bin's energy is averaged over :data:`HOLD_S` (~46 ms), so a reshuffle changes the top
   smoothly and is no onset; frames within :data:`FREE_S` of an attack are left alone.
2. :func:`emphasize_onsets`: over :data:`DIP_S` (30 ms) before each attack the weak top is
   lowered by :data:`DEPTH_DB` (20 dB; :data:`HF_DEPTH_DB` above :data:`HF_HZ`, where a 20 dB
   step within ~20 ms reads as a click) and comes back over :data:`RISE_S` on the attack:
   every band rises together there, as in a plucked or struck sound.

:func:`shape_transients` runs both, after loudness following and before the morph and the
output level (``engine._finish``), unless ``TransferSettings.transients`` is off. Measured on
the dev pairs (docs/transfer.md, "Onsets, run 4" and "Sound, run 5"): chance-corrected onset
agreement 0.470 -> 0.591 at 50 % hold overlap, 0.628 at 75 % with the follow on a third of a
hop; on 7 held-out cross pairs 0.433 -> 0.595 / 0.605; timbre (FD ratio) 0.156 -> 0.160 /
0.167; clicks fewer.
"""

from __future__ import annotations

import numpy as np

from latentmorph import spectral
from latentmorph.audio import fit_length
from latentmorph.transfer.render.stft import layout, process

#: Length of the dip before each source attack, seconds (most of a ~46 ms analysis frame).
DIP_S = 0.030
#: How far the top of the spectrum is lowered in the dip, dB.
DEPTH_DB = 20.0
#: Above this frequency the dip is only :data:`HF_DEPTH_DB` deep.
HF_HZ = 8000.0
HF_DEPTH_DB = 10.0
#: Share of the power (of a dip stretch, of an STFT frame) in the weak top that both stages change.
SHARE = 0.05
#: Raised-cosine fade into the dip and the rise out of it (ending on the attack), seconds.
FADE_S = 0.005
RISE_S = 0.003
#: Width of the spectral edges (the cut-off, :data:`HF_HZ`), octaves.
EDGE_OCTAVES = 0.5
#: Lowest cut-off: the dip never reaches below this, Hz.
MIN_CUTOFF_HZ = 250.0
#: Audio processed on each side of a dip so the spectral mask's ringing stays outside it, seconds.
MARGIN_S = 0.025
#: An onset is moved to the sharpest rise of the source's ~2 ms level within this, seconds.
SEARCH_S = 0.015
FINE_S = 0.002
#: Onsets are found at this rate at most (``evaluate``'s analysis rate: 4x less work than 44.1 kHz).
ONSET_SR = 22050
#: STFT window of the hold, seconds (~23 ms: half the analysis frame, so the free zone is resolved).
HOLD_WINDOW_S = 0.023
#: Hops per hold window (4: 75 % overlap, the STFT module's default; 2 measured onsets 0.591 against
#: 0.621 on the dev pairs and 0.595 against 0.602 on the cross pairs, ~0.07 s less per 30 s).
HOLD_OVERLAP = 4
#: Between attacks, the weak top's energy is averaged per STFT bin over this, seconds.
HOLD_S = 0.046
#: Frames this close to a source attack keep their spectrum (the attack itself), seconds.
FREE_S = 0.025
#: Largest boost the hold gives a bin, dB (a bin in a gap is not blown up to its neighbours).
MAX_BOOST_DB = 6.0


def onset_times(x: np.ndarray, sr: int) -> np.ndarray:
    """Onset times in seconds ``[n]`` of ``x [S]``: what :func:`latentmorph.evaluate.content.onsets`
    finds (the same envelope and the rule of :func:`latentmorph.evaluate.features.pick_peaks`:
    the maximum within 50 ms on both sides, above the +-0.1 s moving mean by 0.3 standard
    deviations), with numpy filters, so a transfer does not import ``scipy.ndimage``
    (~0.2 s of start-up). The moving mean agrees with scipy's to ~1e-13 relative, so only a
    frame lying on the threshold within that rounding can be picked differently."""
    from latentmorph.evaluate import features
    from latentmorph.transfer.render.limiter import running_mean

    env = features.onset_envelope(x, sr)
    rate = sr / (features.frame_size(sr) // 4)
    if env.size < 3 or not np.any(env > 0):
        return np.zeros(0)
    gap = max(1, int(round(0.05 * rate)))
    padded = np.concatenate([np.zeros(gap), env, np.zeros(gap)])  # scipy's mode="constant"
    local_max = np.lib.stride_tricks.sliding_window_view(padded, 2 * gap + 1).max(axis=1)
    threshold = running_mean(env, max(3, int(round(0.2 * rate)) | 1)) + 0.3 * env.std()
    peaks = np.flatnonzero((env >= local_max) & (env > threshold) & (env > 0))
    if peaks.size > 1:  # plateaus: the first frame of equal neighbours
        peaks = peaks[np.concatenate([[True], np.diff(peaks) > gap])]
    return peaks / rate


def source_attacks(source: np.ndarray, sr: int) -> np.ndarray:
    """Sample positions ``[n]`` (sorted) of the source's attacks.

    The onsets of :func:`latentmorph.evaluate.content.onsets` (peaks of the summed log-mel
    rise, one ~11.6 ms frame of resolution; found at :data:`ONSET_SR` at most, as
    ``evaluate`` does; :func:`onset_times`), each moved to the steepest rise of the source's level over
    :data:`FINE_S` within :data:`SEARCH_S` of it, at ``sr``.

    Args:
        source: ``[C, S]`` or ``[S]`` audio at ``sr`` (channels are mixed).
    """
    from latentmorph.audio import resample
    from latentmorph.evaluate.features import mono

    x = mono(source, np.float32)
    if x.size < 4:
        return np.zeros(0, dtype=np.int64)
    rate = min(int(sr), ONSET_SR)
    coarse = (x if rate == sr else resample(x, int(sr), rate)).astype(np.float64)
    n = max(1, int(round(FINE_S * sr)))
    w = int(round(SEARCH_S * sr))
    out = []
    for t in np.round(onset_times(coarse, rate) * sr).astype(np.int64):
        lo, hi = max(0, t - w - n), min(x.size, t + w + n)  # windows of n starting in lo .. hi - n
        if hi - lo <= 2 * n:
            continue
        seg = x[lo:hi]
        c = np.concatenate([[0.0], np.cumsum(seg.astype(np.float64) ** 2)])
        level = np.log((c[n:] - c[:-n]) / n + 1e-12)  # mean square of the n samples from each start
        out.append(lo + int(np.argmax(level[n:] - level[:-n])) + n)  # first sample of the steepest rise's later window
    return np.unique(np.asarray(out, dtype=np.int64))


def _highpass(log2_freqs: np.ndarray, cutoff: float) -> np.ndarray:
    """``[F]`` 0 -> 1 raised-cosine edge in log frequency from ``cutoff`` up :data:`EDGE_OCTAVES`
    (``log2_freqs [F]``: log2 of the frequencies in Hz)."""
    pos = (log2_freqs - np.log2(cutoff)) / EDGE_OCTAVES
    return 0.5 - 0.5 * np.cos(np.pi * np.clip(pos, 0.0, 1.0))


def _fast(n: int) -> int:
    """The power of two at or above ``n`` (an FFT size that is always fast)."""
    return 1 << max(0, int(n) - 1).bit_length()


def _cutoff(stretch: np.ndarray, sr: int, top_hz: float) -> float:
    """Lowest frequency above which at most :data:`SHARE` of ``stretch [C, L]``'s power up to
    ``top_hz`` lies."""
    L = stretch.shape[-1]
    n = _fast(L)
    p = (np.abs(np.fft.rfft(stretch * spectral.hann(L), n=n, axis=-1)) ** 2).sum(axis=0)
    p = p[: int(np.floor(top_hz * n / sr)) + 1]
    total = p.sum()
    if total <= 0:
        return float("inf")
    tail = np.cumsum(p[::-1])[::-1] / total  # share at and above each bin
    k = int(np.argmax(tail <= SHARE))
    return max(float(k * sr / n), MIN_CUTOFF_HZ)


def _dip_shape(length: int, fade: int, rise: int) -> np.ndarray:
    """``[length]`` 0 -> 1 -> 0: raised-cosine fade in over ``fade``, 1, raised-cosine out over ``rise``."""
    w = np.ones(length)
    w[:fade] = 0.5 - 0.5 * np.cos(np.pi * (np.arange(fade) + 0.5) / fade)
    w[length - rise:] = 0.5 + 0.5 * np.cos(np.pi * (np.arange(rise) + 0.5) / rise)
    return w


def emphasize_onsets(wet: np.ndarray, source: np.ndarray, sr: int, *, top_hz: float | None = None,
                     attacks: np.ndarray | None = None) -> np.ndarray:
    """Dip the weak top of ``wet``'s spectrum before each source attack so it attacks on it.

    Args:
        wet: ``[C, S]`` the rendered output (level-followed), at ``sr``.
        source: ``[C', S']`` the source at ``sr`` (mixed to mono for its attacks; cut or
            zero-padded to ``S``).
        sr: sample rate of both.
        top_hz: the highest frequency the output will keep (half the output rate when it is
            resampled lower; default ``sr / 2``): the :data:`SHARE` is of the power below it.
        attacks: :func:`source_attacks` of ``source`` when already known.

    Returns:
        ``[C, S]`` float32: ``wet`` with, over :data:`DIP_S` before each attack (not
        overlapping the previous attack), the frequencies above that stretch's
        :data:`SHARE` cut-off lowered by :data:`DEPTH_DB` (:data:`HF_DEPTH_DB` above
        :data:`HF_HZ`); the same gain on every channel. Unchanged elsewhere.
    """
    x = np.array(wet, dtype=np.float32)  # a copy; each dip is worked out in float64
    C, S = x.shape
    if attacks is None:
        attacks = source_attacks(fit_length(source, S), sr)
    dip, fade, rise = (max(1, int(round(v * sr))) for v in (DIP_S, FADE_S, RISE_S))
    margin = int(round(MARGIN_S * sr))
    low, low_hf = 10 ** (-DEPTH_DB / 20), 10 ** (-HF_DEPTH_DB / 20)
    top = 0.5 * sr if top_hz is None else min(float(top_hz), 0.5 * sr)
    grids: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # FFT size -> (log2 frequencies, 1 - dip gain)
    prev = 0
    for a in attacks:
        start = max(prev, a - dip)
        prev = max(prev, int(a))
        if a - start < fade + rise or a > S:
            continue
        cutoff = _cutoff(x[:, start:a], sr, top)
        if not np.isfinite(cutoff) or cutoff >= top:
            continue
        lo, hi = max(0, start - margin), min(S, a + margin)
        n = _fast(hi - lo)  # zero-padded: the mask's short ringing stays in the margins
        if n not in grids:
            log2f = np.log2(np.maximum(np.fft.rfftfreq(n, 1.0 / sr), 1e-3))
            grids[n] = log2f, 1.0 - (low + (low_hf - low) * _highpass(log2f, HF_HZ))  # 1 - the gain it dips to
        log2f, depth = grids[n]
        mask = _highpass(log2f, cutoff) * depth  # the part of the signal taken away
        part = np.fft.irfft(np.fft.rfft(x[:, lo:hi].astype(np.float64), n=n, axis=-1) * mask, n=n, axis=-1)[:, : hi - lo]
        shape = np.zeros(hi - lo)
        shape[start - lo: a - lo] = _dip_shape(a - start, fade, rise)
        x[:, lo:hi] -= (shape * part).astype(np.float32)
    return x


def _attack_frames(attacks: np.ndarray, count: int, n_fft: int, hop: int, sr: int) -> np.ndarray:
    """``[count]`` bool: STFT frames (:func:`~latentmorph.transfer.render.stft.layout`) whose
    centre is within :data:`FREE_S` of an attack."""
    centres = np.arange(count) * hop + hop - n_fft / 2  # frame f starts at f * hop - (n_fft - hop)
    near = np.zeros(count, dtype=bool)
    if attacks.size:
        i = np.clip(np.searchsorted(attacks, centres), 1, attacks.size) if attacks.size > 1 else np.zeros(count, int)
        d = np.abs(attacks[np.minimum(i, attacks.size - 1)] - centres)
        if attacks.size > 1:
            d = np.minimum(d, np.abs(attacks[i - 1] - centres))
        near = d <= FREE_S * sr
    return near


def hold_top(wet: np.ndarray, source: np.ndarray, sr: int, *, top_hz: float | None = None,
             attacks: np.ndarray | None = None) -> np.ndarray:
    """Between source attacks, average the energy of the weak top of ``wet``'s spectrum over time.

    Per STFT frame (:mod:`~latentmorph.transfer.render.stft`, :data:`HOLD_WINDOW_S`, 75 % overlap) the bins
    above the point where only :data:`SHARE` of the frame's power (up to ``top_hz``) lies
    get the energy of that bin averaged over :data:`HOLD_S` (at most :data:`MAX_BOOST_DB`
    up); frames within :data:`FREE_S` of a source attack are left alone. A grain jump or a
    corpus note then changes the top of the spectrum smoothly, so it is no onset, while
    the level moves by at most ``SHARE`` of the power.

    Args:
        wet: ``[C, S]`` rendered audio at ``sr``.
        source: ``[C', S']`` the source at ``sr`` (for its attacks).
        top_hz: highest frequency the output keeps (default ``sr / 2``).
        attacks: :func:`source_attacks` of ``source`` when already known.

    Returns:
        ``[C, S]`` float32, the same gains on every channel.
    """
    x = np.asarray(wet, dtype=np.float32)
    C, S = x.shape
    n_fft, hop, pad, count = layout(S, sr, HOLD_WINDOW_S, HOLD_OVERLAP)
    top = 0.5 * sr if top_hz is None else min(float(top_hz), 0.5 * sr)
    bins = np.arange(n_fft // 2 + 1)
    k_top = int(np.floor(top * n_fft / sr))
    k_min = int(np.ceil(MIN_CUTOFF_HZ * n_fft / sr))
    if k_top <= k_min:
        return x.copy()
    if attacks is None:
        attacks = source_attacks(fit_length(source, S), sr)
    free = _attack_frames(attacks, count, n_fft, hop, sr)
    width = max(1, int(round(HOLD_S * sr / hop)))
    halo = width // 2 + 1
    window = spectral.hann(n_fft).astype(np.float32)
    framed = spectral.frames(x, n_fft, hop, pad=(pad, 0), count=count)  # [C, count, n_fft]
    boost = np.float32(10 ** (MAX_BOOST_DB / 10))  # largest power ratio
    weak_bins = (bins >= k_min) & (bins <= k_top)

    def gains(a: int, first: np.ndarray) -> np.ndarray:
        """``[n, bins]`` float32 gains for frames ``a .. a + n``; ``first [n, bins]`` is channel 0's spectra."""
        n = first.shape[0]
        lo, hi = max(0, a - halo), min(count, a + n + halo)
        p = np.zeros((hi - lo, bins.size), np.float32)
        p[a - lo: a - lo + n] = np.abs(first) ** 2
        for ch in range(C):  # the halo frames of channel 0, every frame of the others
            rows = [(lo, a), (a + n, hi)] if ch == 0 else [(lo, hi)]
            for r0, r1 in rows:
                if r1 > r0:
                    p[r0 - lo: r1 - lo] += np.abs(np.fft.rfft(framed[ch, r0:r1] * window, axis=-1)) ** 2
        p[:, k_top + 1:] = 0.0
        tail = np.cumsum(p[:, ::-1], axis=-1)[:, ::-1]  # power at and above each bin
        weak = (tail <= np.float32(SHARE) * tail[:, :1]) & weak_bins & ~free[lo:hi, None]
        mean = np.zeros_like(p)  # the bin's energy over HOLD_S (frames i - width // 2 .. ; fewer at the ends)
        terms = np.zeros((p.shape[0], 1), np.float32)
        for k in range(-(width // 2), width - width // 2):
            if abs(k) >= p.shape[0]:  # a signal shorter than the averaging span: nothing that far
                continue
            dst, src = slice(max(0, -k), p.shape[0] - max(0, k)), slice(max(0, k), p.shape[0] + min(0, k))
            mean[dst] += p[src]
            terms[dst] += 1
        mean /= terms
        ratio = np.minimum(mean / np.maximum(p, np.float32(1e-30)), boost)
        g = np.sqrt(np.where(weak, ratio, np.float32(1.0)))
        return g[a - lo: a - lo + n]

    cache: dict[int, np.ndarray] = {}  # block -> channel 0's gains, for the other channels (float16: within [0, 2])
    out = np.empty_like(x)
    for ch in range(C):
        def edit(a: int, spectra: list[np.ndarray], ch: int = ch) -> np.ndarray:
            if ch > 0:
                return spectra[0] * cache[a]
            g = gains(a, spectra[0])
            if C > 1:
                cache[a] = g.astype(np.float16)
            return spectra[0] * g

        out[ch] = process([x[ch]], sr, edit, window_s=HOLD_WINDOW_S, overlap=HOLD_OVERLAP)
    return out


def shape_transients(wet: np.ndarray, source: np.ndarray, sr: int, *, top_hz: float | None = None,
                     attacks: np.ndarray | None = None) -> np.ndarray:
    """The render's transient stage: :func:`hold_top` then :func:`emphasize_onsets`.

    The top of the output's spectrum holds still between the source's attacks and attacks
    on them. ``wet [C, S]`` and ``source [C', S']`` at ``sr``; returns ``[C, S]`` float32.
    ``attacks``: :func:`source_attacks` of ``source`` (cut or padded to ``S``) when already
    known (the engine measures them while matching runs).
    """
    if attacks is None:
        attacks = source_attacks(fit_length(source, np.shape(wet)[-1]), sr)
    held = hold_top(wet, source, sr, top_hz=top_hz, attacks=attacks)
    return emphasize_onsets(held, source, sr, top_hz=top_hz, attacks=attacks)
