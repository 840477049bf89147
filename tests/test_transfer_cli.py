"""``latentmorph transfer`` end to end: --corpus (cached index), --index, --report, --plot, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from latentmorph.cli import main


@pytest.fixture
def env(tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A work folder with a 1.5 s source, a one-file corpus folder and a private cache."""
    monkeypatch.setenv("LATENTMORPH_CACHE_DIR", str(tmp_path / "cache"))
    wave, sr = sf.read(data_dir / "speech_codec2.flac", frames=24000)
    sf.write(tmp_path / "voice.wav", wave, sr)
    (tmp_path / "corpus").mkdir()
    corp, csr = sf.read(data_dir / "water_ufoai.flac", frames=44100 * 4)
    sf.write(tmp_path / "corpus" / "water.wav", corp, csr)
    return tmp_path


def test_corpus_folder_report_and_plot(env: Path, capsys: pytest.CaptureFixture) -> None:
    out, rep, png = env / "out.wav", env / "out.json", env / "out.png"
    rc = main(["transfer", str(env / "voice.wav"), "--corpus", str(env / "corpus"), "-o", str(out),
               "--report", str(rep), "--plot", str(png), "--quiet"])
    assert rc == 0
    wave, sr = sf.read(out)
    assert sr == 16000 and wave.shape == (24000,)
    report = json.loads(rep.read_text())
    assert report["settings"]["mode"] == "viterbi" and report["settings"]["render"] == "grains"
    frames = report["channels"][0]["frames"]
    assert len(frames) == int(np.ceil(1.5 * 44100 / 1024))
    assert report["corpus_files"][0].endswith("water.wav")
    for f in frames:
        assert f["file"] == 0 and 0 <= f["file_time"] < 4.0 and f["distance"] >= 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the index went to the cache and is reused (same answer, nothing rebuilt)
    cached = list((env / "cache").rglob("*.lmindex"))
    assert len(cached) == 1
    assert main(["transfer", str(env / "voice.wav"), "--corpus", str(env / "corpus"), "-o", str(env / "again.wav"), "--quiet"]) == 0
    np.testing.assert_array_equal(sf.read(env / "again.wav")[0], wave)


def test_index_preset_reference_and_flags(env: Path) -> None:
    from latentmorph.api import build_index

    build_index([env / "corpus"], env / "water.lmindex", progress=False)
    out = env / "ref.wav"
    rc = main(["transfer", str(env / "voice.wav"), "--index", str(env / "water.lmindex"), "-o", str(out),
               "--preset", "reference", "--sr", "22050", "--report", str(env / "ref.json"), "--quiet"])
    assert rc == 0
    wave, sr = sf.read(out)
    assert sr == 22050 and wave.shape == (33075,)
    s = json.loads((env / "ref.json").read_text())["settings"]
    assert (s["mode"], s["render"], s["follow_loudness"], s["wet"]) == ("nearest", "decode", False, 0.8)
    assert s["transients"] is False  # the reference workflow has no transient shaping
    # the stage's switch: on by default, --no-transients turns it off
    for flags, want in (([], True), (["--no-transients"], False)):
        rc = main(["transfer", str(env / "voice.wav"), "--index", str(env / "water.lmindex"), "-o", str(out),
                   "--report", str(env / "t.json"), "--quiet", *flags])
        assert rc == 0
        assert json.loads((env / "t.json").read_text())["settings"]["transients"] is want
    # a flag overrides the preset
    rc = main(["transfer", str(env / "voice.wav"), "--index", str(env / "water.lmindex"), "-o", str(out),
               "--preset", "reference", "--wet", "0", "--quiet"])
    assert rc == 0
    dry, _ = sf.read(out)
    src, _ = sf.read(env / "voice.wav")
    np.testing.assert_allclose(dry, src, atol=1e-4)


def test_user_mistakes_give_one_line_and_exit_2(env: Path, capsys: pytest.CaptureFixture) -> None:
    from latentmorph.api import build_index

    (env / "empty").mkdir()
    build_index([env / "corpus"], env / "hop512.lmindex", "embedded:hop=512", progress=False)
    voice, out = str(env / "voice.wav"), str(env / "o.wav")
    cases = [
        ([str(env / "missing.wav"), "--corpus", str(env / "corpus")], "missing.wav"),
        ([voice, "--corpus", str(env / "empty")], "empty"),
        ([voice, "--index", str(env / "hop512.lmindex"), "--codec", "embedded"], "hop512.lmindex"),
        ([voice, "--index", str(env / "nope.lmindex")], "nope.lmindex"),
    ]
    capsys.readouterr()
    for args, needle in cases:
        assert main(["transfer", *args, "-o", out, "--quiet"]) == 2
        err = capsys.readouterr().err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("latentmorph: error:") and needle in lines[0], err
    assert not (env / "o.wav").exists()


def test_help_teaches_with_examples() -> None:
    proc = subprocess.run([sys.executable, "-m", "latentmorph", "transfer", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0
    for word in ("--continuity", "--preset", "--report", "--plot", "examples:", "--keep-source-threshold"):
        assert word in proc.stdout
