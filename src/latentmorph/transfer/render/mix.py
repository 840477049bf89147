"""Dry/wet mix and a safe output level."""

from __future__ import annotations

import numpy as np

from latentmorph.audio.length import fit_length

#: Peak the output never exceeds (about -0.1 dBFS).
PEAK_CEILING = 0.989


def dry_wet(wet: np.ndarray, dry: np.ndarray, amount: float) -> np.ndarray:
    """``amount * wet + (1 - amount) * dry`` on ``[C, S]`` arrays of equal shape.

    Both must already be latency-aligned (the renderers remove codec latency), so the
    mix never combs.
    """
    amount = float(np.clip(amount, 0.0, 1.0))
    if amount >= 1.0:
        return wet
    if amount <= 0.0:
        return dry.astype(np.float32, copy=True)
    return (amount * wet + (1.0 - amount) * dry).astype(np.float32)


def safe_level(wave: np.ndarray, ceiling: float = PEAK_CEILING) -> np.ndarray:
    """Replace NaN/Inf by 0 and scale the whole signal down if its peak passes ``ceiling``."""
    wave = np.nan_to_num(np.asarray(wave, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    peak = float(np.max(np.abs(wave))) if wave.size else 0.0
    if peak > ceiling:
        wave = wave * (ceiling / peak)
    return wave.astype(np.float32)


#: Largest gain :func:`match_level` applies (dB): a near-silent render is not blown up into noise.
MAX_MATCH_GAIN_DB = 30.0
#: Loudness matching stops when the output is within this many LU of the source.
MATCH_TOLERANCE_LU = 0.2


def match_level(wave: np.ndarray, source: np.ndarray, sr: int, *, ceiling: float = PEAK_CEILING,
                passes: int = 2, target: float | None = None) -> np.ndarray:
    """Give ``wave [C, S]`` the integrated loudness (BS.1770 LUFS) of ``source [C', S']``
    (same rate ``sr``), with a true-peak limiter at ``ceiling`` instead of a global gain.

    The limiter lowers peaks, which lowers the loudness a little: each pass measures the
    result again and makes up the difference (up to ``passes`` times). NaN/Inf become 0;
    a silent source or output gets no gain, only the limiter. ``target``: the source's
    integrated loudness when already measured (``integrated_lufs(source, sr)``).

    The output is K-weighted once; a pass re-measures it from that signal times the gain,
    re-filtering only the overlap-save frames the limiter changed (the filter is linear and
    each frame depends only on its own input), so a pass costs the limiter plus a
    re-filtering of what it touched instead of two whole measurements.

    Returns:
        ``[C, S]`` float32 with true peak (so also sample peak) <= ``ceiling``.
    """
    from latentmorph.transfer.render.limiter import limit, limit_tracked
    from latentmorph.transfer.render.loudness import block_energies, gated_loudness, integrated_lufs, k_weighted, refilter

    out = _finite(wave)
    if out.size == 0:
        return out
    target = integrated_lufs(_finite(source), sr) if target is None else float(target)
    if not np.isfinite(target):
        return limit(out.copy() if out is wave else out, sr, ceiling)
    weighted = k_weighted(out, sr)  # [C, max(S, block)]: what integrated_lufs measures
    total_db, limited, env = 0.0, False, None
    for i in range(max(1, passes)):
        have = gated_loudness(block_energies(weighted, sr))
        if not np.isfinite(have):
            break
        step = float(np.clip(target - have, -MAX_MATCH_GAIN_DB - total_db, MAX_MATCH_GAIN_DB - total_db))
        if abs(step) < MATCH_TOLERANCE_LU:
            break
        total_db += step
        gain = np.float32(10 ** (step / 20))
        # the last pass's true-peak envelope, scaled: only blocks that now come near the ceiling are oversampled
        env = limit_tracked(out * gain, sr, ceiling, known=None if env is None else (env.peak * gain, env.exact))
        out, changed, trim, limited = env.out, env.changed, env.trim, True
        if i + 1 < max(1, passes):  # the last pass's result is not measured again
            weighted *= gain * np.float32(trim)
            refilter(weighted, out, changed, sr)
    return out if limited else limit(out.copy() if out is wave else out, sr, ceiling)


def _finite(x: np.ndarray) -> np.ndarray:
    """``x`` as float32 with NaN/Inf as 0 (a copy only when a value must change or the type differs)."""
    x = np.asarray(x, dtype=np.float32)
    return x if np.isfinite(x).all() else np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)


def morph(wet: np.ndarray, source: np.ndarray, amount: float, sr: int) -> np.ndarray:
    """Level-matched morph from the source (``amount`` 0) to the rendered corpus sound (1).

    ``wet`` is first brought to the source's RMS level (per channel; a no-op after loudness
    following), then each channel is interpolated in log magnitude per STFT bin
    (:func:`~latentmorph.transfer.render.spectral_morph.log_spectral_morph`): the log
    spectrum, so the MFCCs, move along a straight line from the source's to the corpus
    sound's, and each frame keeps the level the two share. An equal-power crossfade
    (before) was a mix of two sounds, heard and measured as the louder-coloured one:
    its timbre progression was front- and end-loaded.

    Args:
        wet: ``[C, S]`` rendered corpus sound.
        source: ``[C, S']`` the source at the same rate (cut / zero-padded to ``S``).
        amount: 0..1.
        sr: their sample rate.
    """
    from latentmorph.transfer.render.spectral_morph import log_spectral_morph

    a = float(np.clip(amount, 0.0, 1.0))
    C, S = wet.shape
    src = fit_length(source, S)
    if a >= 1.0:
        return wet.astype(np.float32, copy=False)
    if a <= 0.0:
        return src.astype(np.float32, copy=True)
    rms_w = np.sqrt(np.mean(np.square(wet, dtype=np.float64), axis=-1, keepdims=True))
    rms_s = np.sqrt(np.mean(np.square(src, dtype=np.float64), axis=-1, keepdims=True))
    gain = np.where(rms_w > 1e-9, rms_s / np.maximum(rms_w, 1e-9), 0.0)
    level = (gain * wet).astype(np.float32)
    return np.stack([log_spectral_morph(src[c], level[c], a, sr) for c in range(C)]).astype(np.float32)
