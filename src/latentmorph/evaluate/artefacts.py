"""Artefacts: clicks (sample-level discontinuities) and spectral-flux spikes.

Rates are per second of audio, so an output can be compared with its corpus: grain
concatenation should not click more often than the corpus recordings themselves.
"""

from __future__ import annotations

import numpy as np

from latentmorph.evaluate import features as F

#: A click is a second difference this many times above its local typical level.
CLICK_FACTOR = 12.0
#: Block over which the local level of the second difference is measured, seconds.
CLICK_BLOCK_S = 0.003
#: Detections closer than this are one click, seconds.
CLICK_MERGE_S = 0.005


def click_times(x: np.ndarray, sr: int, *, factor: float = CLICK_FACTOR, floor: float = 1e-3) -> np.ndarray:
    """Times (seconds) of clicks: jumps in the waveform that stand out from the local texture.

    The second difference ``x[n+1] - 2x[n] + x[n-1]`` is large where the waveform breaks
    (a discontinuity in value or slope); its local level is the median over +-7 blocks of
    the per-block RMS (~3 ms blocks). A click is where it exceeds ``factor`` times that
    level and the absolute ``floor`` (so -60 dB hiss never counts); detections within 5 ms
    merge into one.
    """
    x = np.asarray(x, dtype=np.float32)  # float32 halves the peak on long files; clicks are far above its precision
    if x.size < 8:
        return np.zeros(0)
    d2 = np.abs(np.diff(x, 2))
    block = max(8, int(round(CLICK_BLOCK_S * sr)))
    nb = -(-d2.size // block)
    d2 = np.pad(d2, (0, nb * block - d2.size)).reshape(nb, block)  # zeros at the end never exceed the floor
    rms = np.sqrt(np.einsum("ij,ij->i", d2, d2, dtype=np.float64) / block)  # no squared copy of the signal
    from scipy.ndimage import median_filter  # imported here: scipy.ndimage costs ~0.3 s to import

    level = median_filter(rms, size=15, mode="nearest")
    # the floor under ``level`` keeps the detector sane in digital silence
    level = np.maximum(level, 1e-6)
    threshold = np.maximum(factor * level, floor).astype(np.float32)  # one value per block
    hits = np.flatnonzero(d2 > threshold[:, None]) + 1
    del d2
    if hits.size == 0:
        return np.zeros(0)
    keep = np.concatenate([[True], np.diff(hits) > CLICK_MERGE_S * sr])
    return hits[keep] / sr


def click_rate(x: np.ndarray, sr: int) -> float:
    """Clicks per second (see :func:`click_times`); >= 0, ~0 for smooth signals."""
    return float(click_times(x, sr).size / max(x.shape[-1] / sr, 1e-9))


def flux_spike_times(x: np.ndarray, sr: int, *, factor: float = 6.0) -> np.ndarray:
    """Times (seconds) of abrupt spectral changes: spectral flux above median + ``factor`` x MAD.

    The median and MAD are taken over +-0.5 s, so a busy drum loop is judged against
    its own busyness.
    """
    from scipy.ndimage import median_filter  # imported here: scipy.ndimage costs ~0.3 s to import

    flux = F.spectral_flux(x, sr)
    rate = sr / (F.frame_size(sr) // 4)
    size = max(3, int(rate) | 1)
    med = median_filter(flux, size=size, mode="nearest")
    mad = median_filter(np.abs(flux - med), size=size, mode="nearest")
    spikes = F.pick_peaks(np.maximum(flux - med - factor * (mad + 1e-3), 0.0), rate, delta=0.0)
    return spikes / rate


def flux_spike_rate(x: np.ndarray, sr: int) -> float:
    """Spectral-flux spikes per second (see :func:`flux_spike_times`); >= 0."""
    return float(flux_spike_times(x, sr).size / max(x.shape[-1] / sr, 1e-9))


def _unexplained(events: np.ndarray, reference: np.ndarray, tolerance_s: float) -> np.ndarray:
    """Events with no reference event within ``tolerance_s`` (both sorted, in seconds)."""
    if events.size == 0 or reference.size == 0:
        return events
    idx = np.searchsorted(reference, events)
    left = np.abs(events - reference[np.clip(idx - 1, 0, reference.size - 1)])
    right = np.abs(reference[np.clip(idx, 0, reference.size - 1)] - events)
    return events[np.minimum(left, right) > tolerance_s]


def artefact_report(
    out: np.ndarray,
    sr: int,
    corpus: list[np.ndarray] | None = None,
    *,
    source: np.ndarray | None = None,
    boundaries: np.ndarray | None = None,
    window_s: float = 0.005,
) -> dict:
    """Click and flux-spike rates of the output, and relative to the corpus's own rates.

    A transfer should keep the source's attacks, so with a ``source`` only the events the
    source does not explain count as artefacts: clicks more than 5 ms and flux spikes
    more than 50 ms away from one of the source's own.

    Args:
        out: mono ``[samples]`` at ``sr``.
        corpus: mono ``[samples]`` arrays at ``sr`` (rates pooled over their total length).
        source: mono ``[samples]`` at ``sr`` (optional).
        boundaries: optional grain-boundary positions in the output, in samples at ``sr``.

    Returns:
        Per second (>= 0): ``click_rate`` and ``flux_spike_rate`` (all events),
        ``extra_click_rate`` and ``extra_flux_spike_rate`` (events the source does not
        explain; equal to the totals without a source). With a corpus:
        ``corpus_click_rate``, ``corpus_flux_spike_rate``, and ``click_ratio`` /
        ``flux_spike_ratio`` = extra rate / corpus rate (<= 1: no more artefacts than the
        corpus recordings have themselves; both rates floored at 0.1/s so a click-free
        corpus does not divide by 0). With boundaries, ``boundary_click_fraction``: share
        of grain boundaries with a click within ``window_s``, in [0, 1].
    """
    seconds = max(out.shape[-1] / sr, 1e-9)
    clicks = click_times(out, sr)
    spikes = flux_spike_times(out, sr)
    result: dict = {"click_rate": clicks.size / seconds, "flux_spike_rate": spikes.size / seconds}
    extra_clicks, extra_spikes = clicks, spikes
    if source is not None:
        extra_clicks = _unexplained(clicks, click_times(source, sr), CLICK_MERGE_S)
        extra_spikes = _unexplained(spikes, flux_spike_times(source, sr), 0.05)
    result["extra_click_rate"] = extra_clicks.size / seconds
    result["extra_flux_spike_rate"] = extra_spikes.size / seconds
    if corpus:
        total = sum(c.shape[-1] for c in corpus) / sr
        cc = sum(click_times(c, sr).size for c in corpus) / max(total, 1e-9)
        cf = sum(flux_spike_times(c, sr).size for c in corpus) / max(total, 1e-9)
        result.update(
            corpus_click_rate=cc,
            corpus_flux_spike_rate=cf,
            click_ratio=max(result["extra_click_rate"], 0.1) / max(cc, 0.1),
            flux_spike_ratio=max(result["extra_flux_spike_rate"], 0.1) / max(cf, 0.1),
        )
    if boundaries is not None and len(boundaries):
        b = np.sort(np.asarray(boundaries, dtype=np.float64) / sr)
        near = b.size - _unexplained(b, clicks, window_s).size
        result["boundary_click_fraction"] = float(near / b.size)
    return result
