"""Fuzz `transfer` and `decode` with random bytes, random WAV/FLAC headers and random .npy/JSON sidecars.

A seeded generator (reproducible: the failing case's seed is in the message) runs for a
bounded time (``LATENTMORPH_FUZZ_SECONDS``, default 10 s). Each case must end with exit
code 0, 1 or 2, no traceback (an exception escaping ``main`` fails the test), exactly one
``latentmorph: error:`` line when it fails, only ``latentmorph:`` lines on stderr, and no
file written or changed except the named output.
"""

from __future__ import annotations

import io
import json
import os
import struct
import time
from pathlib import Path

import numpy as np
import pytest

from latentmorph.cli import main
from test_safety_outputs import changed, clip, snapshot

DATA = Path(__file__).parent / "data"
BUDGET_S = float(os.environ.get("LATENTMORPH_FUZZ_SECONDS", "10"))


def _riff_wav(rng: np.random.Generator) -> bytes:
    fmt_tag = int(rng.choice([1, 3, 0xFFFE, 2, 0, int(rng.integers(0, 65536))]))
    channels = int(rng.choice([1, 2, 0, 3, 64, 65, 1000, 65535]))
    rate = int(rng.choice([44100, 22050, 8000, 1, 0, 3999, 384001, 10_000_000, 2**32 - 1]))
    bits = int(rng.choice([16, 24, 32, 8, 0, 7, 64]))
    block = max(0, channels * bits // 8) & 0xFFFF
    payload = rng.integers(-2**15, 2**15, int(rng.integers(0, 12000)), dtype=np.int16).tobytes()
    claimed = int(rng.choice([len(payload), len(payload) * 2, 0, 0xFFFFFFFF, int(rng.integers(0, 2**32))]))
    fmt = struct.pack("<HHIIHH", fmt_tag, channels & 0xFFFF, rate, (rate * block) & 0xFFFFFFFF, block, bits)
    fmt_size = int(rng.choice([16, 18, 40, 2, 1000]))
    body = b"WAVE" + b"fmt " + struct.pack("<I", fmt_size) + fmt.ljust(min(fmt_size, 64), b"\0")[:fmt_size]
    body += b"data" + struct.pack("<I", claimed) + payload
    return b"RIFF" + struct.pack("<I", int(rng.choice([len(body), 0, 2**32 - 1]))) + body


def _flac(rng: np.random.Generator) -> bytes:
    info = bytearray(rng.integers(0, 256, 34, dtype=np.uint8).tobytes())
    return b"fLaC" + bytes([0x80]) + struct.pack(">I", 34)[1:] + bytes(info) + rng.integers(0, 256, int(rng.integers(0, 4000)), dtype=np.uint8).tobytes()


def _audio_case(rng: np.random.Generator) -> tuple[str, bytes]:
    kind = int(rng.integers(0, 4))
    if kind == 0:
        return ".wav", rng.integers(0, 256, int(rng.integers(0, 3000)), dtype=np.uint8).tobytes()
    if kind == 1:
        return ".wav", _riff_wav(rng)
    if kind == 2:
        return ".flac", _flac(rng)
    good = (DATA / "piano_melody.flac").read_bytes()  # a real file, cut or with bytes flipped
    b = bytearray(good[: int(rng.integers(0, len(good)))])
    for i in rng.integers(0, max(1, len(b)), int(rng.integers(0, 20))):
        if b:
            b[int(i) % len(b)] = int(rng.integers(0, 256))
    return ".flac", bytes(b)


def _npy_case(rng: np.random.Generator) -> bytes:
    kind = int(rng.integers(0, 3))
    if kind == 0:
        return rng.integers(0, 256, int(rng.integers(0, 500)), dtype=np.uint8).tobytes()
    dtype = str(rng.choice(["<f4", "<f8", "<i2", "<c8", "|b1", "<U3", ">f4", "|O", "<f2"]))
    ndim = int(rng.integers(0, 5))
    shape = tuple(int(rng.choice([0, 1, 2, 64, 65, 7, 10**9])) for _ in range(ndim))
    header = {"descr": dtype, "fortran_order": bool(rng.integers(0, 2)), "shape": shape}
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    n = int(rng.integers(0, 40000)) if kind == 1 else 4 * int(np.prod([s for s in shape if s < 10**6], dtype=np.int64) or 0)
    payload = rng.standard_normal(max(0, min(n, 400000)) // 4).astype(np.float32)
    if payload.size and rng.random() < 0.3:
        payload[rng.integers(0, payload.size, 3)] = np.nan
    return buf.getvalue() + payload.tobytes()[:n]


def _sidecar(rng: np.random.Generator) -> bytes | None:
    kind = int(rng.integers(0, 5))
    if kind == 0:
        return None
    if kind == 1:
        return rng.integers(0, 256, int(rng.integers(0, 200)), dtype=np.uint8).tobytes()
    values = [None, 1, -1.5, "embedded", "x" * 300, [1, 2], {"a": 1}, True, float("1e308")]
    if kind == 2:
        return json.dumps(values[int(rng.integers(0, len(values)))]).encode()
    keys = ["codec", "fingerprint", "sample_rate", "hop", "shape"]
    return json.dumps({k: values[int(rng.integers(0, len(values)))] for k in keys if rng.random() < 0.8}).encode()


def _check(argv: list[str], seed: int, root: Path, output: Path, capsys) -> None:  # noqa: ANN001
    before = snapshot(root)
    try:
        rc = main(argv)
    except SystemExit as stop:  # argparse's usage errors
        rc = stop.code
    except BaseException as err:  # noqa: BLE001  (anything escaping main would be a traceback)
        pytest.fail(f"seed {seed}: {' '.join(argv)} raised {type(err).__name__}: {err}")
    err = capsys.readouterr().err
    where = f"seed {seed}: {' '.join(argv)}"
    assert rc in (0, 1, 2), f"{where}: exit {rc}\n{err}"
    assert "Traceback" not in err, f"{where}\n{err}"
    assert all(ln.startswith("latentmorph: ") for ln in err.splitlines()), f"{where}: stray stderr\n{err}"
    errors = [ln for ln in err.splitlines() if ln.startswith("latentmorph: error:")]
    assert len(errors) == (0 if rc == 0 else 1), f"{where}: exit {rc}\n{err}"
    extra = {p for p in changed(before, snapshot(root)) if Path(p) != output and "/cache/" not in p}
    assert not extra, f"{where}: wrote {extra}"


def test_fuzz_transfer_and_decode(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LATENTMORPH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    clip(DATA / "bells.flac", tmp_path / "corpus.wav", 1.0)
    out = tmp_path / "out.wav"
    rng0 = np.random.default_rng(20261201)
    deadline = time.monotonic() + BUDGET_S
    cases = 0
    while time.monotonic() < deadline or cases < 8:
        seed = int(rng0.integers(0, 2**31))
        rng = np.random.default_rng(seed)
        ext, blob = _audio_case(rng)
        src = tmp_path / f"fuzz{ext}"
        src.write_bytes(blob)
        _check(["transfer", str(src), "--corpus", "corpus.wav", "-o", str(out), "--quiet"], seed, tmp_path, out, capsys)
        src.unlink()
        npy, side = tmp_path / "lat.npy", tmp_path / "lat.json"
        npy.write_bytes(_npy_case(rng))
        sidecar = _sidecar(rng)
        if sidecar is not None:
            side.write_bytes(sidecar)
        _check(["decode", str(npy), "-o", str(out)], seed, tmp_path, out, capsys)
        npy.unlink()
        side.unlink(missing_ok=True)
        cases += 1
    assert cases >= 8
