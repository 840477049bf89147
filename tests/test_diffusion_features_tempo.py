"""Beat tracker and beat-phase sawtooth on signals whose answer is known."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from latentmorph.diffusion.features.tempo import (
    beat_phase,
    estimate_bpm,
    phase_from_bpm,
    tempo_adherence,
    track_beats,
)
from latentmorph.errors import ConditionError

DATA = Path(__file__).parent / "data"
SR = 22050


def _hit(kind: str, sr: int, rng: np.random.Generator) -> np.ndarray:
    """One drum-like hit: a pitched kick, a noisy snare, a short hi-hat or a plain click."""
    n = int(0.15 * sr)
    t = np.arange(n) / sr
    if kind == "kick":
        f = 50.0 + 100.0 * np.exp(-t * 40.0)
        return np.sin(2 * np.pi * np.cumsum(f) / sr) * np.exp(-t * 18.0)
    if kind == "snare":
        return 0.6 * rng.standard_normal(n) * np.exp(-t * 30.0) + 0.3 * np.sin(2 * np.pi * 190 * t) * np.exp(-t * 25)
    if kind == "hat":
        noise = np.diff(rng.standard_normal(n + 1))  # high-passed noise
        return 0.15 * noise * np.exp(-t * 90.0)
    return rng.standard_normal(n) * np.exp(-t * 200.0)  # click


def _place(out: np.ndarray, hit: np.ndarray, at: float, sr: int) -> None:
    i = int(round(at * sr))
    if i < out.shape[0]:
        m = min(hit.shape[0], out.shape[0] - i)
        out[i : i + m] += hit[:m]


def click_track(bpm: float, seconds: float, sr: int = SR, *, start: float = 0.5, seed: int = 0):
    """Clicks at ``bpm`` from ``start`` s; returns (wave [S], beat times)."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * sr))
    beats = np.arange(start, seconds - 0.05, 60.0 / bpm)
    for b in beats:
        _place(out, _hit("click", sr, rng), b, sr)
    return (0.5 * out / np.abs(out).max()).astype(np.float32), beats


def drum_loop(bpm: float, seconds: float, sr: int = SR, *, seed: int = 0):
    """Kick on beats 1 and 3, snare on 2 and 4, hi-hat on every eighth note."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * sr))
    period = 60.0 / bpm
    beats = np.arange(0.25, seconds - 0.05, period)
    for k, b in enumerate(beats):
        _place(out, _hit("kick" if k % 2 == 0 else "snare", sr, rng), b, sr)
        _place(out, _hit("hat", sr, rng), b, sr)
        _place(out, _hit("hat", sr, rng), b + period / 2, sr)
    return (0.5 * out / np.abs(out).max()).astype(np.float32), beats


def _matched(found: np.ndarray, truth: np.ndarray, tol: float) -> float:
    """Fraction of true beats with a tracked beat within ``tol`` seconds."""
    if found.size == 0:
        return 0.0
    gaps = np.abs(found[None, :] - truth[:, None]).min(axis=1)
    return float(np.mean(gaps <= tol))


@pytest.mark.parametrize("bpm", [90.0, 120.0, 150.0])
def test_click_track_tempo_and_beats(bpm):
    wave, truth = click_track(bpm, 12.0, seed=int(bpm))
    track = track_beats(wave, SR)
    assert abs(track.bpm - bpm) / bpm < 0.02, track.bpm
    assert track.beats.dtype == np.float64 and np.all(np.diff(track.beats) > 0)
    assert _matched(track.beats, truth, 0.035) >= 0.9
    assert _matched(truth, track.beats, 0.035) >= 0.9  # no extra beats either


@pytest.mark.parametrize("bpm", [90.0, 150.0])
def test_drum_pattern_has_no_octave_error(bpm):
    """Eighth-note hi-hats must not double the tempo; a kick every other beat must not halve it."""
    wave, truth = drum_loop(bpm, 12.0, seed=3)
    track = track_beats(wave, SR)
    assert abs(track.bpm - bpm) / bpm < 0.02, track.bpm
    assert _matched(track.beats, truth, 0.035) >= 0.9
    # the same loop at 44.1 kHz, stereo [2, S], gives the same answer
    wave44, _ = drum_loop(bpm, 12.0, 44100, seed=3)
    assert abs(estimate_bpm(np.stack([wave44, 0.5 * wave44]), 44100) - bpm) / bpm < 0.02


def test_tempo_change_is_followed_by_the_beats():
    a, beats_a = click_track(100.0, 12.0, seed=1)
    b, beats_b = click_track(140.0, 12.0, start=0.0, seed=2)
    wave = np.concatenate([a, b])
    truth = np.concatenate([beats_a, 12.0 + beats_b])
    track = track_beats(wave, SR)
    gaps = np.diff(track.beats)
    mid = track.beats[1:]
    first = np.median(gaps[(mid > 2.0) & (mid < 10.0)])
    second = np.median(gaps[mid > 14.0])
    assert abs(first - 0.6) / 0.6 < 0.03, first
    assert abs(second - 60 / 140) / (60 / 140) < 0.03, second
    assert _matched(track.beats, truth, 0.035) >= 0.85


def test_silence_gives_nan_and_no_beats():
    for wave in (np.zeros(SR * 3, np.float32), np.full((2, SR * 2), 1e-6, np.float32)):
        track = track_beats(wave, SR)
        assert np.isnan(track.bpm) and track.beats.shape == (0,)
        assert np.isnan(estimate_bpm(wave, SR))
    res = tempo_adherence(np.zeros(SR, np.float32), SR, 120.0)
    assert np.isnan(res["bpm"]) and np.isnan(res["octave_error"])


def test_bad_input_is_a_condition_error():
    with pytest.raises(ConditionError):
        track_beats(np.array([0.0, np.nan, 0.1], np.float32), SR)
    with pytest.raises(ConditionError):
        track_beats(np.zeros(0, np.float32), SR)
    with pytest.raises(ConditionError):
        track_beats(np.ones(100, np.float32), SR, bpm_range=(200.0, 60.0))
    with pytest.raises(ConditionError):
        phase_from_bpm(0.0, 50.0, 10)


def test_amen_break_tempo():
    """The bundled excerpt is the first 4 s of Sonic Pi's loop_amen_full.flac (sample-identical).

    That loop is 302 400 samples at 44.1 kHz, exactly 48/7 s, and is cut to loop seamlessly over
    four 4/4 bars: 16 beats in 48/7 s is 140.0 BPM. The excerpt's sixteenth-note hits agree: the
    onset peaks of its first beats fall on a 0.107 s grid (60 / 140 / 4 s).
    """
    wave, sr = sf.read(DATA / "drums_amen.flac", dtype="float32", always_2d=True)
    expected = 16 * 60.0 / (302_400 / 44100)  # 140.0
    track = track_beats(wave.T, sr)
    assert abs(track.bpm - expected) / expected < 0.02, track.bpm
    # the beats tile the loop at its period: mean gap within 2 % too
    assert abs(np.mean(np.diff(track.beats)) - 60 / expected) / (60 / expected) < 0.02


def test_beat_phase_properties():
    beats = np.array([0.5, 1.0, 1.6, 2.1])
    fr = 100.0
    n = 300
    ph = beat_phase(beats, fr, n)
    assert ph.dtype == np.float32 and ph.shape == (n,)
    assert ph.min() >= 0.0 and ph.max() < 1.0
    t = np.arange(n) / fr
    for b in beats:  # 0 at each beat
        assert ph[int(round(b * fr))] == pytest.approx(0.0, abs=1e-5)
    for lo, hi in zip(beats[:-1], beats[1:]):  # linear and rising within a beat
        inside = (t >= lo) & (t < hi - 1e-9)
        assert np.all(np.diff(ph[inside]) > 0)
        np.testing.assert_allclose(ph[inside], (t[inside] - lo) / (hi - lo), atol=1e-6)
    drops = np.flatnonzero(np.diff(ph) < 0) + 1  # wraps exactly at the beats and every extrapolated period
    np.testing.assert_allclose(t[drops], [0.0 + 0.5 - 0.5, 0.5, 1.0, 1.6, 2.1, 2.6][1:], atol=0.011)
    # extrapolation at the local period: before the first beat with the first gap (0.5 s)
    np.testing.assert_allclose(ph[:50], (t[:50] - 0.5) / 0.5 % 1.0, atol=1e-6)
    # after the last beat with the last gap (0.5 s)
    np.testing.assert_allclose(ph[t >= 2.1], ((t[t >= 2.1] - 2.1) / 0.5) % 1.0, atol=1e-6)
    # fewer than two beats: steady sawtooth at `bpm`, or zeros without it
    np.testing.assert_allclose(beat_phase(np.array([0.3]), fr, n, bpm=120.0), phase_from_bpm(120.0, fr, n, offset_s=0.3))
    assert not beat_phase(np.zeros(0), fr, n).any()
    with pytest.raises(ValueError):
        beat_phase(np.array([1.0, 0.5]), fr, n)


def test_phase_from_bpm_is_a_steady_sawtooth():
    fr = 1000.0 / 12.0
    ph = phase_from_bpm(150.0, fr, 1000, offset_s=0.1)
    assert ph.dtype == np.float32 and ph.min() >= 0 and ph.max() < 1
    wraps = np.flatnonzero(np.diff(ph) < 0)
    np.testing.assert_allclose(np.diff(wraps) / fr, 0.4, atol=1.01 / fr)  # one wrap per 0.4 s beat
    slope = np.median(np.diff(ph)[np.diff(ph) > 0]) * fr
    assert slope == pytest.approx(150.0 / 60.0, rel=1e-4)
    # tracked beats of a click track give (almost) the steady sawtooth of its tempo
    wave, truth = click_track(120.0, 8.0, seed=5)
    tracked = beat_phase(track_beats(wave, SR).beats, 100.0, 700)
    steady = phase_from_bpm(120.0, 100.0, 700, offset_s=truth[0])
    circ = np.abs(((tracked - steady) + 0.5) % 1.0 - 0.5)
    assert np.median(circ) < 0.05


def test_tempo_adherence_reports_octave_tolerant_error():
    wave, _ = drum_loop(120.0, 10.0, seed=7)
    same = tempo_adherence(wave, SR, 120.0)
    assert same["rel_error"] < 0.02 and same["octave_error"] == same["rel_error"] and same["octave_factor"] == 1.0
    half = tempo_adherence(wave, SR, 60.0)  # heard at double the asked tempo: wrong, but octave-right
    assert half["rel_error"] > 0.9 and half["octave_error"] < 0.02 and half["octave_factor"] == 0.5
    off = tempo_adherence(wave, SR, 100.0)
    assert off["octave_error"] > 0.15
