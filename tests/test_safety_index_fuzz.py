"""Seeded fuzzing of everything the index layer reads back (issue 8, done-when).

Random bytes, damaged manifests, grain tables and pack members are thrown at
``latentmorph info``, ``latentmorph index --import`` and ``latentmorph transfer --index``
for a bounded time. Every run must end with exit code 0, 1 or 2 (never an exception
escaping ``main``), a non-zero exit must print exactly one ``latentmorph: error:`` line,
and nothing outside the command's named output may change.
"""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from test_safety_index import base, changed_outside, manifest_of, run_cli, snapshot  # noqa: F401 - base is a fixture

SEED = int(os.environ.get("LATENTMORPH_FUZZ_SEED", "8"))
BUDGET_S = float(os.environ.get("LATENTMORPH_FUZZ_SECONDS", "9"))

ODD_VALUES: list[Any] = [None, True, False, -1, 0, 1, 2**31, 2**63, -(2**63), 1e308, float("nan"), float("inf"), -0.0,
                         "", "../x.npy", "/etc/passwd", "..", "a" * 500, "\x00", "\udcff", [], {}, [[[]]], {"kind": "pitch"},
                         "latents-000000000000.npy", "grains-000000000000.npz", 3.5, "44100"]


def _paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path in a JSON tree."""
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, prefix + (i,))
    return out


def mutate_json(rng: random.Random, obj: Any) -> Any:
    """Replace, delete or retype one value somewhere in a JSON tree (a copy)."""
    obj = json.loads(json.dumps(obj))
    path = rng.choice(_paths(obj)[1:] or [()])
    if not path:
        return rng.choice(ODD_VALUES)
    parent = obj
    for k in path[:-1]:
        parent = parent[k]
    key = path[-1]
    roll = rng.random()
    if roll < 0.2 and isinstance(parent, dict):
        del parent[key]
    elif roll < 0.35 and isinstance(parent[key], (int, float)) and not isinstance(parent[key], bool):
        parent[key] = parent[key] + rng.choice([-1, 1, 7, -10**6, 10**9])
    else:
        parent[key] = rng.choice(ODD_VALUES)
    return obj


def mutate_array(rng: random.Random, a: np.ndarray) -> np.ndarray:
    """One damaged version of an array: wrong values, dtype, length, shape or kind."""
    a = a.copy()
    roll = rng.randrange(7)
    if roll == 0 and a.size:
        flat = a.reshape(-1)
        if a.dtype.kind in "iu":
            info = np.iinfo(a.dtype)
            value = rng.choice([-1, 0, 1, info.max, info.min, rng.randint(int(info.min), int(info.max))])
        else:
            value = rng.choice([np.nan, np.inf, -np.inf, 1e30])
        flat[rng.randrange(flat.size)] = value
        return a
    if roll == 1:
        with np.errstate(all="ignore"):
            return a.astype(rng.choice([np.float64, np.uint8, np.int64, np.float16, np.bool_]))
    if roll == 2:
        return a[: max(0, len(a) - rng.randint(1, 5))]
    if roll == 3:
        return np.concatenate([a, a[:3]])
    if roll == 4:
        return a.reshape(-1) if a.ndim > 1 else a.reshape(1, -1)
    if roll == 5:
        return np.array(["x"] * max(1, len(a)))
    return np.zeros((0,) + a.shape[1:], a.dtype)


def mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    roll = rng.randrange(4)
    if roll == 0:
        return data[: rng.randrange(len(data) + 1)]
    if roll == 1:
        b = bytearray(data)
        for _ in range(rng.randint(1, 16)):
            if b:
                b[rng.randrange(len(b))] = rng.randrange(256)
        return bytes(b)
    if roll == 2:
        return data + bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    return bytes(rng.randrange(256) for _ in range(rng.randint(0, 400)))


def _npz(members: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **members)
    return buf.getvalue()


def damage_index(rng: random.Random, index: Path) -> str:
    """Damage one part of an index folder; returns a description."""
    m = manifest_of(index)
    choice = rng.randrange(4)
    if choice == 0:
        (index / "manifest.json").write_text(json.dumps(mutate_json(rng, m)))
        return "manifest field"
    if choice == 1:
        with np.load(index / m["grains"]) as z:
            cols = {k: z[k] for k in z.files}
        col = rng.choice(sorted(cols))
        cols[col] = mutate_array(rng, cols[col])
        if rng.random() < 0.2:
            cols.pop(rng.choice(sorted(cols)))
        (index / m["grains"]).write_bytes(_npz(cols))
        if rng.random() < 0.5:  # sometimes with a manifest that agrees on the size
            m["checksums"].pop(m["grains"], None)
            (index / "manifest.json").write_text(json.dumps(m))
        return f"grain column {col}"
    if choice == 2:
        lat = np.load(index / m["latents"])
        np.save(index / m["latents"], mutate_array(rng, lat))
        if rng.random() < 0.5:
            m["checksums"].pop(m["latents"], None)
            (index / "manifest.json").write_text(json.dumps(m))
        return "latents array"
    files = [p for p in index.rglob("*") if p.is_file() and p.name != ".lock"]
    target = rng.choice(files)
    target.write_bytes(mutate_bytes(rng, target.read_bytes()))
    return f"bytes of {target.name}"


def damage_pack(rng: random.Random, pack: Path) -> str:
    """Damage one member (or the bytes) of a pack; returns a description."""
    if rng.random() < 0.25:
        pack.write_bytes(mutate_bytes(rng, pack.read_bytes()))
        return "pack bytes"
    with np.load(pack) as z:
        members = {k: z[k] for k in z.files}
    name = rng.choice(sorted(members))
    if name == "manifest" and rng.random() < 0.8:
        manifest = json.loads(members["manifest"].tobytes())
        members["manifest"] = np.frombuffer(json.dumps(mutate_json(rng, manifest)).encode(), np.uint8)
    elif rng.random() < 0.15:
        members.pop(name)
    else:
        members[name] = mutate_array(rng, members[name])
    pack.write_bytes(_npz(members))
    return f"pack member {name}"


def check_run(argv: list, capsys: pytest.CaptureFixture, root: Path, outputs: tuple[str, ...], what: str) -> int:
    before = snapshot(root)
    rc, _, err = run_cli(argv, capsys)
    assert rc in (0, 1, 2), (what, rc, err)
    if rc != 0:
        lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith(("latentmorph: warning:", "  "))]
        assert len(lines) == 1 and lines[0].startswith("latentmorph: error: "), (what, err)
    assert "Traceback" not in err, (what, err)
    assert changed_outside(before, root, outputs) == [], what
    return rc


def test_fuzz_info_import_transfer(base: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:  # noqa: F811
    rng = random.Random(SEED)
    source = tmp_path / "src.wav"
    wave, sr = sf.read(base / "corpus" / "water.wav", frames=44100 // 4)
    sf.write(source, wave, sr)
    deadline = time.monotonic() + BUDGET_S
    runs = {"info": 0, "import": 0, "transfer": 0}
    failures_seen = 0
    i = 0
    while time.monotonic() < deadline or min(runs.values()) == 0:
        i += 1
        root = tmp_path / f"r{i}"
        root.mkdir()
        kind = ["info", "import", "transfer"][i % 3]
        if kind == "import":
            pack = root / "lib.lmpack"
            shutil.copy(base / "lib.lmpack", pack)
            what = damage_pack(rng, pack)
            rc = check_run(["index", "--import", pack, "-o", root / "new.lmindex", "-q"], capsys, root, ("new.lmindex",), what)
        else:
            index = root / "lib.lmindex"
            shutil.copytree(base / "lib.lmindex", index)
            what = damage_index(rng, index)
            if kind == "info":
                argv = ["info", index] + (["--verify"] if rng.random() < 0.5 else [])
                rc = check_run(argv, capsys, root, (), what)
            else:
                rc = check_run(["transfer", source, "--index", index, "-o", root / "out.wav", "--quiet"],
                               capsys, root, ("out.wav",), what)
        runs[kind] += 1
        failures_seen += rc != 0
        shutil.rmtree(root)
    # the generator really produced damage the readers had to refuse
    print("fuzz runs", runs, "refused", failures_seen)
    assert failures_seen >= sum(runs.values()) // 2, runs
