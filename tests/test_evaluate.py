"""Metrics on real recordings: trivial baselines must land where the definitions say."""

from __future__ import annotations

import math

import numpy as np
import pytest

from latentmorph.audio import load
from latentmorph.evaluate import evaluate
from latentmorph.evaluate.artefacts import artefact_report, click_rate
from latentmorph.evaluate.content import loudness_correlation, pitch_agreement
from latentmorph.evaluate.sanity import sanity
from latentmorph.evaluate.style import source_leakage

# (source, corpus) pairs from tests/data whose corpus has nothing in common with the source
PAIRS = [("speech_codec2", "water_ufoai"), ("guitar_sectoid", "bells"), ("drums_amen", "wind_ufoai")]


@pytest.fixture(scope="module")
def clips(data_dir):
    names = {n for pair in PAIRS for n in pair} | {"piano_melody", "strings_melody"}
    return {n: load(data_dir / f"{n}.flac") for n in names}


def _excerpt(corpus, corpus_sr, seconds, start_fraction):
    n = int(seconds * corpus_sr)
    start = int(start_fraction * (corpus.shape[-1] - n))
    return corpus[:, start : start + n]


@pytest.mark.parametrize("source_name,corpus_name", PAIRS)
def test_output_equal_to_source_scores_one(clips, source_name, corpus_name):
    src, sr = clips[source_name]
    corpus = clips[corpus_name]
    r = evaluate(src, sr, src, sr, [corpus])
    c = r["content"]
    assert c["loudness"]["value"] == pytest.approx(1.0, abs=1e-6)
    assert c["loudness"]["lag_s"] == 0.0
    assert c["onsets"]["value"] == pytest.approx(1.0)
    assert c["chroma"]["value"] == pytest.approx(1.0, abs=1e-6)
    assert c["score"] == pytest.approx(1.0, abs=1e-6)
    assert r["style"]["ratio"]["value"] == pytest.approx(1.0, abs=1e-6)
    assert r["style"]["fd_ratio"]["value"] == pytest.approx(1.0, abs=1e-6)  # unchanged: the source's own distance
    assert r["style"]["leakage"]["value"] == pytest.approx(1.0, abs=1e-4)
    assert r["artefacts"]["extra_click_rate"] == 0.0
    assert r["sanity"]["length_match"] and r["sanity"]["sr_match"] and r["sanity"]["nan"] == 0


@pytest.mark.parametrize("source_name,corpus_name", PAIRS)
@pytest.mark.parametrize("where", [0.0, 1.0])
def test_random_corpus_excerpt_scores_near_zero(clips, source_name, corpus_name, where):
    src, sr = clips[source_name]
    corpus, csr = clips[corpus_name]
    out = _excerpt(corpus, csr, src.shape[-1] / sr, where)
    r = evaluate(out, csr, src, sr, [(corpus, csr)])
    c = r["content"]
    assert abs(c["loudness"]["value"]) < 0.4
    assert c["onsets"]["value"] < 0.35
    assert abs(c["chroma"]["value"]) < 0.2
    assert c["score"] < 0.25
    assert r["style"]["ratio"]["value"] < 0.2
    assert r["style"]["fd_ratio"]["value"] < 0.25  # the corpus's own timbre (an excerpt is not all of it)
    assert r["style"]["leakage"]["value"] < 0.01
    # the corpus excerpt clicks no more than the corpus does (same recording)
    assert r["artefacts"]["click_ratio"] < 1.5


def test_same_melody_in_another_timbre_keeps_chroma_and_moves_style(clips):
    """strings_melody renders the MIDI of piano_melody with a strings patch: harmony kept, timbre changed."""
    piano, sr = clips["piano_melody"]
    strings, ssr = clips["strings_melody"]
    wind, wsr = clips["wind_ufoai"]
    r_strings = evaluate(strings, ssr, piano, sr, [(strings, ssr)])
    r_wind = evaluate(_excerpt(wind, wsr, piano.shape[-1] / sr, 0.0), wsr, piano, sr, [(strings, ssr)])
    assert r_strings["content"]["chroma"]["value"] > 0.6
    assert abs(r_wind["content"]["chroma"]["value"]) < 0.2
    assert r_strings["style"]["ratio"]["value"] < 0.1
    assert r_strings["style"]["fd_ratio"]["value"] < 0.01  # the output is the corpus
    assert r_wind["style"]["fd_ratio"]["value"] > 0.5  # wind is neither: far from the strings


def test_loudness_correlation_finds_latency(clips):
    src, sr = clips["drums_amen"]
    x = src[0].astype(np.float64)
    delay = int(0.02 * sr)
    late = np.concatenate([np.zeros(delay), x[:-delay]])
    r = loudness_correlation(late, x, sr)
    assert r["value"] > 0.95
    assert r["lag_s"] == pytest.approx(0.02, abs=0.006)


def test_leakage_measures_dry_mix():
    rng = np.random.default_rng(1)
    sr = 16000
    source = rng.standard_normal(sr * 3)
    wet = rng.standard_normal(sr * 3)
    out = 0.2 * source + wet  # 20% dry over an unrelated wet signal of the same level
    r = source_leakage(out, source, sr)
    assert r["value"] == pytest.approx(0.04 / 1.04, abs=0.01)
    assert r["lag_s"] == 0.0


def test_pitch_agreement_on_tones(sine):
    sr = 16000
    a4 = sine(440.0, 2.0, sr).astype(np.float64)
    assert pitch_agreement(a4, a4, sr)["value"] == pytest.approx(1.0)
    assert pitch_agreement(sine(880.0, 2.0, sr), a4, sr)["value"] == pytest.approx(1.0)  # octave ignored
    assert pitch_agreement(sine(523.25, 2.0, sr), a4, sr)["value"] < 0.05  # C5 against A4
    noise = np.random.default_rng(0).standard_normal(2 * sr)
    assert math.isnan(pitch_agreement(a4, noise, sr)["value"])  # unpitched source: no melody to keep


def test_click_train_raises_click_rate(clips):
    strings, sr = clips["strings_melody"]
    x = strings[0].astype(np.float64)
    clicked = x.copy()
    clicked[:: sr // 10] += 0.3  # ten clicks a second
    base = click_rate(x, sr)
    assert base < 0.5
    assert click_rate(clicked, sr) == pytest.approx(10.0, abs=1.0)
    report = artefact_report(clicked, sr, [x], source=x, boundaries=np.arange(0, x.size, sr // 10))
    assert report["click_ratio"] > 50
    assert report["boundary_click_fraction"] > 0.9


def test_hard_cut_grains_click_and_crossfaded_do_not(clips):
    wind, sr = clips["wind_ufoai"]
    x = wind[0].astype(np.float64)
    rng = np.random.default_rng(0)
    g = int(0.05 * sr)
    starts = rng.integers(0, x.size - g, size=x.size // g)
    hard = np.concatenate([x[s : s + g] for s in starts])
    smooth = np.zeros(x.size + g)
    w = np.hanning(g)
    for i, s in enumerate(starts[: x.size // g]):
        for k in (0, 1):  # two overlapping grains per slot
            pos = i * g + k * (g // 2)
            smooth[pos : pos + g] += x[s : s + g] * w
    assert click_rate(hard, sr) > 5.0
    assert click_rate(smooth[: x.size], sr) < 1.0


def test_sanity_flags_problems(clips):
    src, sr = clips["speech_codec2"]
    assert sanity(src, sr, src, sr)["ok"]
    bad = src.copy()
    bad[0, 100] = np.nan
    r = sanity(bad, sr, src, sr)
    assert r["nan"] == 1 and not r["ok"]
    assert sanity(np.clip(src * 20, -1, 1), sr)["clip_fraction"] > 0.01
    assert not sanity(np.clip(src * 20, -1, 1), sr)["ok"]
    r = sanity(src + 0.1, sr)
    assert r["dc_offset"] == pytest.approx(0.1, abs=0.01) and not r["ok"]
    assert sanity(np.zeros_like(src), sr)["silent"]
    short = sanity(src[:, : sr], sr, src, sr)
    assert not short["length_match"] and not short["ok"]
    assert not sanity(src, 44100, src, sr)["sr_match"]


def test_evaluate_survives_nan_output(clips):
    src, sr = clips["speech_codec2"]
    bad = src.copy()
    bad[0, :1000] = np.nan
    r = evaluate(bad, sr, src, sr)
    assert r["sanity"]["nan"] == 1000
    assert r["content"]["loudness"]["value"] > 0.9
    assert "ratio" not in r["style"]  # no corpus given


def test_continuity_known_answers():
    from latentmorph.evaluate import continuity, jump_positions

    # grain table: file 0 has frames 0..9, file 1 has frames 0..9 (rows 10..19)
    file_id = np.repeat([0, 1], 10)
    channel = np.zeros(20, dtype=int)
    frame = np.tile(np.arange(10), 2)
    run = np.arange(2, 8)  # one continuous read through file 0
    r = continuity(run, file_id, channel, frame)
    assert r == {"continue_fraction": 1.0, "mean_jump": 0.0, "unique_fraction": 1.0}
    assert jump_positions(run, file_id, channel, frame, hop=1024, codec_sr=44100, out_sr=44100).size == 0
    hops = np.array([0, 1, 2, 15, 16, 5, 5])  # run, jump to file 1, run, jump back, repeat
    r = continuity(hops, file_id, channel, frame)
    assert r["continue_fraction"] == pytest.approx(3 / 6)
    assert r["mean_jump"] == pytest.approx((0 + 0 + 1000 + 0 + 1000 + 1) / 6)
    assert r["unique_fraction"] == pytest.approx(6 / 7)
    pos = jump_positions(hops, file_id, channel, frame, hop=1024, codec_sr=44100, out_sr=22050)
    assert pos.tolist() == [3 * 512, 5 * 512, 6 * 512]
    assert continuity(np.array([-1, 0, 1]), file_id, channel, frame)["continue_fraction"] == pytest.approx(0.5)


def test_truncated_output_loses_content(clips):
    src, sr = clips["speech_codec2"]
    half = src[:, : src.shape[-1] // 2]
    r = evaluate(half, sr, src, sr)
    assert r["content"]["score"] < 0.8  # the second half of the source is missing
    assert not r["sanity"]["length_match"]
    assert evaluate(np.zeros_like(src), sr, src, sr)["sanity"]["silent"]
