"""Audio loading/saving: formats, rates, channels, and one-line errors for bad input."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
import soundfile as sf

from latentmorph import audio
from latentmorph.errors import AudioError


def test_loads_real_flac_as_channels_first(data_dir):
    wave, sr = audio.load(data_dir / "drums_amen.flac")
    assert sr == 44100
    assert wave.dtype == np.float32 and wave.shape == (1, 4 * 44100)
    assert 0.1 < np.abs(wave).max() <= 1.0


@pytest.mark.parametrize("target", [8000, 22050, 44100, 48000])
def test_resampling_keeps_duration_and_pitch(sine, target):
    x = sine(1000.0, 1.0, 16000)
    path_sr = 16000
    y = audio.resample(x, path_sr, target)
    assert abs(y.shape[-1] - target) <= 1
    spectrum = np.abs(np.fft.rfft(y * np.hanning(y.size)))
    peak_hz = np.argmax(spectrum) * target / y.size
    assert abs(peak_hz - 1000.0) < 3.0


def test_stereo_kept_and_mono_downmix(tmp_path, sine):
    left, right = sine(300.0, 0.5), 0.5 * sine(600.0, 0.5)
    path = tmp_path / "st.wav"
    sf.write(path, np.stack([left, right], axis=1), 44100, subtype="FLOAT")
    wave, sr = audio.load(path)
    assert wave.shape == (2, left.size)
    np.testing.assert_allclose(wave[1], right, atol=1e-6)
    mono, _ = audio.load(path, mono=True)
    np.testing.assert_allclose(mono[0], (left + right) / 2, atol=1e-6)


@pytest.mark.parametrize("ext", [".wav", ".flac", ".ogg", ".aiff"])
def test_save_load_roundtrip_formats(tmp_path, sine, ext):
    x = sine(440.0, 0.5)
    path = audio.save(tmp_path / f"x{ext}", x, 44100)
    y, sr = audio.load(path)
    assert sr == 44100 and y.shape[0] == 1
    n = min(x.size, y.shape[1])
    assert np.corrcoef(x[:n], y[0, :n])[0, 1] > 0.99


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path, sine, monkeypatch):
    target = tmp_path / "out.wav"
    audio.save(target, sine(440.0, 0.2), 44100)
    before = target.read_bytes()

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sf, "write", boom)
    with pytest.raises(KeyboardInterrupt):
        audio.save(target, sine(880.0, 0.2), 44100)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wav"]


def test_save_refuses_nan_and_clips(tmp_path):
    with pytest.raises(AudioError, match="NaN"):
        audio.save(tmp_path / "bad.wav", np.array([0.0, np.nan], dtype=np.float32), 8000)
    audio.save(tmp_path / "loud.wav", np.array([3.0, -3.0, 0.5], dtype=np.float32), 8000, subtype="FLOAT")
    y, _ = audio.load(tmp_path / "loud.wav")
    assert np.abs(y).max() <= 1.0


# ---- bad input: every case is one AudioError naming the file -------------------------

def _bad_files(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "notes.wav").write_text("these are my notes, not audio\n" * 20)
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + os.urandom(200))
    sf.write(tmp_path / "zero.wav", np.zeros((0, 1), dtype=np.float32), 44100)
    nan = np.full(4410, np.nan, dtype=np.float32)
    sf.write(tmp_path / "nan.wav", nan, 44100, subtype="FLOAT")
    (tmp_path / "folder.wav").mkdir()
    return {
        "missing.wav": "not found",
        "folder.wav": "is a directory",
        "empty.wav": "empty",
        "notes.wav": "not a readable audio file",
        "corrupt.wav": "not a readable audio file",
        "zero.wav": "no audio",
        "nan.wav": "NaN",
    }


def test_bad_inputs_raise_one_line_errors_naming_the_file(tmp_path):
    for name, problem in _bad_files(tmp_path).items():
        with pytest.raises(AudioError) as info:
            audio.load(tmp_path / name)
        message = str(info.value)
        assert name in message and problem in message, message
        assert "\n" not in message


def test_too_long_is_refused_with_a_hint(tmp_path, sine, monkeypatch):
    path = audio.save(tmp_path / "long.wav", sine(440.0, 3.0), 44100)
    with pytest.raises(AudioError, match=r"long.wav: is 3 s long, over the 2 s limit"):
        audio.load(path, max_seconds=2)
    monkeypatch.setenv("LATENTMORPH_MAX_SECONDS", "1")
    with pytest.raises(AudioError, match="LATENTMORPH_MAX_SECONDS"):
        audio.load(path)


def test_silence_warns_but_loads(tmp_path):
    path = audio.save(tmp_path / "quiet.wav", np.zeros(4410, dtype=np.float32), 44100)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        wave, _ = audio.load(path)
    assert wave.shape == (1, 4410)
    assert any("quiet.wav: audio is silent" in str(w.message) for w in caught)


def test_find_audio_files_recurses_and_dedups(tmp_path, sine):
    (tmp_path / "a" / "b").mkdir(parents=True)
    audio.save(tmp_path / "a" / "one.wav", sine(), 44100)
    audio.save(tmp_path / "a" / "b" / "two.flac", sine(), 44100)
    (tmp_path / "a" / "readme.txt").write_text("x")
    found = audio.find_audio_files([tmp_path / "a", tmp_path / "a" / "one.wav"])
    assert sorted(p.name for p in found) == ["one.wav", "two.flac"]
    assert found == sorted(found)  # deterministic order
    with pytest.raises(AudioError, match="nowhere: file or folder not found"):
        audio.find_audio_files([tmp_path / "nowhere"])


def test_rms_envelope_tracks_level():
    x = np.concatenate([np.full(1000, 0.1), np.full(1000, 0.5)]).astype(np.float32)
    env = audio.rms_envelope(x, frame=500)
    np.testing.assert_allclose(env, [0.1, 0.1, 0.5, 0.5], rtol=1e-5)


def test_saved_files_get_normal_permissions(tmp_path, sine):
    old = os.umask(0o022)
    try:
        path = audio.save(tmp_path / "perm.wav", sine(440.0, 0.1), 44100)
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
