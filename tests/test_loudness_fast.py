"""The fast loudness stage equals straightforward references: BS.1770 by direct IIR filtering
(scipy.signal.lfilter, the standard's biquads), the limiter computed over the whole signal,
and loudness matching that measures every pass from scratch."""

from __future__ import annotations

import numpy as np
import pytest

from latentmorph.audio import load
from latentmorph.transfer.render import limiter
from latentmorph.transfer.render.loudness import k_weighted, k_weighting, integrated_lufs, refilter
from latentmorph.transfer.render.mix import MATCH_TOLERANCE_LU, MAX_MATCH_GAIN_DB, PEAK_CEILING, match_level

scipy_signal = pytest.importorskip("scipy.signal")
ndimage = pytest.importorskip("scipy.ndimage")


def reference_lufs(x: np.ndarray, sr: int) -> float:
    """BS.1770-4 the plain way: lfilter in float64, block loop, two gates."""
    x = np.atleast_2d(np.asarray(x, np.float64))
    (b1, a1), (b2, a2) = k_weighting(sr)
    y = scipy_signal.lfilter(b2, a2, scipy_signal.lfilter(b1, a1, x, axis=-1), axis=-1)
    block, step = int(round(0.4 * sr)), int(round(0.1 * sr))
    z = np.array([np.sum(y[:, s : s + block] ** 2) / block for s in range(0, x.shape[-1] - block + 1, step)])
    lvl = -0.691 + 10 * np.log10(np.maximum(z, 1e-300))
    keep = lvl > -70
    gate = -0.691 + 10 * np.log10(z[keep].mean()) - 10
    return float(-0.691 + 10 * np.log10(z[keep & (lvl > gate)].mean()))


def reference_limit(x: np.ndarray, sr: int, ceiling: float) -> np.ndarray:
    """The limiter's maths over the whole signal each pass (scipy filters, every sample oversampled)."""
    half = max(1, int(round(limiter.LOOKAHEAD_S * sr)))
    out = x.astype(np.float32)
    for _ in range(2):
        peak = limiter.true_peak_envelope(out, sr)
        if peak.max() <= ceiling:
            return out
        need = np.minimum(1.0, ceiling / np.maximum(peak, 1e-12))
        gain = ndimage.uniform_filter1d(ndimage.minimum_filter1d(need, 2 * half + 1, mode="nearest"),
                                        2 * half + 1, mode="nearest")
        out = (out * np.minimum(gain, need)).astype(np.float32)
    left = float(limiter.true_peak_envelope(out, sr).max())
    return (out * (ceiling / left)).astype(np.float32) if left > ceiling else out


@pytest.fixture(scope="module")
def music(data_dir):  # noqa: ANN001, ANN201
    drums, sr = load(data_dir / "drums_amen.flac", duration=4.0)
    wind, _ = load(data_dir / "wind_ufoai.flac", sr=sr, duration=4.0)  # mostly below 200 Hz
    return drums, wind, sr


@pytest.mark.parametrize("rate", [44100, 48000, 16000, 11025])  # 11025: blocks are not 4 steps
def test_integrated_lufs_equals_direct_filtering(music, rate) -> None:  # noqa: ANN001
    from latentmorph.audio import resample

    drums, wind, sr = music
    for x in (drums, wind, np.concatenate([drums, 0.2 * wind])):
        y = resample(x, sr, rate)
        assert integrated_lufs(y, rate) == pytest.approx(reference_lufs(y, rate), abs=0.01)


def test_refilter_equals_filtering_again(music) -> None:  # noqa: ANN001
    drums, _, sr = music
    x = drums.astype(np.float32)
    w = k_weighted(x, sr) * np.float32(0.5)
    changed = np.zeros(x.shape[-1], bool)
    changed[[100, 70000, 70001, x.shape[-1] - 1]] = True
    y = x * np.float32(0.5)
    y[:, changed] *= np.float32(0.3)
    refilter(w, y, changed, sr)
    np.testing.assert_allclose(w, k_weighted(y, sr), atol=2e-6 * np.abs(w).max())


def test_local_limiter_equals_the_whole_signal_one(music) -> None:  # noqa: ANN001
    drums, wind, sr = music
    for x, gain in ((drums, 2.5), (wind, 8.0), (np.stack([drums[0], wind[0]]), 3.0)):
        hot = (x * gain / np.abs(x).max()).astype(np.float32)
        r = limiter.limit_tracked(hot, sr, PEAK_CEILING)
        out, changed, trim = r.out, r.changed, r.trim
        want = reference_limit(hot, sr, PEAK_CEILING)
        np.testing.assert_allclose(out, want, atol=1e-6)
        assert limiter.true_peak(out, sr) <= PEAK_CEILING + 1e-6
        assert 0.99 < trim <= 1.0
        differs = (out != (hot * np.float32(trim)).astype(np.float32)).any(axis=0)
        assert changed[differs].all()  # every sample changed beyond the global trim is reported
    burst = (0.3 * np.sin(2 * np.pi * 440 * np.arange(2 * sr) / sr))[None].astype(np.float32)
    burst[:, 50000:50100] *= 4.0
    r = limiter.limit_tracked(burst, sr, PEAK_CEILING)
    out, changed, trim = r.out, r.changed, r.trim
    assert trim == 1.0 and 50 <= changed.sum() < 1000  # the changes stay near the burst
    assert (out[:, ~changed] == burst[:, ~changed]).all()


def test_match_level_equals_measuring_every_pass(music) -> None:  # noqa: ANN001
    drums, wind, sr = music
    wet = (wind * 0.05).astype(np.float32)
    out = match_level(wet, drums, sr)
    # the plain loop: measure source and output from scratch every pass
    ref, total = wet.copy(), 0.0
    target = reference_lufs(drums, sr)
    for _ in range(2):
        step = float(np.clip(target - reference_lufs(ref, sr), -MAX_MATCH_GAIN_DB - total, MAX_MATCH_GAIN_DB - total))
        if abs(step) < MATCH_TOLERANCE_LU:
            break
        total += step
        ref = reference_limit(ref * np.float32(10 ** (step / 20)), sr, PEAK_CEILING)
    assert integrated_lufs(out, sr) == pytest.approx(reference_lufs(ref, sr), abs=0.01)
    np.testing.assert_allclose(out, ref, atol=1e-3)
    assert limiter.true_peak(out, sr) <= PEAK_CEILING + 1e-6


@pytest.mark.parametrize("hop", [1, 7, 512])
def test_moment_energies_equal_the_samples_energies(hop) -> None:  # noqa: ANN001
    from latentmorph.transfer.render.envelope import frames_to_samples
    from latentmorph.transfer.render.loudness import curve_energies, segment_moments, times_line

    rng = np.random.default_rng(3)
    S = 9 * hop + hop // 3 + 1  # a last frame that is cut short
    x = rng.normal(size=(2, S)).astype(np.float32)
    T = -(-S // hop)
    gains = [rng.uniform(0.1, 3.0, size=(2, T)) for _ in range(3)]
    poly, curve = np.ones((2, T + 1, 1)), np.ones((2, S))
    for g in gains:  # the product of three interpolated curves, at the samples and as moments
        poly, curve = times_line(poly, g), curve * frames_to_samples(g, hop, S)
    y = np.zeros((2, T * hop))
    y[:, :S] = x * curve
    direct = (y.reshape(2, T, hop) ** 2).sum(-1)
    np.testing.assert_allclose(curve_energies(segment_moments(x, hop, 6), poly), direct, rtol=1e-5)


def test_follow_loudness_equals_scaling_the_samples_every_pass(music) -> None:  # noqa: ANN001
    from latentmorph.transfer.render.envelope import frames_to_samples
    from latentmorph.transfer.render.loudness import _frame_rms, follow_loudness

    drums, wind, sr = music
    wet, src, hop = np.stack([wind[0], drums[0]]), np.stack([drums[0], wind[0] * 0.1]), 512
    ref = wet.astype(np.float32).copy()
    target = _frame_rms(src, hop)
    for _ in range(4):  # the plain loop: measure the samples, scale the samples
        have = _frame_rms(ref, hop)
        gain = np.minimum(np.where(have > 1e-9, target / np.maximum(have, 1e-9), 0.0), 10 ** 1.5)
        ref *= frames_to_samples(gain, hop, ref.shape[-1])
    out = follow_loudness(wet, src, hop, passes=4)
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5 * np.abs(ref).max())


@pytest.mark.parametrize("hop", [1, 2, 7, 512])
def test_frames_to_samples_equals_np_interp(hop) -> None:  # noqa: ANN001
    from latentmorph.transfer.render.envelope import frames_to_samples

    values = np.random.default_rng(4).normal(size=(2, 6))
    centres = np.arange(6) * hop + hop / 2.0
    for length in (1, 6 * hop - 1, 6 * hop, 9 * hop + 3):  # shorter than the frames, and past the last centre
        want = np.stack([np.interp(np.arange(length), centres, v) for v in values]).astype(np.float32)
        np.testing.assert_allclose(frames_to_samples(values, hop, length), want, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(frames_to_samples(values[0], hop, length), want[0], rtol=1e-6, atol=1e-7)


def test_peak_bound_is_the_worst_inter_sample_overshoot() -> None:
    sr, rng = 44100, np.random.default_rng(5)
    bound = limiter.peak_bound(sr)
    assert 1.0 < bound < 2.0
    # the worst case: samples of +-1 whose signs follow a phase's taps reach the bound there
    phases, reach, _ = limiter._phases(limiter.oversampling(sr))
    worst = 0.0
    for taps, first in phases:
        x = np.zeros(4 * reach + 2, np.float32)
        n = 2 * reach
        for i, t in enumerate(taps):
            x[n - (first + i)] = np.sign(t)
        worst = max(worst, float(limiter.true_peak_envelope(x, sr)[n]))
    assert worst == pytest.approx(bound, rel=1e-5)
    for _ in range(20):  # and no signal passes it
        x = rng.uniform(-1, 1, size=(1, 3000)).astype(np.float32)
        assert limiter.true_peak(x, sr) <= bound * np.abs(x).max() + 1e-6


def test_limiter_with_a_known_envelope_equals_a_fresh_one(music) -> None:  # noqa: ANN001
    drums, _, sr = music
    hot = (drums * 2.5 / np.abs(drums).max()).astype(np.float32)
    first = limiter.limit_tracked(hot, sr, PEAK_CEILING)
    fresh = limiter.true_peak_envelope(first.out, sr)
    assert np.all(first.peak <= fresh + 1e-6)  # the envelope: true peak on exact blocks, sample peak elsewhere
    exact = np.repeat(first.exact, limiter.SKIP_BLOCK)[: hot.shape[-1]]
    np.testing.assert_allclose(first.peak[exact], fresh[exact], rtol=1e-5, atol=1e-8)
    gain = np.float32(1.3)
    again = limiter.limit_tracked(first.out * gain, sr, PEAK_CEILING, known=(first.peak * gain, first.exact))
    np.testing.assert_allclose(again.out, limiter.limit(first.out * gain, sr, PEAK_CEILING), atol=1e-6)
    assert limiter.true_peak(again.out, sr) <= PEAK_CEILING + 1e-6
