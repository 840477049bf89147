"""Renderers on known inputs: continuous runs copy the corpus, seams keep power, blends are exact."""

from __future__ import annotations

import numpy as np

from latentmorph.audio import load
from latentmorph.transfer import KEEP_SOURCE, Choices, MemoryCorpus
from latentmorph.transfer.render import dry_wet, follow_loudness, matched_latents, render_grains, safe_level
from latentmorph.transfer.windows import successors


def _corpus(data_dir) -> MemoryCorpus:  # noqa: ANN001
    wave, sr = load(data_dir / "strings_melody.flac", sr=44100, duration=2.0)
    return MemoryCorpus.from_audio([(wave, sr)])


def _succ(c: MemoryCorpus) -> np.ndarray:
    g = c.grains
    return successors(g.file_id, g.channel, g.aug, g.frame)


def test_playing_on_through_the_corpus_copies_it_sample_for_sample(data_dir) -> None:  # noqa: ANN001
    c = _corpus(data_dir)
    hop, T = c.hop, 40
    ids = np.arange(10, 10 + T)
    src = np.zeros((1, T * hop), np.float32)
    out = render_grains([Choices.single(ids, np.zeros(T))], c, _succ(c), src, hop)
    np.testing.assert_array_equal(out[0], c.audio[0][0, 10 * hop : (10 + T) * hop])


def test_seams_between_unrelated_grains_keep_constant_power() -> None:
    # Two "files" of steady white noise: jumping between them every 4 frames must not dip
    # or bump the level at the seams (power-complementary crossfades).
    rng = np.random.default_rng(0)
    hop = 1024
    a = rng.normal(scale=0.1, size=(1, 200 * hop)).astype(np.float32)
    b = rng.normal(scale=0.1, size=(1, 200 * hop)).astype(np.float32)
    c = MemoryCorpus.from_audio([(a, 44100), (b, 44100)])
    succ = _succ(c)
    n = c.latents.shape[0] // 2
    T = 64
    ids = np.array([(10 + t) if (t // 4) % 2 == 0 else (n + 50 + t) for t in range(T)])
    out = render_grains([Choices.single(ids, np.zeros(T))], c, succ, np.zeros((1, T * hop), np.float32), hop)[0]
    seams = [t * hop for t in range(4, T, 4)]
    around = np.concatenate([out[s - hop // 4 : s + hop // 4] for s in seams])  # the middle of each crossfade
    elsewhere = np.concatenate([out[s + hop : s + 3 * hop] for s in seams[:-1]])
    ratio_db = 10 * np.log10(np.mean(around**2) / np.mean(elsewhere**2))
    assert abs(ratio_db) < 0.5  # a linear (amplitude) crossfade would dip by about 2.5 dB here


def test_kept_frames_play_the_source_and_blends_average_latents() -> None:
    lat = np.arange(12, dtype=np.float32).reshape(4, 3)  # 4 grains, dim 3
    src = np.full((1, 3, 2), 100.0, np.float32)
    ch = Choices(np.array([[0, 2], [KEEP_SOURCE, 1]]), np.array([[0.25, 0.75], [1.0, 0.0]]), np.zeros(2), np.ones(2))
    got = matched_latents([ch], lat, src)[0].T
    np.testing.assert_allclose(got[0], 0.25 * lat[0] + 0.75 * lat[2])
    np.testing.assert_allclose(got[1], [100.0, 100.0, 100.0])
    half = Choices(ch.ids, ch.weights, ch.distances, np.full(2, 0.5))
    np.testing.assert_allclose(matched_latents([half], lat, src)[0].T[0], 0.5 * 100 + 0.5 * (0.25 * lat[0] + 0.75 * lat[2]))


def test_loudness_follow_mix_and_safe_level() -> None:
    rng = np.random.default_rng(1)
    hop = 512
    wet = rng.normal(scale=0.2, size=(1, 64 * hop)).astype(np.float32)
    env = np.repeat(np.linspace(0.01, 0.3, 64), hop)[None].astype(np.float32)
    src = (rng.normal(size=(1, 64 * hop)) * env).astype(np.float32)
    out = follow_loudness(wet, src, hop)
    rms = lambda x: np.sqrt((x[0, : 64 * hop].reshape(64, hop) ** 2).mean(1))  # noqa: E731
    ratio = rms(out)[2:-2] / rms(src)[2:-2]
    assert np.all(np.abs(20 * np.log10(ratio)) < 1.5)  # within 1.5 dB frame by frame
    np.testing.assert_array_equal(dry_wet(wet, src, 0.0), src)
    loud = safe_level(np.array([[0.5, -3.0, np.nan, 2.0]], np.float32))
    assert np.isfinite(loud).all() and np.abs(loud).max() <= 0.989 + 1e-6
    np.testing.assert_allclose(loud[0, 0] / loud[0, 3], 0.25)  # scaled, not clipped
