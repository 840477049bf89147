"""Loudness following keeps the render's low band clean (transfer/render/low_band.py)."""

from __future__ import annotations

import numpy as np
import pytest

from latentmorph.audio import load, resample
from latentmorph.evaluate.content import loudness_correlation
from latentmorph.evaluate.style import style_measures
from latentmorph.transfer import MemoryCorpus, transfer
from latentmorph.transfer.render.loudness import follow_loudness
from latentmorph.transfer.render.low_band import DC_HZ, follow_in_band, high_pass, high_pass_section, weak_bottom


def _band_share_db(x: np.ndarray, sr: int, lo: float, hi: float) -> float:
    """Mean over the active ~93 ms frames of ``x [C, S]`` of the dB share of its power in ``[lo, hi)`` Hz."""
    n = 4096
    fr = np.lib.stride_tricks.sliding_window_view(np.asarray(x, np.float64).sum(axis=0), n)[:: n // 4]
    p = np.abs(np.fft.rfft(fr * np.hanning(n), axis=-1)) ** 2
    f = np.fft.rfftfreq(n, 1.0 / sr)
    total = p.sum(axis=-1)
    active = total > total.max() * 1e-5
    return float(np.mean(10 * np.log10(p[active][:, (f >= lo) & (f < hi)].sum(axis=-1) / total[active] + 1e-30)))


def _hits(sr: int, seconds: float, rate: float = 4.0) -> np.ndarray:
    """``[1, S]`` a percussive source: 80 Hz + 160 Hz hits ``rate`` times a second, 60 ms decays."""
    t = np.arange(int(seconds * sr)) / sr
    env = np.exp(-(t % (1.0 / rate)) / 0.06)
    return (0.5 * env * (np.sin(2 * np.pi * 80 * t) + 0.5 * np.sin(2 * np.pi * 160 * t)))[None].astype(np.float32)


def _texture(sr: int, seconds: float, low_hz: float, dc: float, seed: int = 0) -> np.ndarray:
    """``[1, S]`` steady noise with nothing under ``low_hz`` plus a DC offset ``dc``."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    spec = np.fft.rfft(rng.standard_normal(n))
    spec[np.fft.rfftfreq(n, 1.0 / sr) < low_hz] = 0.0
    x = np.fft.irfft(spec, n)
    return (0.1 * x / x.std() + dc)[None].astype(np.float32)


def test_high_pass_is_the_causal_butterworth_biquad() -> None:
    """The overlap-save high-pass equals scipy's design run by lfilter, and a DC offset decays away."""
    from scipy.signal import butter, lfilter

    rng = np.random.default_rng(1)
    for sr, hz in ((44100, DC_HZ), (44100, 300.0), (16000, 55.0), (48000, 20.0)):
        b, a = high_pass_section(sr, hz)
        want_b, want_a = butter(2, hz, "highpass", fs=sr)
        np.testing.assert_allclose(b, want_b, rtol=1e-9)
        np.testing.assert_allclose(a, want_a, rtol=1e-9, atol=1e-12)
        x = (rng.standard_normal((2, 3 * sr)) + 0.3).astype(np.float32)
        got = high_pass(x, sr, hz)
        want = lfilter(want_b, want_a, x.astype(np.float64), axis=-1)
        assert got.shape == x.shape and got.dtype == np.float32
        np.testing.assert_allclose(got, want, atol=3e-5 * np.abs(want).max())
        assert abs(float(got[:, -sr:].mean())) < 0.01  # the offset is gone
    with pytest.raises(ValueError, match="outside"):
        high_pass(np.zeros((1, 100), np.float32), 8000, 4000.0)


def test_weak_bottom_finds_where_the_band_starts() -> None:
    sr = 44100
    # flat noise from 500 Hz up: 0.3 % of its power lies in its first 0.003 * 21.6 kHz = 65 Hz
    assert 540.0 <= weak_bottom(_texture(sr, 4.0, 500.0, 0.0), sr) <= 590.0
    white = np.random.default_rng(2).standard_normal((1, 4 * sr)).astype(np.float32)
    assert weak_bottom(white, sr) < 100.0  # 0.3 % of a flat spectrum lies under 0.003 * 22 kHz = 66 Hz
    assert weak_bottom(np.zeros((1, 4 * sr), np.float32), sr) == 0.0
    assert weak_bottom(white[:, :100], sr) == 0.0  # shorter than one window


def test_following_a_percussive_source_adds_no_bass_to_a_texture() -> None:
    """Percussive hits imposed on a DC-offset noise with nothing under 400 Hz: a plain follow
    turns the offset and the gain's fast moves into thumps under 100 Hz; the in-band follow
    keeps that band where the texture has it and the envelope the source's."""
    sr = 44100
    src, wet = _hits(sr, 4.0), _texture(sr, 4.0, 400.0, dc=0.05)
    hop = 341
    plain = follow_loudness(wet, src, hop, passes=4)
    clean = follow_in_band(wet, src, sr, hop, passes=4)
    assert _band_share_db(wet - wet.mean(), sr, 25.0, 100.0) < -100.0  # the texture has nothing there
    assert _band_share_db(plain, sr, 25.0, 100.0) > -30.0  # what this module is for
    assert _band_share_db(clean, sr, 25.0, 100.0) < -80.0
    assert loudness_correlation(clean, src, sr)["value"] >= 0.95
    assert loudness_correlation(clean, src, sr)["value"] >= loudness_correlation(plain, src, sr)["value"] - 0.02


def test_a_bass_render_keeps_its_bass_and_its_envelope() -> None:
    """A render whose power is in its 55 Hz fundamental has no weak bottom above DC_HZ: only
    the DC high-pass runs, and the fundamental keeps its level (within 0.5 dB)."""
    sr = 44100
    t = np.arange(4 * sr) / sr
    wet = (0.3 * np.sin(2 * np.pi * 55 * t) + 0.05 * np.sin(2 * np.pi * 110 * t))[None].astype(np.float32)
    assert weak_bottom(wet, sr) < DC_HZ + 40.0
    src = _hits(sr, 4.0, rate=2.0)
    clean = follow_in_band(wet, src, sr, 341, passes=4)
    plain = follow_loudness(wet, src, 341, passes=4)
    low = _band_share_db(clean, sr, 40.0, 70.0)
    assert low == pytest.approx(_band_share_db(plain, sr, 40.0, 70.0), abs=0.5)
    assert loudness_correlation(clean, src, sr)["value"] >= 0.95


def test_a_corpus_dc_offset_does_not_become_the_source_s_thumps(data_dir) -> None:  # noqa: ANN001
    """The bundled water excerpt carries a DC offset (12 dB under its power) and almost nothing
    under 300 Hz. Drums into it: the output's 30-60 Hz share stays near the corpus's (a plain
    follow put it at -17 dB, 44 dB over the corpus) and the timbre reaches the corpus (FD ratio
    0.81 with the plain follow, 0.05 now)."""
    src, sr = load(data_dir / "drums_amen.flac")
    water, wsr = load(data_dir / "water_ufoai.flac")
    out, osr = transfer(src, sr, index=MemoryCorpus.from_audio([(water, wsr)]))
    assert _band_share_db(out, osr, 30.0, 60.0) < _band_share_db(water, wsr, 30.0, 60.0) + 10.0
    rate = 22050
    fd = style_measures(*(resample(x[0], r, rate).astype(np.float64) for x, r in ((out, osr), (src, sr))),
                        [resample(water[0], wsr, rate).astype(np.float64)], rate)[1]["value"]
    assert fd < 0.2


def test_a_source_dc_offset_is_not_followed_into_its_pauses() -> None:
    """A source's DC offset is not heard, so the output does not fill the source's quiet ends of
    each hit with corpus sound at the offset's level: it follows as if there were no offset
    (-18.5 dB under the hits, against -12.5 dB for a plain follow)."""
    sr = 44100
    src = _hits(sr, 4.0) + np.float32(0.05)
    wet = _texture(sr, 4.0, 100.0, dc=0.0, seed=3)
    period = sr // 4
    quiet = np.concatenate([np.arange(k * period - sr // 20, k * period) for k in range(2, 16)])
    peaks = np.concatenate([np.arange(k * period, k * period + sr // 50) for k in range(2, 16)])

    def gap_db(y: np.ndarray) -> float:
        return float(10 * np.log10(np.mean(y[0, quiet] ** 2) / np.mean(y[0, peaks] ** 2)))

    plain = gap_db(follow_loudness(wet, src, 341, passes=4))
    clean = gap_db(follow_in_band(wet, src, sr, 341, passes=4))
    assert clean == pytest.approx(gap_db(follow_in_band(wet, _hits(sr, 4.0), sr, 341, passes=4)), abs=0.5)
    assert plain > clean + 4.0


def test_kept_source_frames_keep_their_own_low_band() -> None:
    """Where the render is the source itself (kept frames, ``plays_source`` 1) the cut under the
    weak bottom does not apply: the source's bass stays, sample for sample up to the DC high-pass."""
    sr = 44100
    n = 4 * sr
    t = np.arange(n) / sr
    bass = (0.05 * np.sin(2 * np.pi * 150 * t))[None].astype(np.float32)  # 0.1 % of the power
    wet = _texture(sr, 4.0, 400.0, dc=0.0) * 10.0  # a bright corpus: its weak bottom is ~400 Hz up
    wet[:, n // 2:] = bass[:, n // 2:]  # the second half plays the source
    assert weak_bottom(wet, sr) > 100.0
    keep = np.zeros((1, n), np.float32)
    keep[:, n // 2:] = 1.0
    steady = (0.2 * np.sin(2 * np.pi * 1000 * t))[None].astype(np.float32)  # a steady level: the gain moves only at the seam
    kept = follow_in_band(wet, steady, sr, 341, passes=4, plays_source=keep)
    cut = follow_in_band(wet, steady, sr, 341, passes=4)
    second = slice(n // 2 + sr // 4, n - sr // 4)
    assert np.corrcoef(kept[0, second], bass[0, second])[0, 1] > 0.99
    assert np.corrcoef(cut[0, second], bass[0, second])[0, 1] < 0.9  # the cut's phase shift at 150 Hz
