"""The sound of a transfer: output loudness, true peaks, strength, decode clicks, onsets."""

from __future__ import annotations

import numpy as np
import pytest

from latentmorph.audio import load
from latentmorph.evaluate.artefacts import click_times
from latentmorph.evaluate.content import onset_agreement
from latentmorph.evaluate.style import style_measures
from latentmorph.transfer import MemoryCorpus, transfer
from latentmorph.transfer.render.decode import jumps, smooth_jumps
from latentmorph.transfer.render.limiter import limit, true_peak
from latentmorph.transfer.render.loudness import integrated_lufs, k_weighting
from latentmorph.transfer.render.mix import PEAK_CEILING, match_level, morph


@pytest.fixture(scope="module")
def clip(data_dir):  # noqa: ANN001, ANN201
    def get(name: str, seconds: float, offset: float = 0.0) -> tuple[np.ndarray, int]:
        return load(data_dir / f"{name}.flac", offset=offset, duration=seconds)

    return get


@pytest.fixture(scope="module")
def wind(clip):  # noqa: ANN001, ANN201
    return MemoryCorpus.from_audio([clip("wind_ufoai", 6.0)])


def test_bs1770_known_answers() -> None:
    sr = 48000
    t = np.arange(5 * sr) / sr
    tone = np.sin(2 * np.pi * 997 * t)
    assert integrated_lufs(tone, sr) == pytest.approx(-3.01, abs=0.05)  # the standard's 0 dBFS sine, one channel
    assert integrated_lufs(np.stack([tone, tone]), sr) == pytest.approx(0.0, abs=0.05)  # two channels add
    quiet = 0.1 * tone
    assert integrated_lufs(quiet, sr) == pytest.approx(-23.01, abs=0.05)  # -20 dB of gain is -20 LU
    # gating: 20 s of silence after it barely count (ungated, the mean would fall by 7 dB)
    assert integrated_lufs(np.concatenate([quiet, np.zeros(20 * sr)]), sr) == pytest.approx(-23.01, abs=0.2)
    assert integrated_lufs(np.zeros(sr), sr) == float("-inf")
    (b, a), _ = k_weighting(48000)  # the standard's tabulated high-shelf at 48 kHz
    np.testing.assert_allclose(b, [1.53512485958697, -2.69169618940638, 1.19839281085285], atol=1e-9)
    np.testing.assert_allclose(a, [1.0, -1.69065929318241, 0.73248077421585], atol=1e-9)


def test_limiter_holds_true_peaks_and_leaves_quiet_audio_alone() -> None:
    sr = 44100
    t = np.arange(sr) / sr
    x = np.sin(2 * np.pi * (sr / 4) * t + np.pi / 4)[None] * 0.9  # fs/4 at 45 degrees: peaks between samples
    assert np.abs(x).max() == pytest.approx(0.9 / np.sqrt(2), abs=1e-6)
    assert true_peak(x, sr) == pytest.approx(0.9, abs=0.02)
    quiet = (0.3 * np.sin(2 * np.pi * 440 * t))[None].astype(np.float32)
    np.testing.assert_array_equal(limit(quiet, sr, PEAK_CEILING), quiet)
    hot = quiet.copy()
    hot[0, 20000:20100] *= 4.0  # a 1.2-peak burst
    out = limit(hot, sr, PEAK_CEILING)
    assert true_peak(out, sr) <= PEAK_CEILING + 1e-6
    np.testing.assert_array_equal(out[0, :19000], hot[0, :19000])  # gain only moves near the burst


def test_loud_and_quiet_sources_come_out_at_their_own_loudness(clip, wind) -> None:  # noqa: ANN001
    src, sr = clip("drums_amen", 3.0)
    for gain in (1.0, 0.05):  # about 0 dBFS peaks, and 26 dB lower
        s = (src * gain / np.abs(src).max()).astype(np.float32)
        out, osr = transfer(s, sr, index=wind)
        assert integrated_lufs(out, osr) == pytest.approx(integrated_lufs(s, sr), abs=1.0), gain
        assert true_peak(out, osr) <= PEAK_CEILING + 1e-6


def test_match_level_reaches_the_source_loudness_under_the_ceiling() -> None:
    rng = np.random.default_rng(3)
    sr = 22050
    src = (rng.normal(size=(2, 3 * sr)) * 0.3).astype(np.float32)  # peaks above 1
    wet = (rng.normal(size=(2, 3 * sr)) * 0.01).astype(np.float32)
    out = match_level(wet, src, sr)
    assert integrated_lufs(out, sr) == pytest.approx(integrated_lufs(src, sr), abs=0.5)
    assert true_peak(out, sr) <= PEAK_CEILING + 1e-6


def test_strength_is_a_level_matched_monotone_morph(clip) -> None:  # noqa: ANN001
    src, sr = clip("guitar_sectoid", 3.0)
    bells, bsr = clip("bells", 6.0)
    corpus = MemoryCorpus.from_audio([(bells, bsr)])
    lufs = integrated_lufs(src, sr)
    from latentmorph.evaluate.style import steadiness, timbre_position

    fd, level, outs = [], [], []
    amounts = (0.0, 0.3, 0.7, 1.0)
    for s in amounts:
        out, osr = transfer(src, sr, index=corpus, strength=s)
        outs.append(out[0].astype(np.float64))
        fd.append(style_measures(outs[-1], src[0].astype(np.float64), [bells[0].astype(np.float64)], sr)[1]["value"])
        level.append(integrated_lufs(out, osr) - lufs)
    steady = steadiness([timbre_position(o, outs[0], outs[-1], sr) for o in outs], amounts)
    assert steady["monotone"] and steady["max_deviation"] <= 0.12, steady  # equal steps of strength, equal steps of timbre
    assert fd[0] == pytest.approx(1.0, abs=0.05)  # strength 0: the source's own timbre distance
    assert all(b < a for a, b in zip(fd, fd[1:])), fd  # each step moves towards the corpus
    assert fd[-1] < 0.5 * fd[0]
    assert max(abs(d) for d in level) < 1.0, level  # and the loudness stays the source's


def _tone_and_noise(sr: int) -> tuple[np.ndarray, np.ndarray]:
    """A harmonic 220 Hz tone and a bright (differentiated) noise sharing one loudness envelope, ``[1, 2 s]``."""
    t = np.arange(2 * sr) / sr
    env = 0.5 + 0.5 * np.abs(np.sin(2 * np.pi * 1.5 * t))
    tone = sum(0.3 / k * np.sin(2 * np.pi * 220 * k * t) for k in range(1, 8)) * env
    noise = np.diff(np.random.default_rng(0).normal(size=t.size), prepend=0.0) * env * 0.2
    return tone[None].astype(np.float32), noise[None].astype(np.float32)


def test_morph_moves_the_timbre_in_equal_steps() -> None:
    """Strength 0.25 / 0.5 / 0.75 between a tone (source) and a noise (corpus) land at a
    quarter, half and three quarters of the way, by the timbre position (distance share) and
    by the MFCC mean; an equal-power crossfade, measured the same way, does not."""
    from latentmorph.evaluate.style import steadiness, timbre_frames, timbre_position

    sr = 22050
    tone, noise = _tone_and_noise(sr)
    amounts = (0.0, 0.25, 0.5, 0.75, 1.0)
    outs = [morph(noise, tone, a, sr)[0].astype(np.float64) for a in amounts]
    pos = [timbre_position(o, outs[0], outs[-1], sr) for o in outs]
    got = steadiness(pos, amounts)
    assert got["monotone"] and got["max_deviation"] <= 0.1, pos
    means = [timbre_frames(o, sr).mean(axis=0) for o in outs]
    line = means[-1] - means[0]
    share = [float((m - means[0]) @ line / (line @ line)) for m in means]  # MFCC mean along the straight line
    np.testing.assert_allclose(share, amounts, atol=0.1)
    rms = [20 * np.log10(np.sqrt(np.mean(o**2))) for o in outs[:-1]]
    assert max(rms) - min(rms) < 1.0, rms  # and the level stays the source's
    fades = [np.sqrt(a) * noise[0] + np.sqrt(1 - a) * tone[0] for a in amounts]  # the old equal-power mix
    old = [timbre_position(f.astype(np.float64), fades[0], fades[-1], sr) for f in fades]
    assert steadiness(old, amounts)["max_deviation"] > 0.2, old  # the measure tells a mix from a morph


def test_morph_of_a_sound_with_itself_gives_it_back_and_ends_are_exact() -> None:
    from latentmorph.transfer.render.spectral_morph import log_spectral_morph

    sr = 16000
    tone, noise = _tone_and_noise(sr)
    np.testing.assert_allclose(log_spectral_morph(noise[0], noise[0], 0.6, sr), noise[0], atol=1e-5)
    np.testing.assert_allclose(log_spectral_morph(tone[0], noise[0], 0.0, sr), tone[0], atol=1e-5)
    np.testing.assert_allclose(log_spectral_morph(tone[0], noise[0], 1.0, sr), noise[0], atol=1e-5)
    quiet = noise * 0.01  # 40 dB under the source: brought to its level first
    half = morph(quiet, tone, 0.5, sr)
    rms = lambda x: float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))  # noqa: E731
    assert 20 * np.log10(rms(half) / rms(tone)) == pytest.approx(0.0, abs=1.0)


def test_stft_process_gives_the_signal_back_across_blocks() -> None:
    from latentmorph.spectral import BLOCK_FRAMES
    from latentmorph.transfer.render.stft import layout, process

    sr = 16000
    hop = layout(1, sr)[1]
    x = np.random.default_rng(1).normal(size=(BLOCK_FRAMES + 300) * hop + 17).astype(np.float32)  # two blocks
    np.testing.assert_allclose(process([x], sr, lambda a, spectra: spectra[0]), x, atol=1e-5)
    half = process([x], sr, lambda a, spectra: 0.5 * spectra[0])
    np.testing.assert_allclose(half, 0.5 * x, atol=1e-5)


def test_a_one_db_tremolo_survives_a_corpus_of_attacks(clip) -> None:  # noqa: ANN001
    """A tone whose level moves by +-1 dB (3 Hz) into bells: the output keeps that movement
    (0.99 with loudness following's 4 passes; 0.92 with 2, the bells' strikes inside
    grains showing through)."""
    from latentmorph.evaluate.content import loudness_correlation

    sr = 16000
    t = np.arange(4 * sr) / sr
    src = (0.3 * np.sin(2 * np.pi * 330 * t) * 10 ** (np.sin(2 * np.pi * 3 * t) / 20)).astype(np.float32)
    out, osr = transfer(src, sr, corpus=[clip("bells", 8.0)])
    assert loudness_correlation(out.astype(np.float64), src.astype(np.float64), sr)["value"] >= 0.98


def test_decode_of_a_steady_tone_does_not_click(clip) -> None:  # noqa: ANN001
    sr = 44100
    t = np.arange(3 * sr) / sr
    tone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    bells, bsr = clip("bells", 6.0)
    out, osr = transfer(tone, sr, corpus=[(bells, bsr)], render="decode", continuity=0.0, avoid_repeat=0)
    inner = out[int(0.1 * osr) : -int(0.1 * osr)]
    assert click_times(inner, osr).size <= 1  # at most one in 2.8 s (was one per ~0.3 s on jumps)


def test_latents_are_softened_only_at_jumps() -> None:
    succ = np.array([1, 2, 3, -1, 5, 6, 7, -1])
    ids = np.array([0, 1, 2, 5, 6, 7])  # one jump, between frames 2 and 3
    j = jumps(ids, succ)
    np.testing.assert_array_equal(j, [False, False, False, True, False, False])
    lat = np.tile(np.array([0.0, 0.0, 0.0, 8.0, 8.0, 8.0], np.float32), (2, 1))
    out = smooth_jumps(lat, j)
    np.testing.assert_allclose(out[0], [0, 0, 2, 6, 8, 8])  # frames 2 and 3 meet halfway, the rest untouched


def test_a_click_track_keeps_its_onsets(clip, wind) -> None:  # noqa: ANN001
    sr = 44100
    track = np.zeros(4 * sr, np.float32)
    rng = np.random.default_rng(5)
    for beat in np.arange(0.25, 3.9, 0.5):  # 120 BPM: short decaying noise bursts
        i = int(beat * sr)
        n = int(0.06 * sr)
        track[i : i + n] += (rng.normal(size=n) * np.exp(-np.arange(n) / (0.01 * sr)) * 0.5).astype(np.float32)
    out, osr = transfer(track, sr, index=wind)
    got = onset_agreement(out.astype(np.float64), track.astype(np.float64), sr)
    assert got["value"] >= 0.6, got


def test_change_feature_marks_onsets_and_predecessors_follow_files() -> None:
    from latentmorph.transfer.render.onsets import change, predecessors, with_change

    succ = np.array([1, 2, -1, 4, -1])  # files [0 1 2] and [3 4]
    np.testing.assert_array_equal(predecessors(succ), [-1, 0, 1, -1, 3])
    feats = np.array([[0.0], [0.0], [5.0], [1.0], [1.0]], np.float32)  # frame 2 jumps
    d = change(feats, predecessors(succ))
    assert d[2] == d.max() and d[1] == d[4] < d[2]  # the jump is the change; sustains are not
    assert d[0] == d[3] == 0.0  # file starts have nothing to compare with
    assert with_change(feats, predecessors(succ), 2.0).shape == (5, 2)


def test_numpy_filters_equal_scipy_ones() -> None:
    """The limiter's running min/mean and the block-matrix K-weighting (numpy only, so a
    transfer does not import scipy.signal/ndimage) give what scipy's filters give."""
    from scipy.ndimage import minimum_filter1d, uniform_filter1d
    from scipy.signal import lfilter

    from latentmorph.transfer.render.limiter import running_mean, running_min
    from latentmorph.audio.biquads import filter_biquads

    rng = np.random.default_rng(3)
    for n in (1, 2, 5, 133, 134, 1000, 20011):
        for size in (1, 3, 7, 133):
            x = rng.random(n)
            np.testing.assert_array_equal(running_min(x, size), minimum_filter1d(x, size, mode="nearest"))
            np.testing.assert_allclose(running_mean(x, size), uniform_filter1d(x, size, mode="nearest"), atol=1e-12)
    for sr in (16000, 44100, 48000, 96000):
        x = rng.standard_normal((2, sr)).astype(np.float32)
        (b1, a1), (b2, a2) = k_weighting(sr)
        want = lfilter(b2, a2, lfilter(b1, a1, x.astype(np.float64), axis=-1), axis=-1)
        got = filter_biquads(x, k_weighting(sr))
        assert got.shape == x.shape
        np.testing.assert_allclose(got, want, atol=2e-5 * np.abs(want).max())


def test_a_low_rate_source_keeps_its_envelope_into_a_bright_corpus(clip) -> None:  # noqa: ANN001
    """An 8 kHz source (a harmonic tone with a +-1 dB, 2 Hz tremolo) into water: the render is
    band-limited to what 8 kHz keeps before the loudness follow, so the envelope that is heard
    is the source's. Following the whole band left r = 0.62: water's share above 4 kHz moves
    frame to frame and was cut after the follow."""
    from latentmorph.audio import band_limit
    from latentmorph.evaluate.content import loudness_correlation

    rate = 8000
    t = np.arange(4 * rate) / rate
    rng = np.random.default_rng(0)
    tone = sum(np.sin(2 * np.pi * k * 180 * t + rng.uniform(0, 6)) / k for k in range(1, 12))
    src = (0.2 * 10 ** (np.sin(2 * np.pi * 2.0 * t) / 20) * tone / np.abs(tone).max()).astype(np.float32)
    out, sr = transfer(src, rate, index=MemoryCorpus.from_audio([clip("water_ufoai", 10.0)]))
    assert sr == rate
    assert loudness_correlation(out.astype(np.float64), src.astype(np.float64), rate)["value"] >= 0.95
    # band_limit itself: what a resampling to 8 kHz keeps, at the original rate and length
    tt = np.arange(44100) / 44100
    both = (np.sin(2 * np.pi * 1000 * tt) + np.sin(2 * np.pi * 6000 * tt)).astype(np.float32)
    kept = band_limit(both, 44100, 8000)
    assert kept.shape == both.shape
    spec = np.abs(np.fft.rfft(kept[4410:-4410]))
    freqs = np.fft.rfftfreq(kept[4410:-4410].size, 1 / 44100)
    assert spec[np.argmin(np.abs(freqs - 1000))] > 100 * spec[np.argmin(np.abs(freqs - 6000))]
    np.testing.assert_array_equal(band_limit(both, 44100, 48000), both)  # nothing to cut
