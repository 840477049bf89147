"""``latentmorph stream``, ``export`` and ``live`` (with a fake sounddevice: no audio device here)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from latentmorph.cli import main
from latentmorph.cli import live


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """A 1.5 s 16 kHz voice and a one-file water index."""
    from latentmorph.api import build_index

    tmp = tmp_path_factory.mktemp("stream_cli")
    wave, sr = sf.read(data_dir / "speech_codec2.flac", frames=24000)
    sf.write(tmp / "voice.wav", wave, sr)
    corp, csr = sf.read(data_dir / "water_ufoai.flac", frames=44100 * 4)
    sf.write(tmp / "water.wav", corp, csr)
    build_index([tmp / "water.wav"], tmp / "water.lmindex", progress=False)
    return tmp


def test_stream_file_aligned_prints_latency_and_block_times(env: Path, capsys: pytest.CaptureFixture) -> None:
    out = env / "out.wav"
    rc = main(["stream", str(env / "voice.wav"), "--index", str(env / "water.lmindex"), "-o", str(out), "--block", "256", "--eager"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "latency 2048 samples = 46.4 ms" in text and "p99" in text and "block 256 samples = 5.80 ms" in text
    y, sr = sf.read(out)
    assert sr == 16000 and y.shape == (24000,) and np.abs(y).max() > 0.05
    # --wet 0: the aligned output is the source itself (through 16k -> 44.1k -> 16k resampling)
    dry = env / "dry.wav"
    assert main(["stream", str(env / "voice.wav"), "--index", str(env / "water.lmindex"), "-o", str(dry), "--wet", "0",
                 "--block", "1000", "--eager", "--quiet"]) == 0
    src, _ = sf.read(env / "voice.wav")
    d, _ = sf.read(dry)
    e = d[200:-200] - src[200:-200]
    snr = 10 * np.log10(np.sum(src[200:-200] ** 2) / np.sum(e**2))
    assert snr > 40  # only 16-bit rounding and resampler ripple differ; one sample late gives ~11 dB


def _exit_code(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as stop:  # a flag refused at parse time
        return int(stop.code)


def test_stream_errors(env: Path, capsys: pytest.CaptureFixture) -> None:
    voice = str(env / "voice.wav")
    assert _exit_code(["stream", voice, "--index", str(env / "water.lmindex"), "-o", voice, "--eager"]) != 0
    assert _exit_code(["stream", voice, "--index", str(env / "water.lmindex"), "-o", str(env / "x.wav"), "--block", "0"]) != 0
    assert _exit_code(["stream", voice, "--index", str(env / "nope.lmindex"), "-o", str(env / "x.wav")]) != 0
    assert _exit_code(["stream", voice, "--index", str(env / "water.lmindex"), "-o", str(env / "x.wav"), "--lag", "-2"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4 and all(line.startswith("latentmorph: error:") for line in err)
    assert "nope.lmindex" in err[2]


def test_export_command_and_its_errors(env: Path, capsys: pytest.CaptureFixture) -> None:
    ts = env / "water.ts"
    assert main(["export", "--index", str(env / "water.lmindex"), "-o", str(ts), "--lag", "0"]) == 0
    assert ts.stat().st_size > 4 * 44100 * 4  # the corpus audio is inside
    assert "latency 1024 samples" in capsys.readouterr().out
    assert main(["export", "--index", str(env / "water.lmindex"), "-o", str(env / "x.pt")]) != 0
    assert main(["export", "--index", str(env / "water.lmindex"), "-o", str(env / "y.ts"), "--model", "m.lmdiff"]) != 0
    err = capsys.readouterr().err
    assert "NAME.ts" in err and "m.lmdiff" in err and not (env / "y.ts").exists()


class FakeSoundDevice:
    """Stands in for the sounddevice module: a Stream that feeds a known signal through the callback."""

    class PortAudioError(Exception):
        pass

    def __init__(self, signal: np.ndarray, fail: bool = False) -> None:
        self.signal, self.fail, self.kwargs, self.out = signal, fail, None, []

    def query_devices(self) -> str:
        if self.fail:
            raise self.PortAudioError("Error querying host API -9999")
        return "> 0 fake duplex, ALSA (2 in, 2 out)"

    def Stream(self, **kwargs):  # noqa: N802, ANN201
        self.kwargs = kwargs
        fake = self

        class _Stream:
            def __enter__(self):  # noqa: ANN204
                b, cb = kwargs["blocksize"], kwargs["callback"]
                for i in range(0, fake.signal.shape[0] - b + 1, b):
                    outdata = np.zeros((b, kwargs["channels"]), np.float32)
                    cb(fake.signal[i:i + b, None], outdata, b, None, None)
                    fake.out.append(outdata)
                return self

            def __exit__(self, *exc) -> None:  # noqa: ANN002
                return None

        return _Stream()


def test_live_callback_path_with_a_fake_device(env: Path, monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> None:
    from latentmorph.stream import Streamer

    sig = sf.read(data_dir / "drums_amen.flac", frames=44100, dtype="float32")[0]
    fake = FakeSoundDevice(sig)
    monkeypatch.setattr(live, "load_sounddevice", lambda: fake)
    rc = main(["live", "--index", str(env / "water.lmindex"), "--block", "128", "--seconds", "0", "--eager",
               "--input-device", "0", "--output-device", "fake out"])
    assert rc == 0
    assert fake.kwargs["samplerate"] == 44100 and fake.kwargs["blocksize"] == 128 and fake.kwargs["device"] == (0, "fake out")
    got = np.concatenate(fake.out)[:, 0]
    want = Streamer(str(env / "water.lmindex")).process(sig[: got.shape[0]])
    np.testing.assert_allclose(got, want, atol=1e-7)
    assert np.abs(got).max() > 0.05


def test_live_device_errors_are_one_line(env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    fake = FakeSoundDevice(np.zeros(10, np.float32), fail=True)
    monkeypatch.setattr(live, "load_sounddevice", lambda: fake)
    assert main(["live", "--list-devices"]) != 0
    assert main(["live"]) != 0  # neither --index nor --list-devices
    monkeypatch.undo()
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # not installed
    assert main(["live", "--list-devices"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and "-9999" in err[0] and "--index" in err[1]
    assert "pip install 'latentmorph[live]'" in err[2]
