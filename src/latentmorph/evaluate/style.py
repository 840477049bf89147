"""Style reached: where the output's timbre sits between the source and the corpus.

Timbre frames are MFCCs 1..19 (the spectral envelope without loudness) of the frames
that are within 50 dB of each signal's peak. Distances are Fréchet distances between
Gaussian fits of two sets of frames, in a space standardised with the source and corpus
frames together, so every coefficient weighs the same.
"""

from __future__ import annotations

import math

import numpy as np

from latentmorph.evaluate import features as F

#: Frames quieter than this under the signal's peak are left out of timbre statistics.
ACTIVE_RANGE_DB = 50.0


def timbre_frames(x: np.ndarray, sr: int, *, n_mfcc: int = 20) -> np.ndarray:
    """MFCC 1..``n_mfcc - 1`` of the active frames of a mono signal, ``[frames, n_mfcc - 1]``."""
    n_fft = F.frame_size(sr)
    fb = F.mel_filters(sr, n_fft, 40)
    rows = F.project_power(x, sr, np.vstack([fb, np.ones((1, fb.shape[1]))]), n_fft=n_fft)  # 40 mel bands + total
    m = F._dct(n_mfcc, 40) @ np.log(np.maximum(rows[:-1], 1e-10))
    level = 10.0 * np.log10(np.maximum(rows[-1], 1e-20))
    active = level > level.max() - ACTIVE_RANGE_DB
    return m[1:, active].T


def frechet_distance(a: np.ndarray, b: np.ndarray, *, eps: float = 1e-6) -> float:
    """Fréchet distance between Gaussian fits of two frame sets ``[n, d]`` and ``[m, d]``.

    ``|mu_a - mu_b|^2 + tr(Ca + Cb - 2 (Ca Cb)^(1/2))``; 0 for identical statistics,
    grows without bound (squared units of the features).
    """
    if a.shape[0] < 2 or b.shape[0] < 2:
        return float("nan")
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    ca = np.cov(a, rowvar=False) + eps * np.eye(a.shape[1])
    cb = np.cov(b, rowvar=False) + eps * np.eye(b.shape[1])
    from scipy import linalg  # imported here, on first use: scipy.linalg is slow to import

    root = linalg.sqrtm(ca @ cb)
    if np.iscomplexobj(root):
        root = root.real
    value = float(((mu_a - mu_b) ** 2).sum() + np.trace(ca) + np.trace(cb) - 2.0 * np.trace(root))
    return max(0.0, value)


def standardised_timbre(out: np.ndarray, source: np.ndarray, corpus: list[np.ndarray], sr: int
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Timbre frames of output, source and pooled corpus, standardised by source + corpus together.

    Returns ``(out [n, 19], source [m, 19], corpus [k, 19])``, or ``None`` when any set has
    fewer than 8 active frames.
    """
    fo = timbre_frames(out, sr)
    fs = timbre_frames(source, sr)
    fc = np.concatenate([timbre_frames(c, sr) for c in corpus], axis=0) if corpus else np.zeros((0, fo.shape[1]))
    if min(fo.shape[0], fs.shape[0], fc.shape[0]) < 8:
        return None
    pooled = np.concatenate([fs, fc], axis=0)
    mu, sd = pooled.mean(axis=0), pooled.std(axis=0) + 1e-6
    return (fo - mu) / sd, (fs - mu) / sd, (fc - mu) / sd


def style_measures(out: np.ndarray, source: np.ndarray, corpus: list[np.ndarray], sr: int) -> tuple[dict, dict]:
    """Both timbre measures from one feature pass: ``(style ratio, Fréchet ratio)``.

    Style ratio ``d(out, corpus) / (d(out, corpus) + d(out, source))`` in [0, 1]: 0 = timbre
    at the corpus, 1 = timbre still the source's, < 0.5 = closer to the corpus than to the
    source; keys ``value``, ``d_corpus``, ``d_source``, ``d_source_corpus`` (how different
    the two inputs are: how much room there was to move).

    Fréchet ratio ``d(out, corpus) / d(source, corpus)`` >= 0: 0 = the output's timbre
    statistics are the corpus's, 1 = as far from the corpus as the source (unchanged),
    > 1 = farther; keys ``value``, ``d_corpus``, ``d_source_corpus``.

    ``d`` are Fréchet distances between timbre-frame distributions (module docstring).
    Values are NaN when a signal has too few active frames (or, for the Fréchet ratio,
    source and corpus share their statistics: nothing to move).

    Args:
        out, source: mono ``[samples]`` at ``sr``.
        corpus: list of mono ``[samples]`` arrays at ``sr`` (their frames are pooled).
    """
    nan = float("nan")
    sets = standardised_timbre(out, source, corpus, sr)
    if sets is None:
        return ({"value": nan, "d_corpus": nan, "d_source": nan, "d_source_corpus": nan},
                {"value": nan, "d_corpus": nan, "d_source_corpus": nan})
    fo, fs, fc = sets
    d_c, d_s, d_sc = frechet_distance(fo, fc), frechet_distance(fo, fs), frechet_distance(fs, fc)
    total = d_c + d_s
    ratio = {"value": float(d_c / total) if total > 0 else 0.5, "d_corpus": d_c, "d_source": d_s, "d_source_corpus": d_sc}
    fd = {"value": float(d_c / d_sc) if d_sc > 1e-9 else nan, "d_corpus": d_c, "d_source_corpus": d_sc}
    return ratio, fd


def style_ratio(out: np.ndarray, source: np.ndarray, corpus: list[np.ndarray], sr: int) -> dict:
    """Where the output's timbre sits between source (1) and corpus (0); see :func:`style_measures`."""
    return style_measures(out, source, corpus, sr)[0]


def frechet_ratio(out: np.ndarray, source: np.ndarray, corpus: list[np.ndarray], sr: int) -> dict:
    """Output's timbre distance to the corpus over the source's (0 = corpus, 1 = unchanged); see :func:`style_measures`."""
    return style_measures(out, source, corpus, sr)[1]


def timbre_position(out: np.ndarray, start: np.ndarray, end: np.ndarray, sr: int) -> float:
    """Where ``out``'s timbre sits on the way from ``start`` (0) to ``end`` (1), by distance share.

    ``W(out, start) / (W(out, start) + W(out, end))`` with ``W`` the square root of the
    Fréchet distance between timbre-frame Gaussians (the 2-Wasserstein distance, which
    moves in equal steps along a straight path between two Gaussians, where the squared
    Fréchet distance itself would not), in a space standardised by ``start`` and ``end``
    frames together. A steady morph puts strength ``s`` at position ``s``.

    Args:
        out, start, end: mono ``[samples]`` at ``sr``.

    Returns:
        A value in [0, 1]; NaN when a signal has fewer than 8 active frames.
    """
    fo, fa, fb = timbre_frames(out, sr), timbre_frames(start, sr), timbre_frames(end, sr)
    if min(fo.shape[0], fa.shape[0], fb.shape[0]) < 8:
        return float("nan")
    pooled = np.concatenate([fa, fb], axis=0)
    mu, sd = pooled.mean(axis=0), pooled.std(axis=0) + 1e-6
    fo, fa, fb = (fo - mu) / sd, (fa - mu) / sd, (fb - mu) / sd
    da, db = math.sqrt(frechet_distance(fo, fa)), math.sqrt(frechet_distance(fo, fb))
    return float(da / (da + db)) if da + db > 0 else 0.5


def steadiness(positions: np.ndarray | list[float], amounts: np.ndarray | list[float]) -> dict:
    """How steady a progression is: timbre ``positions`` measured at ``amounts`` (both ``[n]``).

    Returns:
        ``{"monotone": bool, "max_deviation": float}``: whether each position is at least
        the one before (within 0.02), and the largest ``|position - amount|`` (0 = every
        step equal; an equal-power crossfade of two sounds measured 0.2-0.6).
    """
    p, a = np.asarray(positions, np.float64), np.asarray(amounts, np.float64)
    return {"monotone": bool(np.all(np.diff(p) >= -0.02)), "max_deviation": float(np.max(np.abs(p - a)))}


def lagged_correlation(a: np.ndarray, b: np.ndarray, max_lag: int, *, block: int = 1 << 16) -> np.ndarray:
    """``c[lag + max_lag] = sum_t a[t + lag] * b[t]`` for ``lag`` in ``-max_lag..max_lag`` (zeros outside).

    Computed block by block with FFTs of ``~2 * block`` samples, so memory does not grow
    with the length (one FFT of the whole signal needed ~8 GB per hour at 22 kHz).
    """
    n = min(a.shape[-1], b.shape[-1])
    out = np.zeros(2 * max_lag + 1)
    size = 1 << int(math.ceil(math.log2(2 * block + 2 * max_lag)))
    for start in range(0, n, block):
        sb = b[start : min(n, start + block)]
        lo, hi = start - max_lag, start + sb.size + max_lag
        seg = a[max(0, lo) : min(n, hi)]
        seg = np.pad(seg, (max(0, -lo), max(0, hi - n)))  # a[start - max_lag : start + len + max_lag]
        c = np.fft.irfft(np.fft.rfft(seg, size) * np.conj(np.fft.rfft(sb, size)), size)
        out += c[: 2 * max_lag + 1]
    return out


def source_leakage(out: np.ndarray, source: np.ndarray, sr: int, *, max_lag_s: float = 0.05) -> dict:
    """How much of the source waveform is simply present in the output (e.g. the dry mix).

    The largest squared normalised cross-correlation between output and source over lags
    within ``max_lag_s``: the fraction of the output's energy explained by a delayed,
    scaled copy of the source.

    Returns:
        ``{"value", "lag_s"}``; ``value`` in [0, 1]: 1 = the output is the source, 0.04 =
        a 20% dry mix over an unrelated wet signal of equal level, ~0 = no waveform copy.
    """
    n = min(out.shape[-1], source.shape[-1])
    o, s = out[:n] - out[:n].mean(), source[:n] - source[:n].mean()
    eo, es = float((o * o).sum()), float((s * s).sum())
    if eo <= 0 or es <= 0:
        return {"value": float("nan"), "lag_s": 0.0}
    max_lag = min(int(round(max_lag_s * sr)), n - 1)
    xc = lagged_correlation(o, s, max_lag)  # lags -max..max
    lags = np.concatenate([xc[max_lag:], xc[:max_lag]])  # lag 0..max, then -max..-1
    lag_values = np.concatenate([np.arange(max_lag + 1), np.arange(-max_lag, 0)])
    best = int(np.argmax(np.abs(lags)))
    return {"value": float(lags[best] ** 2 / (eo * es)), "lag_s": float(lag_values[best] / sr)}
