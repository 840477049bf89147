"""Item 7 of issue 8: every numeric option is checked at parse time (NaN, inf, range), in the CLI and the API."""

from __future__ import annotations

import math
import subprocess
import sys
import time

import numpy as np
import pytest

import latentmorph as lm
from latentmorph.errors import LatentmorphError
from test_safety_outputs import error_line, refused, work  # noqa: F401  (work is a fixture)

T = ["transfer", "src.wav", "--corpus", "bells.wav", "-o", "out.wav"]

BAD_FLAGS = [
    # (argv prefix, flag, value)
    *[(T, flag, v) for flag, vals in {
        "--sr": ["-1", "0", "1", "10000000", "nan", "44100.5"],
        "--seed": ["-1", "nan", "1.5", "99999999999"],
        "--temperature": ["nan", "inf", "0", "-1"],
        "--continuity": ["nan", "-1", "inf"],
        "--keep-source-threshold": ["nan", "inf"],  # negative is valid for --metric dot: TransferSettings checks it per metric
        "--avoid-repeat": ["-1", "nan"],
        "--max-seconds": ["0", "nan", "-5", "inf"],
        "-k": ["0", "-3", "nan", "100000"],
        "--window": ["0", "nan"],
        "--stride": ["0", "2.5"],
        "--strength": ["nan", "1.5", "-0.1"],
        "--wet": ["nan", "2"],
    }.items() for v in vals],
    *[(["encode", "src.wav", "-o", "x.npy"], "--max-seconds", v) for v in ("0", "nan")],
    *[(["decode", "x.npy", "-o", "x.wav"], "--sr", v) for v in ("-1", "0", "nan", "1000000")],
    *[(["evaluate", "bells.wav", "src.wav"], "--max-seconds", v) for v in ("0", "nan")],
    *[(["index", "bells.wav", "-o", "c.lmindex"], flag, v) for flag, vals in {
        "--pitch-shift": ["nan", "inf", "100", "-12,nan", "x"],
        "--gain-db": ["nan", "100", "-1000"],
        "--lock-timeout": ["-1", "nan"],
        "--max-seconds": ["0", "nan"],
    }.items() for v in vals],
]


@pytest.mark.parametrize("argv,flag,value", BAD_FLAGS, ids=[f"{a[0]} {f} {v}" for a, f, v in BAD_FLAGS])
def test_bad_numbers_are_refused_at_parse_time(work, capsys, argv, flag, value):  # noqa: F811
    line = refused([*argv, f"{flag}={value}"], capsys, work, f"argument {flag}")
    assert value.split(",")[-1] in line or "expected" in line


BAD_SPECS = ["embedded:hop=abc", "embedded:hop=nan", "embedded:hop=0", "embedded:hop=-1", "embedded:hop=1.5",
             "embedded:nope=1", "embedded:sample_rate=10", "embedded:hop", "embedded:hop=1e99", "nosuchcodec"]


@pytest.mark.parametrize("spec", BAD_SPECS)
def test_bad_codec_specs_are_one_line(work, capsys, spec):  # noqa: F811
    name = spec.split(":")[0]
    refused(["encode", "src.wav", "-o", "x.npy", "--codec", spec], capsys, work, name)
    refused(["index", "bells.wav", "-o", "c.lmindex", "--codec", spec], capsys, work, name)


def test_pitch_shift_nan_no_longer_hangs():
    """``--pitch-shift nan`` used to spin at 100 % CPU inside soxr (Ctrl-C ignored): now refused at once.

    Run in a subprocess with a timeout, so a regression fails the test instead of hanging the suite.
    """
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "latentmorph", "index", "x.wav", "-o", "x.lmindex", "--pitch-shift", "nan"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert error_line(proc.stderr).startswith("latentmorph: error: latentmorph index: argument --pitch-shift")
    # the loop that spun is soxr with a NaN ratio: every resample now checks its rates first
    code = ("import numpy as np\nfrom latentmorph.audio import resample\n"
            "try:\n    resample(np.zeros(1000, np.float32), 44100, float('nan'))\nexcept Exception as e:\n    print(type(e).__name__, e)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.stdout.startswith("AudioError resample: output sample rate must be a finite number above 0")
    assert time.monotonic() - start < 120


@pytest.mark.parametrize("ratio", [float("nan"), float("inf"), 0.0, -1.0, 1e6, 1e-6])
def test_resample_refuses_rates_that_would_spin(ratio):
    with pytest.raises(LatentmorphError, match="resample"):
        lm.audio.resample(np.zeros(100, np.float32), 44100, 44100 * ratio)


API_BAD = [("temperature", math.nan), ("temperature", 0.0), ("continuity", math.nan), ("keep_source_threshold", math.nan),
           ("avoid_repeat", -1), ("seed", -1), ("out_sr", -1), ("out_sr", 10_000_000), ("k", 0), ("wet", math.nan),
           ("strength", math.inf), ("window", 0)]


@pytest.mark.parametrize("name,value", API_BAD)
def test_api_transfer_refuses_bad_numbers(name, value, sine):
    wave = sine(440, 0.5, 22050)
    corpus = [(sine(330, 1.0, 22050), 22050)]
    with pytest.raises(LatentmorphError, match=name):
        lm.transfer(wave, 22050, corpus=corpus, **{name: value})


@pytest.mark.parametrize("sr", [0, -1, 1, 10_000_000, math.nan, 44100.5])
def test_api_refuses_bad_sample_rates(sr, sine):
    with pytest.raises(LatentmorphError, match="sample rate"):
        lm.transfer(sine(440, 0.5, 22050), sr, corpus=[(sine(330, 1.0, 22050), 22050)])
    with pytest.raises(LatentmorphError, match="sample rate"):
        lm.encode(sine(440, 0.5, 22050), sr)


def test_max_seconds_environment_value_is_checked(work, capsys, monkeypatch):  # noqa: F811
    monkeypatch.setenv("LATENTMORPH_MAX_SECONDS", "nan")
    refused(["encode", "src.wav", "-o", "x.npy"], capsys, work, "LATENTMORPH_MAX_SECONDS")


def test_help_lists_ranges_and_good_values_still_work(work, capsys):  # noqa: F811
    from test_safety_outputs import run

    rc, _, err = run([*T, "--sr", "22050", "--seed", "0", "--temperature", "0.3", "--continuity", "0",
                      "--avoid-repeat", "0", "--max-seconds", "10", "--wet", "0.5", "-k", "4", "--quiet"], capsys)
    assert rc == 0, err
    import soundfile as sf

    assert sf.info("out.wav").samplerate == 22050
