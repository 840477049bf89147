"""Issue 8, index side: hostile and damaged indexes/packs, folders that are not ours,
interrupted writes, odd corpus folders. Every case checks the exit code, a one-line
message naming the file, and that nothing outside the named output changed."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import soundfile as sf

import latentmorph.corpus.build as build_mod
from latentmorph import atomic
from latentmorph.atomic import atomic_write_bytes
from latentmorph.cli import main
from latentmorph.corpus import build_index, load_index

SR = 44100


# ---- helpers shared with test_safety_index_fuzz.py -------------------------------------
def snapshot(root: Path) -> dict[str, tuple[str, int] | None]:
    """Every file (bytes hash + mtime) and folder (None) under ``root``, by relative path."""
    snap: dict[str, tuple[str, int] | None] = {}
    for dirpath, dirs, files in os.walk(root):
        for d in dirs:
            snap[os.path.relpath(os.path.join(dirpath, d), root)] = None
        for f in files:
            p = os.path.join(dirpath, f)
            if os.path.islink(p):
                snap[os.path.relpath(p, root)] = ("link:" + os.readlink(p), 0)
                continue
            with open(p, "rb") as fh:
                snap[os.path.relpath(p, root)] = (hashlib.sha256(fh.read()).hexdigest(), os.stat(p).st_mtime_ns)
    return snap


def changed_outside(before: dict, root: Path, outputs: tuple[str, ...] = ()) -> list[str]:
    """Relative paths created, changed or deleted under ``root`` that are not under ``outputs``."""
    after = snapshot(root)
    keys = set(before) | set(after)
    diff = sorted(k for k in keys if before.get(k, "absent") != after.get(k, "absent"))
    return [k for k in diff if not any(k == o or k.startswith(o.rstrip("/") + "/") for o in outputs)]


def run_cli(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def one_error_line(err: str, *names: str) -> str:
    """The single ``latentmorph: error:`` line of stderr (warnings aside), naming each of ``names``."""
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("latentmorph: warning:")]
    assert len(lines) == 1, err
    assert lines[0].startswith("latentmorph: error: "), err
    for n in names:
        assert n in lines[0], (n, lines[0])
    return lines[0]


def dead_pid() -> int:
    """The pid of a process that has exited."""
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """``corpus/`` (two short real recordings, one stereo), ``lib.lmindex`` and ``lib.lmpack``."""
    root = tmp_path_factory.mktemp("safety_base")
    corpus = root / "corpus"
    (corpus / "kit").mkdir(parents=True)
    wave, sr = sf.read(data_dir / "water_ufoai.flac", frames=SR * 3 // 2, always_2d=True)
    sf.write(corpus / "water.wav", wave, sr)
    wave, sr = sf.read(data_dir / "drums_amen.flac", frames=SR, always_2d=True)
    sf.write(corpus / "kit" / "drums.wav", np.concatenate([wave, wave[:, :1] * 0.5], axis=1)[:, :2], sr)
    build_index([corpus], root / "lib.lmindex", progress=False)
    assert main(["index", "-o", str(root / "lib.lmindex"), "--export", str(root / "lib.lmpack"), "-q"]) == 0
    return root


@pytest.fixture
def work(base: Path, tmp_path: Path) -> Path:
    """A private copy of :func:`base`; mtimes are kept and the index's paths moved, so the
    copied index is up to date with the copied corpus."""
    dst = tmp_path / "w"
    shutil.copytree(base, dst, symlinks=True)
    index = dst / "lib.lmindex"
    m = manifest_of(index)
    for rec in m["files"]:
        rec["path"] = rec["path"].replace(str(base), str(dst), 1)
    put_manifest(index, m)
    return dst


def manifest_of(index: Path) -> dict:
    return json.loads((index / "manifest.json").read_text())


def put_manifest(index: Path, m: dict) -> None:
    (index / "manifest.json").write_text(json.dumps(m))


def rewrite_pack(pack: Path, edit: Callable[[dict], None]) -> None:
    """Rewrite a pack's members: ``edit`` gets ``{name: array}`` plus the parsed ``"manifest"``."""
    with np.load(pack) as z:
        members = {k: z[k] for k in z.files}
    members["manifest"] = json.loads(members["manifest"].tobytes())
    edit(members)
    if isinstance(members.get("manifest"), dict):
        members["manifest"] = np.frombuffer(json.dumps(members["manifest"]).encode(), np.uint8)
    with open(pack, "wb") as fh:
        np.savez(fh, **members)


# ---- item 2: path traversal through names read from a pack or an index ----------------
@pytest.mark.parametrize("evil", ["../../escaped.npy", "/tmp/latentmorph-escaped.npy", "sub/x.npy", "..", ".hidden.npy"])
def test_pack_with_traversal_shard_name_writes_nothing(work: Path, capsys, evil: str) -> None:
    pack = work / "lib.lmpack"

    def edit(m: dict) -> None:
        rec = m["manifest"]["files"][0]
        rec["shards"]["orig"] = evil

    rewrite_pack(pack, edit)
    before = snapshot(work)
    rc, _, err = run_cli(["index", "--import", pack, "-o", work / "new.lmindex"], capsys)
    assert rc == 2
    line = one_error_line(err, "index damaged", str(pack))
    assert "shard file name" in line
    assert changed_outside(before, work) == []  # not even the output folder was created
    assert not Path("/tmp/latentmorph-escaped.npy").exists()


def test_index_manifest_with_traversal_names_is_refused_on_read(work: Path, capsys) -> None:
    index = work / "lib.lmindex"
    good = manifest_of(index)
    for key, evil in (("latents", "../corpus/water.wav"), ("grains", "/etc/passwd")):
        m = dict(good)
        m[key] = evil
        put_manifest(index, m)
        before = snapshot(work)
        rc, _, err = run_cli(["info", index], capsys)
        assert rc == 2
        one_error_line(err, "index damaged", str(index / "manifest.json"), f"invalid {key} file name")
        assert changed_outside(before, work) == []


def test_update_of_index_with_traversal_shard_name_repairs_inside_only(work: Path, capsys) -> None:
    index = work / "lib.lmindex"
    m = manifest_of(index)
    m["files"][0]["shards"]["orig"] = "../../corpus/water.wav"
    put_manifest(index, m)
    before = snapshot(work)
    rc, _, err = run_cli(["index", work / "corpus", "-o", index, "-q"], capsys)
    assert rc == 0, err
    assert changed_outside(before, work, ("lib.lmindex",)) == []
    assert len(load_index(index).files) == 2


# ---- item 3: every value read back is bounds-checked --------------------------------------
def _grains_edit(col: str, fn: Callable[[np.ndarray], np.ndarray]) -> Callable[[Path], str]:
    def edit(index: Path) -> str:
        name = manifest_of(index)["grains"]
        with np.load(index / name) as z:
            cols = {k: z[k] for k in z.files}
        cols[col] = fn(cols[col])
        with open(index / name, "wb") as fh:
            np.savez(fh, **cols)
        m = manifest_of(index)
        m["checksums"].pop(name)  # as if the damage came with a consistent manifest
        put_manifest(index, m)
        return name

    return edit


def _latents_edit(fn: Callable[[np.ndarray], np.ndarray]) -> Callable[[Path], str]:
    def edit(index: Path) -> str:
        name = manifest_of(index)["latents"]
        np.save(index / name, fn(np.load(index / name)))
        m = manifest_of(index)
        m["checksums"].pop(name)
        put_manifest(index, m)
        return name

    return edit


def _manifest_edit(fn: Callable[[dict], None]) -> Callable[[Path], str]:
    def edit(index: Path) -> str:
        m = manifest_of(index)
        fn(m)
        put_manifest(index, m)
        return "manifest.json"

    return edit


def _bump(x: np.ndarray, where: int = -1, by: int = 10_000) -> np.ndarray:
    x = x.copy()
    x[where] += by
    return x


DAMAGE = {
    "file_id out of range": (_grains_edit("file_id", _bump), "file_id"),
    "negative channel": (_grains_edit("channel", lambda c: _bump(c, 0, -3)), "channel"),
    "channel past the file's channels": (_grains_edit("channel", lambda c: _bump(c, -1, 5)), "channel"),
    "start past the end": (_grains_edit("start", _bump), "start"),
    "frame out of range": (_grains_edit("frame", _bump), "frame"),
    "aug id out of range": (_grains_edit("aug", lambda c: _bump(c, 0, 7)), "aug"),
    "float grain column": (_grains_edit("start", lambda c: c.astype(np.float64)), "integer"),
    "short grain column": (_grains_edit("frame", lambda c: c[:-3]), "differ in length"),
    "NaN latents": (_latents_edit(lambda a: np.where(np.arange(a.size).reshape(a.shape) == 5, np.nan, a).astype(np.float32)), "NaN"),
    "huge latents": (_latents_edit(lambda a: np.where(np.arange(a.size).reshape(a.shape) == 9, 1e30, a).astype(np.float32)), "beyond"),
    "float64 latents": (_latents_edit(lambda a: a.astype(np.float64)), "float32"),
    "latents of another dim": (_latents_edit(lambda a: a[:, :-1].copy()), "shape"),
    "sample_rate as text": (_manifest_edit(lambda m: m.update(sample_rate="44100")), "sample_rate"),
    "dim as a bool": (_manifest_edit(lambda m: m.update(dim=True)), "dim"),
    "negative hop": (_manifest_edit(lambda m: m.update(hop=-1024)), "hop"),
    "files not a list": (_manifest_edit(lambda m: m.update(files={"a": 1})), "files"),
    "record without sha256": (_manifest_edit(lambda m: m["files"][0].pop("sha256")), "sha256"),
    "NaN augmentation": (_manifest_edit(lambda m: m.update(augmentations=[{"kind": "original"}, {"kind": "pitch", "semitones": float("nan")}])), "semitones"),
    "frames lie": (_manifest_edit(lambda m: m["files"][0].update(frames=[m["files"][0]["frames"][0] + 3])), "grain"),
    "channels lie": (_manifest_edit(lambda m: m["files"][0].update(channels=1)), "grain"),
    "num_grains lies": (_manifest_edit(lambda m: m.update(num_grains=m["num_grains"] + 1)), "num_grains"),
    "shard name of another content": (_manifest_edit(lambda m: m["files"][0]["shards"].update(orig=m["files"][1]["shards"]["orig"])), "content hash"),
}


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_damaged_index_is_one_clear_error_for_info_and_transfer(work: Path, capsys, case: str) -> None:
    index = work / "lib.lmindex"
    edit, what = DAMAGE[case]
    edit(index)
    before = snapshot(work)
    rc, _, err = run_cli(["transfer", work / "corpus" / "water.wav", "--index", index, "-o", work / "out.wav", "--quiet"], capsys)
    assert rc == 2
    line = one_error_line(err, "index damaged")
    assert what in line and str(index) in line
    rc, _, err = run_cli(["info", index, "--verify"], capsys)
    assert rc == 2
    one_error_line(err, "index damaged", str(index))
    assert changed_outside(before, work) == []


PACK_DAMAGE = {
    "not a zip": lambda p: p.write_bytes(b"PK\x03\x04" + os.urandom(300)),
    "truncated": lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
    "missing latents member": lambda p: rewrite_pack(p, lambda m: m.pop("latents")),
    "pickled object member": lambda p: rewrite_pack(p, lambda m: m.update(latents=np.array([{"x": 1}], dtype=object))),
    "manifest not JSON": lambda p: rewrite_pack(p, lambda m: m.update(manifest=np.frombuffer(b"\xff\xfe{", np.uint8))),
    "manifest a list": lambda p: rewrite_pack(p, lambda m: m.update(manifest=np.frombuffer(b"[1, 2]", np.uint8))),
    "grain file_id out of range": lambda p: rewrite_pack(p, lambda m: m.update(grain_file_id=_bump(m["grain_file_id"]))),
    "grain start past the end": lambda p: rewrite_pack(p, lambda m: m.update(grain_start=_bump(m["grain_start"]))),
    "latents NaN": lambda p: rewrite_pack(p, lambda m: m.update(latents=np.full_like(m["latents"], np.nan))),
    "record path not text": lambda p: rewrite_pack(p, lambda m: m["manifest"]["files"][0].update(path=7)),
    "skipped path not UTF-8": lambda p: rewrite_pack(p, lambda m: m["manifest"].update(skipped=[{"path": "caf\udce9.wav", "reason": "x"}])),
}


@pytest.mark.parametrize("case", sorted(PACK_DAMAGE))
def test_damaged_pack_import_is_one_clear_error(work: Path, capsys, case: str) -> None:
    pack = work / "lib.lmpack"
    PACK_DAMAGE[case](pack)
    before = snapshot(work)
    rc, _, err = run_cli(["index", "--import", pack, "-o", work / "new.lmindex"], capsys)
    assert rc == 2
    one_error_line(err, str(pack))
    assert changed_outside(before, work) == []


# ---- item 4: only ever write into / clean a folder that is verifiably an index -----------
def test_existing_folder_that_is_not_an_index_is_refused_untouched(work: Path, capsys) -> None:
    mine = work / "my_stuff"
    (mine / "shards").mkdir(parents=True)
    for name in ("latents-final.npy", "grains-2024.npz", "latents-0123456789ab.npy", "shards/take1.npy", "notes.txt"):
        (mine / name).write_bytes(b"precious " + name.encode())
    before = snapshot(work)
    rc, _, err = run_cli(["index", work / "corpus", "-o", mine], capsys)
    assert rc == 2
    one_error_line(err, str(mine), "not a latentmorph index")
    assert changed_outside(before, work) == []


@pytest.mark.parametrize("where", ["corpus", "corpus/sub.lmindex", "corpus/kit", "."])
def test_index_output_overlapping_the_corpus_is_refused(work: Path, capsys, where: str) -> None:
    out = (work / where).resolve()
    before = snapshot(work)
    rc, _, err = run_cli(["index", work / "corpus", "-o", out], capsys)
    assert rc == 2
    one_error_line(err, str(out), "corpus")
    assert changed_outside(before, work) == []


def test_cleanup_deletes_only_our_unreferenced_names(work: Path, capsys, data_dir: Path) -> None:
    index = work / "lib.lmindex"
    foreign = ["notes.txt", "latents-mine.npy", "grains-old.backup", "shards/keep-me.npy", ".latents-x.tmp"]
    for name in foreign:
        (index / name).write_bytes(b"user file")
    old_gen = manifest_of(index)["latents"]
    shutil.copy(data_dir / "piano_melody.flac", work / "corpus" / "piano.flac")  # forces a new generation
    before = snapshot(work)
    rc, _, err = run_cli(["index", work / "corpus", "-o", index, "-q"], capsys)
    assert rc == 0, err
    assert changed_outside(before, work, ("lib.lmindex",)) == []
    for name in foreign:
        assert (index / name).read_bytes() == b"user file", name
    assert not (index / old_gen).exists()  # our old generation did go
    assert len(load_index(index).files) == 3


def test_index_folder_from_an_older_version_without_marker_is_still_ours(work: Path, capsys) -> None:
    index = work / "lib.lmindex"
    (index / ".latentmorph-index").unlink()
    rc, _, err = run_cli(["index", work / "corpus", "-o", index, "-q"], capsys)
    assert rc == 0, err
    assert (index / ".latentmorph-index").is_file()


# ---- item 6: interrupted final writes and failed first builds ---------------------------
def test_stale_temp_files_are_cleaned_only_when_ours_dead_and_old(work: Path, capsys) -> None:
    index = work / "lib.lmindex"
    dead, alive = dead_pid(), os.getppid()
    old = atomic._STARTED - 60  # before this process started writing
    stale = [index / f".manifest.json.lm{dead}.abcdefgh.tmp.json", index / "shards" / f".x.npy.lm{dead}.abc_efgh.tmp.npy"]
    kept = [index / f".manifest.json.lm{alive}.abcdefgh.tmp.json",  # writer still running
            index / ".manifest.json.abcdefgh.tmp.json",            # not our naming
            index / ".my.lm12.notes.tmp"]
    for p in stale + kept:
        p.write_bytes(b"partial")
        os.utime(p, (old, old))
    young = index / f".grains.npz.lm{dead}.zzzzzzzz.tmp.npz"
    young.write_bytes(b"partial")  # newer than this process: maybe a writer we cannot see
    before = snapshot(work)
    rc, _, err = run_cli(["index", work / "corpus", "-o", index, "-q"], capsys)
    assert rc == 0, err
    assert [p for p in stale if p.exists()] == []
    assert all(p.exists() for p in kept + [young])
    gone = {str(p.relative_to(work)) for p in stale}
    assert set(changed_outside(before, work, ("lib.lmindex/.lock",))) == gone  # up to date: nothing else moved


def test_killed_final_write_of_a_file_output_is_cleaned_by_the_next_write(tmp_path: Path) -> None:
    dead = dead_pid()
    target = tmp_path / "song.wav"
    leftover = tmp_path / f".song.wav.lm{dead}.q1w2e3r4.tmp.wav"
    other = tmp_path / f".other.wav.lm{dead}.q1w2e3r4.tmp.wav"
    for p in (leftover, other):
        p.write_bytes(b"half a file")
        os.utime(p, (atomic._STARTED - 60, atomic._STARTED - 60))  # before this process started
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new" and not leftover.exists()
    assert other.exists()  # another target's temp is that target's writer's to clean


def test_failed_first_build_leaves_no_stub_folder(work: Path, capsys) -> None:
    bad = work / "bad"
    bad.mkdir()
    (bad / "broken.wav").write_bytes(b"RIFF....WAVEfmt garbage")
    out = work / "new.lmindex"
    before = snapshot(work)
    rc, _, err = run_cli(["index", bad, "-o", out], capsys)
    assert rc == 2
    one_error_line(err, "no usable audio", "broken.wav")
    assert not out.exists()
    assert changed_outside(before, work) == []


def test_stub_left_by_an_old_version_is_reused(work: Path, capsys) -> None:
    out = work / "new.lmindex"
    out.mkdir()
    (out / ".lock").write_text("12345")
    rc, _, err = run_cli(["index", work / "corpus", "-o", out, "-q"], capsys)
    assert rc == 0, err
    assert len(load_index(out).files) == 2


# ---- item 8: odd file names, read-only places --------------------------------------------
def test_file_name_that_is_not_utf8_is_skipped_with_a_reason(work: Path, capsys) -> None:
    corpus = work / "corpus"
    raw = os.fsencode(corpus) + b"/caf\xe9.wav"
    shutil.copy(corpus / "water.wav", raw)
    rc, _, err = run_cli(["index", corpus, "-o", work / "new.lmindex", "-q"], capsys)
    assert rc == 1
    assert "caf\\xe9.wav: file name is not valid UTF-8" in err
    assert len(load_index(work / "new.lmindex").files) == 2
    rc, out, _ = run_cli(["info", work / "new.lmindex"], capsys)
    assert rc == 0 and "caf\\xe9.wav" in out


def _pretend_not_writable(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Make os.access answer as it would for a normal user (tests may run as root)."""
    real = os.access

    def access(path, mode, *a, **k):  # noqa: ANN001, ANN202
        if mode & os.W_OK and Path(path).resolve() == folder.resolve():
            return False
        return real(path, mode, *a, **k)

    monkeypatch.setattr(os, "access", access)


def test_read_only_index_is_refused_before_any_work(work: Path, capsys, monkeypatch, data_dir: Path) -> None:
    index = work / "lib.lmindex"
    shutil.copy(data_dir / "piano_melody.flac", work / "corpus" / "piano.flac")
    _pretend_not_writable(monkeypatch, index)
    encoded = []
    monkeypatch.setattr(build_mod, "_encode_file", lambda *a, **k: encoded.append(1))
    before = snapshot(work)
    rc, _, err = run_cli(["index", work / "corpus", "-o", index], capsys)
    assert rc == 2 and encoded == []
    one_error_line(err, str(index), "read-only")
    assert changed_outside(before, work) == []


def test_read_only_output_folder_is_refused_before_any_work(work: Path, capsys, monkeypatch) -> None:
    parent = work / "ro"
    parent.mkdir()
    _pretend_not_writable(monkeypatch, parent)
    before = snapshot(work)
    rc, _, err = run_cli(["index", work / "corpus", "-o", parent / "x.lmindex"], capsys)
    assert rc == 2
    one_error_line(err, str(parent / "x.lmindex"), "not writable")
    assert changed_outside(before, work) == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores file permissions")
def test_really_read_only_index(work: Path, capsys, data_dir: Path) -> None:  # pragma: no cover - non-root runs
    index = work / "lib.lmindex"
    shutil.copy(data_dir / "piano_melody.flac", work / "corpus" / "piano.flac")
    os.chmod(index, 0o555)
    try:
        rc, _, err = run_cli(["index", work / "corpus", "-o", index], capsys)
        assert rc == 2
        one_error_line(err, str(index), "read-only")
    finally:
        os.chmod(index, 0o755)


def test_read_only_index_can_still_be_used(work: Path, capsys, monkeypatch) -> None:
    index = work / "lib.lmindex"
    _pretend_not_writable(monkeypatch, index)
    rc, out, err = run_cli(["info", index, "--verify"], capsys)
    assert rc == 0 and "intact" in out, err


# ---- item 9: symlinked folders, truncated/corrupted data, the --corpus cache -------------
def test_symlinked_sub_folder_is_followed_and_loops_end(work: Path, capsys, data_dir: Path) -> None:
    elsewhere = work / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(data_dir / "piano_melody.flac", elsewhere / "piano.flac")
    corpus = work / "corpus"
    os.symlink(elsewhere, corpus / "linked")
    os.symlink(corpus, corpus / "kit" / "loop")  # a cycle back to the top
    os.symlink(work / "nowhere.wav", corpus / "dangling.wav")
    rc, _, err = run_cli(["index", corpus, "-o", work / "new.lmindex", "-q"], capsys)
    assert rc == 1  # the broken link is reported
    assert "dangling.wav: broken symbolic link" in err
    names = sorted(Path(f.path).name for f in load_index(work / "new.lmindex").files)
    assert names == ["drums.wav", "piano.flac", "water.wav"]


def _fresh_latents(work: Path) -> np.ndarray:
    return build_index([work / "corpus"], work / "fresh.lmindex", progress=False).index.latents


def test_truncated_latents_detected_on_load_and_repaired_by_index(work: Path, capsys, monkeypatch) -> None:
    index = work / "lib.lmindex"
    lat = index / manifest_of(index)["latents"]
    lat.write_bytes(lat.read_bytes()[:-100])
    for argv in (["info", index], ["transfer", work / "corpus" / "water.wav", "--index", index, "-o", work / "o.wav"]):
        rc, _, err = run_cli(argv, capsys)
        assert rc == 2
        one_error_line(err, "index damaged", str(lat), "truncated")
    encoded = []
    real = build_mod._encode_file
    monkeypatch.setattr(build_mod, "_encode_file", lambda *a, **k: encoded.append(1) or real(*a, **k))
    before = snapshot(work)
    rc, _, err = run_cli(["index", work / "corpus", "-o", index, "-q"], capsys)
    assert rc == 0, err
    assert encoded == []  # shards were intact: re-assembling was enough
    assert changed_outside(before, work, ("lib.lmindex",)) == []
    np.testing.assert_array_equal(load_index(index).latents, _fresh_latents(work))


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_damaged_shard_found_by_verify_and_re_encoded(work: Path, capsys, monkeypatch, damage: str, data_dir: Path) -> None:
    index = work / "lib.lmindex"
    m = manifest_of(index)
    shard = index / "shards" / m["files"][0]["shards"]["orig"]
    data = bytearray(shard.read_bytes())
    if damage == "truncate":
        shard.write_bytes(bytes(data[: len(data) // 2]))
    else:
        data[-8:] = b"\x00\x00\xc0\x7f" * 2  # two NaNs, same size
        shard.write_bytes(bytes(data))
    rc, _, err = run_cli(["info", index, "--verify"], capsys)
    assert rc == 2
    one_error_line(err, "index damaged", shard.name)
    if damage == "flip":  # same size: the cheap check passes; the next assembly re-encodes it
        shutil.copy(data_dir / "piano_melody.flac", work / "corpus" / "piano.flac")
    encoded = []
    real = build_mod._encode_file
    monkeypatch.setattr(build_mod, "_encode_file", lambda out, rec, *a, **k: encoded.append(Path(rec.path).name) or real(out, rec, *a, **k))
    rc, _, err = run_cli(["index", work / "corpus", "-o", index, "-q"], capsys)
    assert rc == 0, err
    assert Path(m["files"][0]["path"]).name in encoded
    rc, out, err = run_cli(["info", index, "--verify"], capsys)
    assert rc == 0 and "intact" in out, err
    np.testing.assert_array_equal(load_index(index).latents, _fresh_latents(work))


def test_garbage_manifest_is_repaired_when_the_codec_is_given(work: Path, capsys) -> None:
    index = work / "lib.lmindex"
    (index / "manifest.json").write_bytes(os.urandom(200))
    rc, _, err = run_cli(["index", work / "corpus", "-o", index, "-q"], capsys)
    assert rc == 2
    one_error_line(err, "index damaged", str(index / "manifest.json"), "--codec")
    rc, _, err = run_cli(["index", work / "corpus", "-o", index, "--codec", "embedded"], capsys)
    assert rc == 0, err
    assert re.search(r"latentmorph: warning: index damaged: .*manifest.json.*repairing", err), err
    np.testing.assert_array_equal(load_index(index).latents, _fresh_latents(work))


def test_corrupt_corpus_cache_heals(work: Path, monkeypatch) -> None:
    from latentmorph.transfer.corpus import cached_index_path, open_corpus
    from latentmorph.codecs import get_codec

    monkeypatch.setenv("LATENTMORPH_CACHE_DIR", str(work / "cache"))
    corpus = [str(work / "corpus")]
    first = open_corpus(corpus=corpus)
    cache = cached_index_path(corpus, get_codec("embedded"))
    assert first.path == cache
    for damage in ("manifest", "latents"):
        if damage == "manifest":
            (cache / "manifest.json").write_bytes(b"\x00garbage")
            (cache / ".latentmorph-index").unlink()  # even an old-style cache without marker heals
        else:
            lat = cache / manifest_of(cache)["latents"]
            lat.write_bytes(lat.read_bytes()[:64])
        with pytest.warns(UserWarning):
            again = open_corpus(corpus=corpus)
        np.testing.assert_array_equal(again.latents, first.latents)


def test_full_disk_during_an_update_is_one_line_and_keeps_the_old_index(work: Path, capsys, monkeypatch, data_dir: Path) -> None:
    import errno

    import latentmorph.corpus.storage as storage_mod

    index = work / "lib.lmindex"
    old = load_index(index).latents.copy()
    shutil.copy(data_dir / "piano_melody.flac", work / "corpus" / "piano.flac")

    def full(index_dir, name, latents):  # noqa: ANN001, ANN202
        raise OSError(errno.ENOSPC, "No space left on device", str(Path(index_dir) / "shards" / name))

    monkeypatch.setattr(storage_mod, "write_shard", full)
    before = snapshot(work)
    rc, _, err = run_cli(["index", work / "corpus", "-o", index, "-q"], capsys)
    assert rc == 2
    one_error_line(err, str(index / "shards"), "No space left on device")
    assert changed_outside(before, work, ("lib.lmindex/.lock",)) == []
    np.testing.assert_array_equal(load_index(index).latents, old)


@pytest.mark.parametrize("target", ["corpus/water.wav", "lib.lmindex/lib.lmpack", "lib.lmindex"])
def test_export_never_replaces_an_input_or_writes_into_the_index(work: Path, capsys, target: str) -> None:
    index = work / "lib.lmindex"
    before = snapshot(work)
    rc, _, err = run_cli(["index", "-o", index, "--export", work / target], capsys)
    assert rc == 2
    one_error_line(err, str(work / target))
    assert changed_outside(before, work) == []


def test_export_may_replace_an_older_pack(work: Path, capsys) -> None:
    pack = work / "lib.lmpack"
    rc, _, err = run_cli(["index", "-o", work / "lib.lmindex", "--export", pack, "-q"], capsys)
    assert rc == 0, err
    assert json.loads(np.load(pack)["manifest"].tobytes())["format"] == "latentmorph-pack"


def test_compressed_bomb_in_a_pack_is_refused_before_unpacking(work: Path, capsys) -> None:
    pack = work / "lib.lmpack"
    with np.load(pack) as z:
        members = {k: z[k] for k in z.files}
    members["latents"] = np.zeros((4_000_000, 8), np.float32)  # 128 MB of zeros, ~130 kB compressed
    with open(pack, "wb") as fh:
        np.savez_compressed(fh, **members)
    before = snapshot(work)
    rc, _, err = run_cli(["index", "--import", pack, "-o", work / "new.lmindex"], capsys)
    assert rc == 2
    one_error_line(err, "index damaged", str(pack), "unpacks to")
    assert changed_outside(before, work) == []


def test_waiting_writer_starts_again_when_the_holder_removes_the_stub(tmp_path: Path) -> None:
    import threading

    from latentmorph.corpus import storage
    from latentmorph.corpus.lock import index_lock

    out = tmp_path / "new.lmindex"
    storage.claim_folder(out)
    got: list[bool] = []
    with index_lock(out, notify=False):
        waiter = threading.Thread(target=lambda: got.append(_hold_briefly(out, index_lock)))
        waiter.start()
        time.sleep(0.3)  # the waiter is now blocked on the old .lock
        assert storage.remove_stub(out) and not out.exists()
    waiter.join(10)
    assert got == [True]
    assert (out / ".lock").exists()  # it locked a fresh lock file in a re-created folder


def _hold_briefly(out: Path, index_lock) -> bool:  # noqa: ANN001
    with index_lock(out, timeout=10, notify=False) as lock_file:
        return lock_file.exists()


def test_index_from_before_checksums_loads_and_gains_them_on_the_next_run(work: Path, capsys) -> None:
    index = work / "lib.lmindex"
    m = manifest_of(index)
    del m["checksums"]
    put_manifest(index, m)
    assert len(load_index(index)) == m["num_grains"]
    rc, _, err = run_cli(["index", work / "corpus", "-o", index, "-q"], capsys)
    assert rc == 0, err
    assert set(manifest_of(index)["checksums"]) >= {manifest_of(index)["latents"], manifest_of(index)["grains"]}


@pytest.mark.parametrize("spec", ["pitch=nan", "pitch=inf", "gain_db=nan", "gain_db=100", {"pitch": [float("nan")]},
                                  [{"kind": "pitch", "semitones": float("nan")}], [{"kind": "gain"}]])
def test_api_augmentation_refuses_non_finite_and_out_of_range(spec):
    """The Python path must refuse what the CLI refuses: a NaN ratio makes soxr spin forever."""
    from latentmorph.corpus.augment import parse_augment
    from latentmorph.errors import CorpusError

    with pytest.raises(CorpusError, match="augmentation") as err:
        parse_augment(spec)
    assert "\n" not in str(err.value)
