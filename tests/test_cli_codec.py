"""The encode/decode/codecs commands, and one-line errors with non-zero exits for bad input."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from latentmorph import audio
from latentmorph.cli import main


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_encode_then_decode_round_trip(tmp_path, data_dir, capsys):
    latents = tmp_path / "drums.npy"
    code, out, _ = run_cli(capsys, "encode", data_dir / "drums_amen.flac", "-o", latents)
    assert code == 0 and "[1, 64, 173]" in out
    assert np.load(latents).shape == (1, 64, 173)
    wav = tmp_path / "drums.wav"
    code, out, _ = run_cli(capsys, "decode", latents, "-o", wav, "--sr", "22050")
    assert code == 0
    info = sf.info(wav)
    assert info.samplerate == 22050 and abs(info.duration - 173 * 1024 / 44100) < 0.01


def test_codecs_lists_embedded_as_usable(capsys):
    code, out, _ = run_cli(capsys, "codecs")
    assert code == 0
    assert any(line.startswith("embedded") and "usable: yes" in line for line in out.splitlines())


def test_decode_refuses_latents_from_other_codec_options(tmp_path, data_dir, capsys):
    latents = tmp_path / "z.npy"
    assert run_cli(capsys, "encode", data_dir / "wind_ufoai.flac", "-o", latents)[0] == 0
    code, _, err = run_cli(capsys, "decode", latents, "-o", tmp_path / "x.wav", "--codec", "embedded:hop=512")
    assert code == 2 and "latents made with codec" in err
    assert not (tmp_path / "x.wav").exists()


@pytest.fixture
def bad_files(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "text.flac").write_text("not audio at all\n" * 50)
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + os.urandom(300))
    sf.write(tmp_path / "nan.wav", np.full(1000, np.nan, dtype=np.float32), 8000, subtype="FLOAT")
    sf.write(tmp_path / "zero.wav", np.zeros((0, 1), dtype=np.float32), 8000)
    audio.save(tmp_path / "long.wav", np.zeros(8000 * 5, dtype=np.float32) + 0.1, 8000)
    (tmp_path / "dir.wav").mkdir()
    return tmp_path


@pytest.mark.parametrize(
    "name, extra, problem",
    [
        ("missing.wav", [], "file not found"),
        ("dir.wav", [], "is a directory"),
        ("empty.wav", [], "file is empty"),
        ("text.flac", [], "not a readable audio file"),
        ("corrupt.wav", [], "not a readable audio file"),
        ("nan.wav", [], "NaN/Inf"),
        ("zero.wav", [], "contains no audio"),
        ("long.wav", ["--max-seconds", "2"], "over the 2 s limit"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(bad_files, capsys, name, extra, problem):
    out_path = bad_files / "out.npy"
    code, out, err = run_cli(capsys, "encode", bad_files / name, "-o", out_path, *extra)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and name in lines[0] and problem in lines[0], err
    assert "Traceback" not in err
    assert not out_path.exists()


def test_console_script_reports_errors_without_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "latentmorph", "encode", str(tmp_path / "nope.wav"), "-o", str(tmp_path / "x.npy")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"latentmorph: error: {tmp_path / 'nope.wav'}: file not found"


def test_unknown_codec_is_a_one_line_error(tmp_path, data_dir, capsys):
    code, _, err = run_cli(capsys, "encode", data_dir / "bells.flac", "-o", tmp_path / "z.npy", "--codec", "wavenet")
    assert code == 2 and "unknown codec 'wavenet'" in err and len(err.strip().splitlines()) == 1


def test_bad_output_format_fails_before_any_work(tmp_path, data_dir, capsys):
    latents = tmp_path / "z.npy"
    assert run_cli(capsys, "encode", data_dir / "bells.flac", "-o", latents)[0] == 0
    code, _, err = run_cli(capsys, "decode", latents, "-o", tmp_path / "out.mp3")
    assert code == 2 and "out.mp3: unsupported output format .mp3" in err
    code, _, err = run_cli(capsys, "transfer", tmp_path / "missing.wav", "--corpus", data_dir / "bells.flac", "-o", tmp_path / "o.mp3")
    assert code == 2 and "o.mp3: unsupported output format" in err  # checked before the source is even read


def test_every_command_with_a_codec_has_the_same_codec_options():
    """--codec, --weights, --precision and --compile come from cli.common.add_codec_option everywhere."""
    import argparse

    from latentmorph.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    with_codec = []
    for name, parser in sub.choices.items():
        flags = {f for a in parser._actions for f in a.option_strings}
        if "--codec" in flags or "--weights" in flags:
            with_codec.append(name)
            assert {"--codec", "--weights", "--precision", "--compile"} <= flags, name
    assert {"encode", "decode", "index", "transfer", "train"} <= set(with_codec)
