"""A timbre in between two sounds: log-magnitude interpolation in the STFT domain.

A crossfade of two sounds is heard as two sounds, and where one is louder in a band that
band keeps its spectrum: an equal-power mix at 0.5 still sounded (and measured) mostly
like the louder-coloured one (the strength sweep's timbre distance was front- and
end-loaded, largest deviation 0.62 from a straight line on the dev pairs). Here each STFT
bin's magnitude is interpolated geometrically,

    |Z| = |X|^(1 - s) |Y|^s      (so  log|Z| = (1 - s) log|X| + s log|Y|),

which moves the log spectrum, and so the log-mel spectrum and the MFCCs that are linear
in it, along a straight line from ``x`` to ``y``. The phase is that of the linear mix
``(1 - s) X + s Y``: it is ``x``'s at 0 and ``y``'s at 1 and turns continuously in between
(no bin flips from one sound's phase to the other's at one strength). Each frame's energy
is set to the geometric interpolation of the two frames' energies (the geometric mean of
two independent spectra is ~1 dB quieter than either), so a morph of two sounds of the
same loudness envelope keeps that envelope at every ``s``.

Analysis and resynthesis are :func:`latentmorph.transfer.render.stft.process` (~46 ms Hann,
75 % overlap, exact resynthesis: ``s = 0`` gives ``x`` back to float precision).
"""

from __future__ import annotations

import numpy as np

from latentmorph.transfer.render.stft import process


def log_spectral_morph(x: np.ndarray, y: np.ndarray, amount: float, sr: int) -> np.ndarray:
    """Interpolate ``x`` (``amount`` 0) to ``y`` (1) in log magnitude, per STFT bin.

    Args:
        x, y: ``[samples]`` float signals of equal length at ``sr``.
        amount: 0..1 (0 returns ``x``, 1 returns ``y``, up to float rounding).
        sr: sample rate (sets the ~46 ms window).

    Returns:
        ``[samples]`` float32: magnitudes ``|X|^(1-s) |Y|^s``, the phase of
        ``(1-s) X + s Y``, each frame's energy ``E_x^(1-s) E_y^s``.
    """
    s = float(np.clip(amount, 0.0, 1.0))
    if y.shape[-1] != x.shape[-1]:
        raise ValueError(f"x and y differ in length ({x.shape[-1]} and {y.shape[-1]} samples)")
    tiny = np.float32(1e-12)

    def edit(_: int, spectra: list[np.ndarray]) -> np.ndarray:
        X, Y = spectra
        mx, my = np.abs(X), np.abs(Y)
        mag = np.exp((1.0 - s) * np.log(mx + tiny) + s * np.log(my + tiny))
        lin = (1.0 - s) * X + s * Y
        ml = np.abs(lin)
        phase = np.where(ml > tiny, lin / np.maximum(ml, tiny), np.where(mx >= my, X, Y) / np.maximum(np.maximum(mx, my), tiny))
        ex = np.sum(mx.astype(np.float64) ** 2, axis=-1, keepdims=True)
        ey = np.sum(my.astype(np.float64) ** 2, axis=-1, keepdims=True)
        ez = np.sum(mag.astype(np.float64) ** 2, axis=-1, keepdims=True)
        target = np.exp((1.0 - s) * np.log(ex + 1e-30) + s * np.log(ey + 1e-30))
        gain = np.sqrt(np.where(ez > 1e-30, target / np.maximum(ez, 1e-30), 0.0))
        return mag * phase * gain.astype(np.float32)

    return process([x, y], sr, edit)
