"""Sanity checks on an output: broken samples, clipping, DC, silence, length and rate."""

from __future__ import annotations

import numpy as np

from latentmorph.audio.validate import SILENCE_PEAK

#: |sample| at or above this counts as clipped.
CLIP_LEVEL = 0.999
#: Share of clipped samples above which the output is flagged.
CLIP_FRACTION_LIMIT = 1e-4
#: |mean| above which the output is flagged for DC offset.
DC_LIMIT = 0.01
#: Allowed length difference to the source: the larger of 50 ms and 1 %.
LENGTH_TOLERANCE_S = 0.05


def sanity(out: np.ndarray, out_sr: int, source: np.ndarray | None = None, source_sr: int | None = None) -> dict:
    """Check an output array for problems a listener would hear (or a player refuse).

    Args:
        out: ``[channels, samples]`` or ``[samples]``, any float dtype; NaN/Inf allowed.
        source: the source, to compare length and sample rate (optional).

    Returns:
        ``nan`` / ``inf`` (counts), ``clip_fraction`` ([0, 1], share of samples with
        ``|x| >= 0.999``), ``dc_offset`` (mean per channel, worst channel, in [-1, 1] for
        normal audio), ``peak_db`` / ``rms_db`` (dBFS), ``silent`` (peak under -90 dBFS),
        ``length_s``, and with a source ``source_length_s``, ``length_match`` and
        ``sr_match`` (bools); ``problems`` lists what is wrong in words (empty = fine),
        ``ok`` is ``not problems``.
    """
    x = np.asarray(out)
    if x.dtype.kind != "f":
        x = x.astype(np.float32)  # float inputs keep their precision; sums below are float64
    if x.ndim == 1:
        x = x[None]
    n = x.shape[-1]
    finite = np.isfinite(x)
    nan, inf = int(np.isnan(x).sum()), int(np.isinf(x).sum())
    clean = np.where(finite, x, 0.0) if nan or inf else x
    del finite
    peak = float(np.abs(clean).max()) if clean.size else 0.0
    rms = float(np.sqrt(np.mean(np.square(clean, dtype=np.float64)))) if clean.size else 0.0
    dc = clean.mean(axis=-1, dtype=np.float64) if n else np.zeros(x.shape[0])
    dc_worst = float(dc[np.argmax(np.abs(dc))]) if dc.size else 0.0
    clip = float((np.abs(clean) >= CLIP_LEVEL).mean()) if clean.size else 0.0
    result: dict = {
        "nan": nan,
        "inf": inf,
        "clip_fraction": clip,
        "dc_offset": dc_worst,
        "peak_db": 20.0 * np.log10(max(peak, 1e-10)),
        "rms_db": 20.0 * np.log10(max(rms, 1e-10)),
        "silent": bool(peak < SILENCE_PEAK),
        "length_s": n / out_sr,
        "sample_rate": int(out_sr),
    }
    problems = []
    if nan or inf:
        problems.append(f"{nan} NaN and {inf} Inf samples")
    if n == 0:
        problems.append("no samples")
    if clip > CLIP_FRACTION_LIMIT:
        problems.append(f"{100 * clip:.2f}% of samples clipped")
    if abs(dc_worst) > DC_LIMIT:
        problems.append(f"DC offset {dc_worst:+.3f}")
    if result["silent"] and n:
        problems.append("silent")
    if source is not None and source_sr is not None:
        s = np.asarray(source)
        src_len = s.shape[-1] / source_sr
        tol = max(LENGTH_TOLERANCE_S, 0.01 * src_len)
        result["source_length_s"] = src_len
        result["length_match"] = bool(abs(result["length_s"] - src_len) <= tol)
        result["sr_match"] = bool(int(out_sr) == int(source_sr))
        if not result["length_match"]:
            problems.append(f"length {result['length_s']:.2f} s vs source {src_len:.2f} s")
        if not result["sr_match"]:
            problems.append(f"sample rate {out_sr} Hz vs source {source_sr} Hz")
    result["problems"] = problems
    result["ok"] = not problems
    return result
