"""Loudness following that keeps the render's low band clean: no DC, no rumble, no thumps.

Following multiplies the render by a gain curve ``g(t)`` that moves as fast as the source's
envelope (a third of a codec hop, ~8 ms). A product's spectrum is the render's spectrum
convolved with the gain's, so whatever the render holds near 0 Hz comes out as the gain
curve itself: a DC offset or rumble in a corpus recording becomes a low thump shaped like
the source's envelope, and the gain's fast moves spread some of every band downwards. A
corpus with nothing below a few hundred hertz (water, wind in the trees, cymbals) then
plays with a bass line it never had. Measured on drums_tabla -> water_ufoai (the corpus
has a DC offset 19 dB under its power and 0.3 % of its power below ~340 Hz): the output's
30-60 Hz band sat 36 dB over the corpus's and the timbre distance (FD ratio) was 0.58;
with this module 0.03 (docs/transfer.md, "Sound, run 6").

:func:`follow_in_band` therefore:

1. high-passes the render at :data:`DC_HZ` (20 Hz, second-order Butterworth, causal) so
   no DC or infrasound reaches the gain, and the source too, so the envelope followed is the
   one that is heard (a source's DC offset would otherwise set a floor under its pauses,
   which the output would fill with corpus sound);
2. finds the render's *weak bottom* (:func:`weak_bottom`): the frequency under which only
   :data:`LOW_SHARE` (0.3 %) of its power lies;
3. follows the source's loudness (:func:`~latentmorph.transfer.render.loudness.follow_loudness`);
4. when the weak bottom is above :data:`DC_HZ`, high-passes the result there, removing what
   the gain spread below the band the corpus plays in, and follows again, because a corpus
   with real bass (piano) loses some level to that filter and the envelope must stay the
   source's.

Causal filters, not zero-phase ones: a zero-phase filter rings *before* an attack, into the
quiet just ahead of it, where a log-spectrum notices it most (drums_tabla -> water_ufoai
0.15 zero-phase against 0.03 causal). The filters are biquads run in blocks of matrix
products (numpy only; :func:`latentmorph.audio.biquads.filter_biquads`).
"""

from __future__ import annotations

import numpy as np

from latentmorph import spectral
from latentmorph.audio import as_2d
from latentmorph.audio.biquads import filter_biquads
from latentmorph.transfer.render.loudness import follow_loudness

#: The render is high-passed here before following: DC and infrasound never meet the gain, Hz.
DC_HZ = 20.0
#: The weak bottom: the frequencies holding this share of the render's power, from 0 Hz up.
LOW_SHARE = 0.003
#: Window of the long-term spectrum that finds the weak bottom, seconds (~4096 samples at
#: 44.1 kHz: ~11 Hz bins), and the most windows it reads (spread over the signal).
SPECTRUM_WINDOW_S = 0.093
SPECTRUM_FRAMES = 128


def high_pass_section(sr: int, hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Second-order Butterworth high-pass at ``hz`` for rate ``sr``, as biquad ``(b, a)``
    (bilinear transform with pre-warping, ``Q = 1 / sqrt(2)``; -3 dB at ``hz``, -12 dB an
    octave below it)."""
    k = np.tan(np.pi * float(hz) / float(sr))
    q = 1.0 / np.sqrt(2.0)
    a0 = 1.0 + k / q + k * k
    b = np.array([1.0, -2.0, 1.0]) / a0
    a = np.array([1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0])
    return b, a


def high_pass(x: np.ndarray, sr: int, hz: float) -> np.ndarray:
    """``x [C, S]`` through :func:`high_pass_section` at ``hz`` (causal, zero initial state),
    ``[C, S]`` float32. ``hz`` must lie in ``(0, sr / 2)``."""
    if not 0.0 < float(hz) < 0.5 * float(sr):
        raise ValueError(f"high-pass frequency {hz} Hz is outside (0, {0.5 * sr}) Hz")
    return filter_biquads(x, (high_pass_section(int(sr), hz),))


def weak_bottom(x: np.ndarray, sr: int, share: float = LOW_SHARE) -> float:
    """The frequency in Hz under which ``share`` of the power of ``x [C, S]`` lies (0.0 for
    a signal shorter than one window or silent).

    From the mean power spectrum of at most :data:`SPECTRUM_FRAMES` Hann windows of
    :data:`SPECTRUM_WINDOW_S`, spread evenly over the signal, channels summed.
    """
    x = np.asarray(x, np.float32)
    n_fft = int(2 ** round(np.log2(SPECTRUM_WINDOW_S * sr)))
    if x.shape[-1] < n_fft:
        return 0.0
    view = spectral.frames(x, n_fft, n_fft // 2)  # [C, F, n_fft]
    pick = np.unique(np.linspace(0, view.shape[-2] - 1, min(SPECTRUM_FRAMES, view.shape[-2])).round().astype(int))
    power = (np.abs(np.fft.rfft(view[:, pick] * spectral.hann(n_fft).astype(np.float32), axis=-1)) ** 2).sum(axis=(0, 1))
    total = float(power.sum())
    if total <= 0.0:
        return 0.0
    k = int(np.searchsorted(np.cumsum(power, dtype=np.float64), share * total))
    return float(k * sr / n_fft)


def heard(source: np.ndarray, sr: int) -> np.ndarray:
    """What the follow reads of the source ``[C, S]`` (or ``[S]``): high-passed at :data:`DC_HZ`,
    ``[C, S]`` float32 (no DC offset, no infrasound)."""
    return high_pass(as_2d(source), sr, DC_HZ)


def follow_in_band(wet: np.ndarray, source: np.ndarray, sr: int, hop: int, *, passes: int = 2,
                   heard_source: np.ndarray | None = None, plays_source: np.ndarray | None = None) -> np.ndarray:
    """Loudness following (:func:`~latentmorph.transfer.render.loudness.follow_loudness`)
    that adds nothing under the render's own band (module docstring).

    Args:
        wet: ``[C, S]`` rendered audio at ``sr``.
        source: ``[C', S']`` the source at ``sr``.
        hop: envelope frame in samples; ``passes``: the follow's refinements.
        heard_source: :func:`heard` of ``source`` when already computed (the engine does
            it while matching runs).
        plays_source: ``[C, S]`` in [0, 1], 1 where the render is the source itself (kept
            frames): there neither high-pass applies (both would shift the source's phase,
            the cut would take its low band away).

    Returns:
        ``[C, S]`` float32 following the source's loudness per ``hop``.
    """
    x = _except_source(high_pass(wet, sr, DC_HZ), wet, plays_source)
    target = heard(source, sr) if heard_source is None else heard_source
    edge = weak_bottom(x, sr)
    y = follow_loudness(x, target, hop, passes=passes)
    if DC_HZ < edge < 0.5 * sr and (plays_source is None or not np.all(plays_source >= 1.0)):
        y = follow_loudness(_except_source(high_pass(y, sr, edge), y, plays_source), target, hop, passes=passes)
    return y


def _except_source(filtered: np.ndarray, original: np.ndarray, plays_source: np.ndarray | None) -> np.ndarray:
    """``filtered`` where the render is corpus sound, ``original`` where it is the source
    (``plays_source`` 1; a blend in between), ``[C, S]`` float32. The source's own samples
    keep their phase: its envelope is the target, so the gain there hardly moves."""
    if plays_source is None or not plays_source.any():
        return filtered
    return (filtered + plays_source * (np.asarray(original, np.float32) - filtered)).astype(np.float32)
