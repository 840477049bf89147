"""Item 9 (audio side) and 10 of issue 8: damaged headers, truncated files, layout, source-in-corpus, memory bounds."""

from __future__ import annotations

import math
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest

import latentmorph as lm
from latentmorph.audio import TruncatedAudioWarning, as_2d, load
from latentmorph.errors import AudioError
from test_safety_outputs import changed, clip, error_line, refused, run, snapshot, work  # noqa: F401

DATA = Path(__file__).parent / "data"


def _wav_with(path: Path, src: Path, *, channels: int | None = None, rate: int | None = None) -> Path:
    """Copy a 16-bit WAV, rewriting its fmt chunk's channel count and/or sample rate."""
    b = bytearray(src.read_bytes())
    assert b[12:16] == b"fmt "
    if channels is not None:
        b[22:24] = struct.pack("<H", channels)
        b[32:34] = struct.pack("<H", 2 * channels)  # block align
        b[28:32] = struct.pack("<I", 44100 * 2 * channels)
    if rate is not None:
        b[24:28] = struct.pack("<I", rate)
    path.write_bytes(bytes(b))
    return path


def test_truncated_wav_warns_with_both_lengths(work, capsys):  # noqa: F811
    full = (work / "src.wav").read_bytes()
    (work / "cut.wav").write_bytes(full[: 44 + (len(full) - 44) // 2])
    with pytest.warns(TruncatedAudioWarning, match=r"cut.wav: truncated: the header announces 1.00 s but the file holds 0.50 s"):
        wave, sr = load(work / "cut.wav")
    assert wave.shape == (1, 22050)
    rc, _, err = run(["transfer", "cut.wav", "--corpus", "bells.wav", "-o", "out.wav", "--quiet"], capsys)
    assert rc == 0
    assert [ln for ln in err.splitlines() if "truncated" in ln][0].startswith("latentmorph: warning: cut.wav: truncated")


def test_complete_wav_does_not_warn(work):  # noqa: F811
    with warnings.catch_warnings():
        warnings.simplefilter("error", TruncatedAudioWarning)
        load(work / "src.wav")


def test_header_with_1000_channels_is_refused_not_transposed(work, capsys):  # noqa: F811
    _wav_with(work / "wide.wav", work / "src.wav", channels=1000)
    with pytest.raises(AudioError, match="header claims 1000 channels"):
        load(work / "wide.wav")
    refused(["transfer", "wide.wav", "--corpus", "bells.wav", "-o", "out.wav"], capsys, work, "wide.wav: header claims 1000 channels")
    refused(["evaluate", "wide.wav", "src.wav"], capsys, work, "wide.wav: header claims 1000 channels")
    refused(["encode", "wide.wav", "-o", "w.npy"], capsys, work, "wide.wav: header claims 1000 channels")


@pytest.mark.parametrize("rate", [1, 100, 10_000_000])
def test_absurd_header_rates_are_refused(work, capsys, rate):  # noqa: F811
    _wav_with(work / "odd.wav", work / "src.wav", rate=rate)
    refused(["transfer", "odd.wav", "--corpus", "bells.wav", "-o", "out.wav"], capsys, work, f"odd.wav: header claims a sample rate of {rate} Hz")


def test_layout_is_never_guessed_from_the_shape():
    short_stereo = np.array([[0.1], [0.2]], np.float32)  # 2 channels, 1 sample
    assert as_2d(short_stereo).shape == (2, 1)  # used to be "transposed" to 1 channel x 2 samples
    assert as_2d(np.zeros((64, 10))).shape == (64, 10)
    with pytest.raises(AudioError, match=r"pass \[channels, samples\]"):
        as_2d(np.zeros((44100, 2)))  # a soundfile [samples, channels] array
    from latentmorph.evaluate.features import mono

    assert mono(np.stack([np.ones(3), -np.ones(3)])).tolist() == [0.0, 0.0, 0.0]


def test_source_in_corpus_warns_that_output_is_largely_the_source(work, capsys):  # noqa: F811
    rc, _, err = run(["transfer", "src.wav", "--corpus", "src.wav", "bells.wav", "-o", "out.wav", "--quiet"], capsys)
    assert rc == 0
    lines = [ln for ln in err.splitlines() if "in the corpus" in ln]
    assert len(lines) == 1 and lines[0].startswith("latentmorph: warning:")
    assert "the output will largely be the source" in lines[0]
    # an unrelated corpus gives no such warning
    rc, _, err = run(["transfer", "src.wav", "--corpus", "bells.wav", "-o", "out2.wav", "--quiet"], capsys)
    assert rc == 0 and "in the corpus" not in err


def test_self_match_share_counts_identical_frames():
    from latentmorph.transfer.engine import self_match_share

    rng = np.random.default_rng(0)
    corpus = rng.standard_normal((50, 8)).astype(np.float32)
    source = corpus[10:30].T  # [dim, frames]
    assert self_match_share(source, corpus, np.arange(10, 30)) == 1.0
    assert self_match_share(source, corpus, np.arange(30, 50)) == 0.0
    assert self_match_share(source, corpus, np.full(20, -1)) == 0.0


def test_evaluate_has_a_length_limit(work, capsys):  # noqa: F811
    refused(["evaluate", "bells.wav", "src.wav", "--max-seconds", "1.5"], capsys, work, "bells.wav: is 2 s long, over the 2 s limit")
    with pytest.raises(AudioError, match="over the"):
        lm.evaluate_files(work / "bells.wav", work / "src.wav", max_seconds=1.5)


def test_blockwise_leakage_correlation_equals_one_fft():
    from latentmorph.evaluate.style import lagged_correlation

    rng = np.random.default_rng(1)
    a = rng.standard_normal(50_000)
    b = np.roll(a, 37) + 0.1 * rng.standard_normal(a.size)
    size = 1 << int(math.ceil(math.log2(2 * a.size)))
    xc = np.fft.irfft(np.fft.rfft(a, size) * np.conj(np.fft.rfft(b, size)), size)
    ref = np.concatenate([xc[size - 100:], xc[:101]])
    got = lagged_correlation(a, b, 100, block=4096)
    assert np.allclose(got, ref, atol=1e-8)
    assert int(np.argmax(got)) - 100 == -37


def test_blockwise_mel_and_chroma_equal_the_full_spectrogram(data_dir):
    from latentmorph.evaluate import features as F

    x, sr = load(data_dir / "piano_melody.flac", sr=22050, mono=True)
    x = x[0].astype(np.float64)[: 22050 * 2]
    p = F.power_spectrogram(x, sr)
    assert np.allclose(F.log_mel(x, sr), F.log_mel(x, sr, power=p))
    assert np.allclose(F.chroma(x, sr), F.chroma(x, sr, power=p))


def test_decode_refuses_damaged_latents_in_one_line(work, capsys):  # noqa: F811
    np.save(work / "wide.npy", np.zeros((100, 64, 5), np.float32))
    refused(["decode", "wide.npy", "-o", "o.wav"], capsys, work, "wide.npy: latents must be [channels 1..64")
    np.save(work / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    refused(["decode", "obj.npy", "-o", "o.wav"], capsys, work, "obj.npy: not a latent .npy file")
    np.save(work / "ok.npy", np.zeros((1, 64, 5), np.float32))
    (work / "ok.json").write_text("[1, 2]")  # a sidecar that is not an object is ignored, not a crash
    rc, _, err = run(["decode", "ok.npy", "-o", "o.wav"], capsys)
    assert rc == 0, err


def test_long_sources_are_transferred_in_pieces(sine, monkeypatch):
    """A source longer than ``chunk_seconds`` is cut into overlapping pieces: same length, same loudness course."""
    from latentmorph.transfer import engine
    from latentmorph.evaluate.content import loudness_correlation

    sr = 22050
    t = np.arange(4 * sr) / sr
    wave = (sine(440, 4.0, sr) * (0.2 + 0.8 * (np.sin(2 * np.pi * 0.5 * t) > 0))).astype(np.float32)  # loud/soft every second
    corpus = [(load(DATA / "bells.flac", sr=sr, mono=True)[0][0][: 2 * sr], sr)]
    calls = []
    real = engine._run  # every piece runs the engine's stages once, in one piece (chunk_seconds 0)

    def counting(*a, **k):  # noqa: ANN002, ANN003, ANN202
        calls.append(a[-1])
        return real(*a, **k)

    whole, _ = engine.transfer(wave, sr, corpus=corpus, chunk_seconds=0)
    monkeypatch.setattr(engine, "_run", counting)
    pieces, _ = engine.transfer(wave, sr, corpus=corpus, chunk_seconds=1.0)
    assert calls.count(0) == 4  # four pieces of ~1 s, each one transfer
    assert pieces.shape == whole.shape == wave.shape
    assert np.isfinite(pieces).all() and np.abs(pieces).max() <= 0.99
    assert loudness_correlation(pieces.astype(np.float64), wave.astype(np.float64), sr)["value"] > 0.8


def test_evaluate_applies_the_default_limit(work, capsys, monkeypatch):  # noqa: F811
    monkeypatch.setenv("LATENTMORPH_MAX_SECONDS", "1.5")
    refused(["evaluate", "bells.wav", "src.wav"], capsys, work, "bells.wav: is 2 s long, over the 2 s limit")
