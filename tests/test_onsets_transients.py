"""Transient shaping (render/transients.py): source onsets land as attacks, nothing else does."""

from __future__ import annotations

import numpy as np
import pytest

from latentmorph.audio import load
from latentmorph.evaluate import features
from latentmorph.evaluate.content import onset_agreement, onsets
from latentmorph.transfer import MemoryCorpus, transfer
from latentmorph.transfer.render import transients as T

SR = 44100


def _plucks(seed: int, seconds: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    """Plucked harmonic tones (sharp attack, 0.12 s decay) at irregular times: ``(wave, times)``."""
    rng = np.random.default_rng(seed)
    x = np.zeros(int(seconds * SR))
    times, t0 = [], 0.2
    while t0 < seconds - 0.4:
        times.append(t0)
        f = 196.0 * 2 ** (rng.integers(0, 12) / 12)
        t = np.arange(int(0.6 * SR)) / SR
        note = sum(np.sin(2 * np.pi * k * f * t) / k for k in range(1, 8)) * np.exp(-t / 0.12)
        i = int(t0 * SR)
        x[i : i + t.size] += 0.3 * note[: x.size - i]
        t0 += rng.uniform(0.3, 0.6)
    return x.astype(np.float32), np.array(times)


@pytest.fixture(scope="module")
def strings(data_dir):  # noqa: ANN001, ANN201
    """A sustained corpus that moves by itself (a strings melody: notes change under held bows)."""
    return MemoryCorpus.from_audio([load(data_dir / "strings_melody.flac", duration=8.0)])


def test_plucked_notes_into_strings_keep_their_onsets_and_gain_none(strings) -> None:  # noqa: ANN001
    """Six plucked lines into strings: the output's onsets are the source's (precision), not the
    corpus's own note changes and grain jumps. Without the stage: agreement 0.83 and precision
    0.77 on average (one line 0.69 / 0.62, 13 output onsets for 8 notes); with it 0.93 / 0.89."""
    values, precisions, plain = [], [], []
    for seed in range(1, 7):
        src, times = _plucks(seed)
        out, sr = transfer(src, SR, index=strings)
        assert sr == SR
        values.append(onset_agreement(out.astype(np.float64), src.astype(np.float64), SR)["value"])
        est = onsets(out.astype(np.float64), SR)
        precisions.append(np.mean([np.min(np.abs(times - e)) <= 0.05 for e in est]) if est.size else 0.0)
        off, _ = transfer(src, SR, index=strings, transients=False)  # the option turns the stage off
        plain.append(onset_agreement(off.astype(np.float64), src.astype(np.float64), SR)["value"])
    assert np.mean(values) >= 0.9, values
    assert np.mean(precisions) >= 0.85, precisions
    assert np.mean(plain) < np.mean(values) - 0.05, (plain, values)


def _noise_with_tone(seconds: float, seed: int = 0) -> np.ndarray:
    """``[1, S]``: a loud 220 Hz tone over weak broadband noise (the weak top of the spectrum)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    return (0.5 * np.sin(2 * np.pi * 220 * t) + 0.01 * rng.standard_normal(t.size))[None].astype(np.float32)


def _band_db(x: np.ndarray, lo_hz: float, hi_hz: float = np.inf) -> float:
    """Power of ``x [S]`` (Hann-windowed) between ``lo_hz`` and ``hi_hz``, dB."""
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size))) ** 2
    f = np.fft.rfftfreq(x.size, 1 / SR)
    return float(10 * np.log10(spec[(f >= lo_hz) & (f < hi_hz)].sum() + 1e-20))


def test_emphasis_dips_the_weak_top_before_an_attack_and_keeps_the_level() -> None:
    wet = _noise_with_tone(1.0)
    a = int(0.5 * SR)
    out = T.emphasize_onsets(wet, wet, SR, attacks=np.array([a]))
    before = slice(a - int(0.020 * SR), a - int(0.006 * SR))  # the dip's flat part
    after = slice(a + int(0.003 * SR), a + int(0.017 * SR))
    def drop(lo: float, hi: float = np.inf) -> float:
        return _band_db(wet[0, before], lo, hi) - _band_db(out[0, before], lo, hi)

    assert drop(2000.0, T.HF_HZ) == pytest.approx(T.DEPTH_DB, abs=1.0)  # the top (the noise) dips before the attack
    assert drop(T.HF_HZ) == pytest.approx(T.HF_DEPTH_DB, abs=1.0)  # less above 8 kHz
    assert abs(_band_db(out[0, after], 2000.0) - _band_db(wet[0, after], 2000.0)) < 0.1  # and is back on it
    # the tone carries > 95 % of the power: the level in the dip moves by under 0.25 dB
    level = 10 * np.log10(np.mean(out[0, before] ** 2) / np.mean(wet[0, before] ** 2))
    assert abs(level) < 0.25, level
    far = int((T.DIP_S + T.MARGIN_S) * SR) + 1
    np.testing.assert_array_equal(out[0, : a - far], wet[0, : a - far])  # untouched away from the attack
    np.testing.assert_array_equal(out[0, a + far :], wet[0, a + far :])
    # no attack, nothing to do; an empty signal stays empty
    np.testing.assert_array_equal(T.emphasize_onsets(wet, wet, SR, attacks=np.zeros(0, np.int64)), wet)
    assert T.shape_transients(np.zeros((2, 0), np.float32), np.zeros((2, 0), np.float32), SR).shape == (2, 0)


def test_hold_smooths_a_top_band_jump_between_onsets_but_not_at_one() -> None:
    """The weak noise under a steady tone jumps up 10 dB at 1.0 s with no source attack (a grain
    jump) and 4 dB at 2.0 s on one. Only the first loses onset strength; the level stays."""
    wet = _noise_with_tone(3.0)
    wet[0, SR:] += (3.0 * 0.01 * np.random.default_rng(1).standard_normal(2 * SR)).astype(np.float32)
    wet[0, 2 * SR :] += (4.0 * 0.01 * np.random.default_rng(2).standard_normal(SR)).astype(np.float32)
    attacks = np.array([2 * SR])
    out = T.hold_top(wet, wet, SR, attacks=attacks)
    rate = SR / (features.frame_size(SR) // 4)

    def peak(x: np.ndarray, t: float) -> float:
        env = features.onset_envelope(x.astype(np.float64), SR)
        k = int(round(t * rate))
        return float(env[k - 3 : k + 4].max())

    assert peak(out[0], 1.0) < 0.85 * peak(wet[0], 1.0)  # the jump between onsets is spread out (0.97 -> 0.78)
    assert peak(out[0], 2.0) == pytest.approx(peak(wet[0], 2.0), rel=0.01)  # the one on an attack stays
    level = 10 * np.log10(np.mean(out[0] ** 2) / np.mean(wet[0] ** 2))
    assert abs(level) < 0.1, level
    stereo = np.concatenate([wet, 0.5 * wet])  # every channel gets the same gains
    both = T.hold_top(stereo, wet, SR, attacks=attacks)
    np.testing.assert_allclose(both[0], out[0], atol=1e-6)
    np.testing.assert_allclose(both[1], 0.5 * out[0], atol=2e-3 * np.abs(out).max())


def test_onset_times_are_evaluates_onsets(data_dir) -> None:  # noqa: ANN001
    """The numpy peak picker (no scipy.ndimage on the transfer path) finds what evaluate finds."""
    for name in ("drums_amen", "piano_melody", "speech_codec2"):
        wave, sr = load(data_dir / f"{name}.flac", duration=4.0, mono=True)
        x = wave[0].astype(np.float64)
        np.testing.assert_allclose(T.onset_times(x, sr), onsets(x, sr))
    attacks = T.source_attacks(_plucks(3)[0], SR)
    np.testing.assert_allclose(attacks / SR, _plucks(3)[1], atol=0.002)  # each pluck found within 2 ms


def test_stft_process_at_the_holds_window_and_overlap_gives_the_signal_back() -> None:
    from latentmorph.transfer.render.stft import process

    x = np.random.default_rng(4).standard_normal(SR + 123).astype(np.float32)
    y = process([x], SR, lambda _a, spectra: spectra[0], window_s=T.HOLD_WINDOW_S, overlap=T.HOLD_OVERLAP)
    np.testing.assert_allclose(y, x, atol=1e-5)
