"""Content kept from the source: loudness, onsets, harmony and melody.

Each function compares an output ``out`` with the ``source`` it was made from. Both are
mono float arrays ``[samples]`` at the same rate ``sr`` (see
:func:`latentmorph.evaluate.report.evaluate`, which mixes down and resamples for you);
the longer one is cut to the shorter. Scores are 1 when the output keeps the source's
structure perfectly (``out = source`` gives exactly 1) and about 0 for an unrelated signal.
"""

from __future__ import annotations

import math

import numpy as np

from latentmorph.audio.loudness import rms_envelope
from latentmorph.evaluate import features as F

#: Latency searched by the loudness correlation, in seconds (either direction).
MAX_LAG_S = 0.05
#: Onset match tolerance, in seconds.
ONSET_TOLERANCE_S = 0.05


def _same_length(out: np.ndarray, source: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = min(out.shape[-1], source.shape[-1])
    return out[..., :n], source[..., :n]


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    den = math.sqrt(float((a * a).sum()) * float((b * b).sum()))
    return float((a * b).sum() / den) if den > 0 else float("nan")


def loudness_db(x: np.ndarray, sr: int, *, range_db: float = 60.0) -> tuple[np.ndarray, float]:
    """Loudness envelope in dB: RMS over ~46 ms windows every ~11.6 ms, floored ``range_db`` under its peak.

    Returns:
        ``([frames], frame_rate)``.
    """
    n = F.frame_size(sr)
    hop = n // 4
    db = 20.0 * np.log10(np.maximum(rms_envelope(x, n, hop).astype(np.float64), 1e-10))
    return np.maximum(db, db.max() - range_db), sr / hop


def loudness_correlation(out: np.ndarray, source: np.ndarray, sr: int, *, max_lag_s: float = MAX_LAG_S) -> dict:
    """Pearson correlation of the two loudness envelopes (dB), at the best latency within ``max_lag_s``.

    Measures whether the output gets louder and softer when the source does.

    Returns:
        ``{"value": r, "lag_s": seconds}``; ``r`` in [-1, 1] (1 = same envelope shape,
        ~0 = unrelated); ``lag_s > 0`` means the output is late. ``r`` is NaN when either
        envelope is flat (e.g. digital silence).
    """
    out, source = _same_length(out, source)
    eo, rate = loudness_db(out, sr)
    es, _ = loudness_db(source, sr)
    max_lag = int(round(max_lag_s * rate))
    best, best_lag = float("nan"), 0
    for lag in range(-max_lag, max_lag + 1):
        a = eo[lag:] if lag >= 0 else eo[: lag]
        b = es[: es.size - lag] if lag >= 0 else es[-lag:]
        if a.size < 4:
            continue
        r = _pearson(a, b)
        if not math.isnan(r) and (math.isnan(best) or r > best):
            best, best_lag = r, lag
    return {"value": best, "lag_s": best_lag / rate}


def onsets(x: np.ndarray, sr: int) -> np.ndarray:
    """Onset times in seconds (spectral-flux peaks), ``[count]``."""
    env = F.onset_envelope(x, sr)
    rate = sr / (F.frame_size(sr) // 4)
    return F.pick_peaks(env, rate) / rate


def _f_measure(ref: np.ndarray, est: np.ndarray, tol: float) -> float:
    """F-measure of onset lists with one-to-one greedy matching within ``tol`` seconds."""
    if ref.size == 0 and est.size == 0:
        return 1.0
    if ref.size == 0 or est.size == 0:
        return 0.0
    used = np.zeros(est.size, dtype=bool)
    hits = 0
    for t in ref:
        lo, hi = np.searchsorted(est, [t - tol, t + tol + 1e-12])
        cand = [j for j in range(lo, hi) if not used[j]]
        if cand:
            j = min(cand, key=lambda k: abs(est[k] - t))
            used[j] = True
            hits += 1
    return 2.0 * hits / (ref.size + est.size)


def onset_agreement(
    out: np.ndarray, source: np.ndarray, sr: int, *, tolerance_s: float = ONSET_TOLERANCE_S, shuffles: int = 64, seed: int = 0
) -> dict:
    """Onset F-measure (within ``tolerance_s``) corrected for chance, kappa-style.

    Chance is the mean F-measure after circularly shifting the output's onsets by random
    offsets (which keeps their count and rhythm but not their alignment):
    ``value = (F - F_chance) / (1 - F_chance)``.

    Returns:
        ``{"value", "f_measure", "chance", "source_onsets", "out_onsets"}``; ``value`` <= 1
        (1 = same onsets, ~0 = no better than chance, negative = worse); NaN when the
        source has fewer than 2 onsets (nothing to keep).
    """
    out, source = _same_length(out, source)
    duration = source.shape[-1] / sr
    ref, est = onsets(source, sr), onsets(out, sr)
    f = _f_measure(ref, est, tolerance_s)
    result = {"f_measure": f, "source_onsets": int(ref.size), "out_onsets": int(est.size)}
    if ref.size < 2:
        return {"value": float("nan"), "chance": float("nan"), **result}
    rng = np.random.default_rng(seed)
    chance = []
    for shift in rng.uniform(2 * tolerance_s, max(duration - 2 * tolerance_s, 3 * tolerance_s), shuffles):
        chance.append(_f_measure(ref, np.sort((est + shift) % duration), tolerance_s))
    c = float(np.mean(chance))
    value = (f - c) / (1.0 - c) if c < 1.0 else float("nan")
    return {"value": float(value), "chance": c, **result}


def chroma_correlation(out: np.ndarray, source: np.ndarray, sr: int, *, range_db: float = 40.0) -> dict:
    """Correlation of pitch-class movement: how well the output follows the source's harmony over time.

    Each signal's chroma ``[12, frames]`` has its own average pitch-class profile removed, so
    two unrelated signals in the same key still score ~0; only frames where both signals
    are within ``range_db`` of their peak level count.

    Returns:
        ``{"value": r, "frames": n}``; ``r`` in [-1, 1] (1 = same harmonic movement);
        NaN when fewer than 8 frames are loud in both.
    """
    out, source = _same_length(out, source)
    co, cs = F.chroma(out, sr), F.chroma(source, sr)
    lo, _ = loudness_db(out, sr, range_db=200.0)
    ls, _ = loudness_db(source, sr, range_db=200.0)
    n = min(co.shape[1], cs.shape[1], lo.size, ls.size)
    keep = (lo[:n] > lo.max() - range_db) & (ls[:n] > ls.max() - range_db)
    if keep.sum() < 8:
        return {"value": float("nan"), "frames": int(keep.sum())}
    a, b = co[:, :n][:, keep], cs[:, :n][:, keep]
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    return {"value": _pearson(a.ravel(), b.ravel()), "frames": int(keep.sum())}


def pitch_agreement(
    out: np.ndarray, source: np.ndarray, sr: int, *, tolerance_cents: float = 50.0, min_voiced: float = 0.2
) -> dict:
    """Melody kept: share of the source's voiced frames where the output has the same pitch class.

    Pitch is tracked with YIN; a frame agrees when the output is voiced and its pitch is
    within ``tolerance_cents`` of the source's, octaves ignored (pitch trackers often
    jump an octave). Corrected for chance: a random pitch agrees with probability
    ``p = 2 * tolerance_cents / 1200``, so ``value = (accuracy - p) / (1 - p)``.

    Returns:
        ``{"value", "accuracy", "voiced_fraction"}``; ``value`` <= 1 (1 = same melody,
        ~0 = unrelated); NaN when the source is not monophonic-pitched enough (fewer than
        ``min_voiced`` of its loud frames voiced), e.g. drums, noise or chords.
    """
    out, source = _same_length(out, source)
    ps, po = F.yin(source, sr), F.yin(out, sr)
    n = min(ps.f0.size, po.f0.size)
    vs, vo = ps.voiced[:n], po.voiced[:n]
    frame_db = _frame_level_db(source, sr, ps.frame_rate, n)
    loud = frame_db > frame_db.max() - 40.0
    voiced_fraction = float(vs.sum() / max(1, loud.sum()))
    if vs.sum() < 10 or voiced_fraction < min_voiced:
        return {"value": float("nan"), "accuracy": float("nan"), "voiced_fraction": voiced_fraction}
    both = vs & vo
    cents = np.zeros(n)
    cents[both] = 1200.0 * np.log2(po.f0[:n][both] / ps.f0[:n][both])
    cents = (cents + 600.0) % 1200.0 - 600.0
    hit = both & (np.abs(cents) <= tolerance_cents)
    accuracy = float(hit.sum() / vs.sum())
    p = 2.0 * tolerance_cents / 1200.0
    return {"value": (accuracy - p) / (1.0 - p), "accuracy": accuracy, "voiced_fraction": voiced_fraction}


def _frame_level_db(x: np.ndarray, sr: int, frame_rate: float, frames: int) -> np.ndarray:
    hop = max(1, int(round(sr / frame_rate)))
    env = rms_envelope(x, 2 * hop, hop)[:frames].astype(np.float64)
    env = np.pad(env, (0, max(0, frames - env.size)))
    return 20.0 * np.log10(np.maximum(env, 1e-10))


def content_score(metrics: dict) -> float:
    """Mean of the available content values (each clipped to [0, 1]); NaN when none is available."""
    vals = [
        min(1.0, max(0.0, m["value"]))
        for m in metrics.values()
        if isinstance(m, dict) and "value" in m and not math.isnan(m["value"])
    ]
    return float(np.mean(vals)) if vals else float("nan")
