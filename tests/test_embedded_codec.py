"""The embedded DSP codec: shapes, determinism, pitch and loudness survive a round trip."""

from __future__ import annotations

import numpy as np
import pytest

from latentmorph import api, audio
from latentmorph.codecs import get_codec, list_codecs, parse_spec
from latentmorph.codecs.embedded import EmbeddedCodec
from latentmorph.errors import CodecError


@pytest.fixture(scope="module")
def codec() -> EmbeddedCodec:
    return get_codec("embedded")


def _peak_hz(x: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.argmax(spectrum) * sr / x.size)


def test_shapes_and_frame_convention(codec):
    assert (codec.sample_rate, codec.hop, codec.dim) == (44100, 1024, 64)
    for n in (1, 1024, 1025, 44100):
        z = codec.encode(np.zeros(n, dtype=np.float32))
        assert z.shape == (1, 64, -(-n // 1024)) == (1, 64, codec.num_frames(n))
    z = codec.encode(np.random.default_rng(0).standard_normal((2, 5000)).astype(np.float32) * 0.1)
    assert z.shape == (2, 64, 5) and z.dtype == np.float32
    assert codec.decode(z).shape == (2, 5 * 1024)


def test_deterministic_and_fingerprint_tracks_config(codec, sine):
    x = sine(330.0, 0.5)
    np.testing.assert_array_equal(codec.encode(x), codec.encode(x))
    np.testing.assert_array_equal(codec.decode(codec.encode(x)), codec.decode(codec.encode(x)))
    assert codec.fingerprint == get_codec("embedded").fingerprint
    assert codec.fingerprint != get_codec("embedded:hop=512").fingerprint
    assert get_codec("embedded:hop=512").frame_rate == pytest.approx(44100 / 512)


@pytest.mark.parametrize("freq", [220.0, 440.0, 1000.0])
def test_a_sine_stays_at_its_pitch(codec, sine, freq):
    x = sine(freq, 1.0)
    y = codec.decode(codec.encode(x))[0, 4096:-4096]
    semitones = 12 * np.log2(_peak_hz(y, 44100) / freq)
    assert abs(semitones) < 0.5


@pytest.mark.parametrize("name", ["speech_codec2.flac", "drums_amen.flac", "bells.flac"])
def test_round_trip_keeps_loudness_envelope(codec, data_dir, name):
    wave, sr = audio.load(data_dir / name, sr=44100)
    rebuilt = codec.decode(codec.encode(wave))[:, : wave.shape[1]]
    env_in = np.maximum(audio.to_db(audio.rms_envelope(wave, 2048, 1024)), -80)
    env_out = np.maximum(audio.to_db(audio.rms_envelope(rebuilt, 2048, 1024)), -80)
    assert np.corrcoef(env_in, env_out)[0, 1] >= 0.95
    # and re-encoding the decoded audio lands near the original latents
    z, z2 = codec.encode(wave), codec.encode(rebuilt)
    assert np.linalg.norm(z2 - z) / np.linalg.norm(z) < 0.15


def test_channels_are_encoded_independently(codec, sine):
    left, right = sine(200.0, 0.5), sine(2000.0, 0.5)
    z = codec.encode(np.stack([left, right]))
    np.testing.assert_allclose(z[0], codec.encode(left)[0], atol=1e-4)
    np.testing.assert_allclose(z[1], codec.encode(right)[0], atol=1e-4)


def test_any_input_rate_is_resampled(codec, data_dir):
    wave, sr = audio.load(data_dir / "speech_codec2.flac")
    assert sr == 16000
    z = codec.encode_audio(wave, sr)
    assert z.shape[-1] == codec.num_frames(round(wave.shape[1] * 44100 / 16000))
    back = codec.decode_audio(z, sr=16000)
    assert abs(back.shape[1] - wave.shape[1]) <= 1024 * 16000 / 44100 + 1


def test_registry_specs_and_errors():
    assert parse_spec("embedded:hop=512,dim=32") == ("embedded", {"hop": 512, "dim": 32})
    assert get_codec("dsp").name == "embedded"
    assert get_codec("embedded:dim=32").dim == 32
    with pytest.raises(CodecError, match="unknown codec 'nope'"):
        get_codec("nope")
    with pytest.raises(CodecError, match="key=value"):
        get_codec("embedded:hop")
    with pytest.raises(CodecError, match="bad option"):
        get_codec("embedded:bogus=1")
    status = {s.name: s for s in list_codecs()}
    assert status["embedded"].usable


def test_latents_file_refuses_another_codec(tmp_path, codec, sine):
    z = codec.encode(sine(440.0, 0.3))
    path = api.save_latents(tmp_path / "z.npy", z, codec)
    np.testing.assert_array_equal(api.load_latents(path, codec), z)
    with pytest.raises(CodecError, match="latents made with codec embedded-"):
        api.load_latents(path, get_codec("embedded:hop=512"))
