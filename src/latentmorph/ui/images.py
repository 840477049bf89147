"""Pictures for the page, drawn with numpy only (no matplotlib needed): spectrograms."""

from __future__ import annotations

import numpy as np

from latentmorph.evaluate.features import mono, power_spectrogram

#: Spectrogram image height (frequency bins shown) and widest image, in pixels.
HEIGHT = 200
MAX_WIDTH = 800

# a dark-to-bright ramp (black, purple, orange, pale yellow), 4 anchor colours
_ANCHORS = np.array([[0, 0, 4], [120, 28, 109], [237, 105, 37], [252, 255, 164]], dtype=np.float64)


def colourise(v: np.ndarray) -> np.ndarray:
    """Values in 0..1 ``[H, W]`` -> uint8 RGB ``[H, W, 3]`` along a perceptual dark-to-bright ramp."""
    v = np.clip(np.asarray(v, np.float64), 0.0, 1.0) * (len(_ANCHORS) - 1)
    i = np.minimum(v.astype(int), len(_ANCHORS) - 2)
    f = (v - i)[..., None]
    return np.round(_ANCHORS[i] * (1 - f) + _ANCHORS[i + 1] * f).astype(np.uint8)


def spectrogram_image(wave: np.ndarray, sr: int, *, range_db: float = 80.0) -> np.ndarray:
    """A log-frequency-ish spectrogram picture of ``wave`` (``[C, S]`` or ``[S]``, mixed to mono).

    Returns:
        uint8 RGB ``[HEIGHT, W, 3]``, low frequencies at the bottom, ``W <= MAX_WIDTH``
        columns (frames are averaged in groups for long sounds).
    """
    x = mono(wave)
    if x.size == 0:
        return np.zeros((HEIGHT, 1, 3), np.uint8)
    p = power_spectrogram(x, int(sr), n_fft=1024, hop=256)  # [513, T]
    group = max(1, int(np.ceil(p.shape[1] / MAX_WIDTH)))
    t = p.shape[1] // group * group
    if t == 0:
        t, group = p.shape[1], 1
    p = p[:, :t].reshape(p.shape[0], -1, group).mean(axis=2)
    # rows spaced on a square-root frequency scale: more room for the low bands
    rows = np.round((np.linspace(0.0, 1.0, HEIGHT) ** 2) * (p.shape[0] - 1)).astype(int)
    db = 10.0 * np.log10(p[rows] + 1e-12)
    db = (db - (db.max() - range_db)) / range_db
    return colourise(db[::-1])


__all__ = ["HEIGHT", "MAX_WIDTH", "colourise", "spectrogram_image"]
