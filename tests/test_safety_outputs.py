"""Item 5 and 8 of issue 8: outputs never overwrite inputs or other files; unwritable outputs fail first, in one line.

Every case asserts the exit code, a one-line ``latentmorph: error:`` naming the file, and
that no file in the tmp tree changed (bytes and mtimes) except the named outputs.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from latentmorph.cli import main

DATA = Path(__file__).parent / "data"


# ---- helpers shared by the test_safety_* files ------------------------------------------
def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Bytes and mtime of every file under ``root`` (symlinks by their target text)."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_symlink():
            out[str(p)] = (os.readlink(p).encode(), 0)
        elif p.is_file():
            out[str(p)] = (p.read_bytes(), p.stat().st_mtime_ns)
    return out


def changed(before: dict, after: dict) -> set[str]:
    """Files added, removed or modified between two snapshots."""
    return {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}


def run(argv: list[str], capsys) -> tuple[int, str, str]:  # noqa: ANN001
    """Run the CLI in-process; an escaping exception fails the test (that would be a traceback).

    Usage errors end in ``SystemExit`` (argparse's way); its code is the exit code.
    """
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as stop:
        rc = stop.code
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def error_line(err: str) -> str:
    """The one ``latentmorph: error:`` line of stderr (asserts there is exactly one, and no traceback)."""
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("latentmorph: error:")]
    assert len(lines) == 1, err
    return lines[0]


def refused(argv: list[str], capsys, root: Path, names: str, code: int = 2) -> str:  # noqa: ANN001
    """Assert ``argv`` fails with ``code``, one error line mentioning ``names``, and writes nothing under ``root``."""
    before = snapshot(root)
    rc, _, err = run(argv, capsys)
    line = error_line(err)
    assert rc == code, err
    assert names in line, line
    # the cached corpus index ($LATENTMORPH_CACHE_DIR = root/cache) is ours: opening it takes its lock
    touched = {p for p in changed(before, snapshot(root)) if not p.startswith(str(root / "cache") + os.sep)}
    assert touched == set(), touched
    return line


def clip(src: Path, dst: Path, seconds: float, channels: int | None = None) -> Path:
    x, sr = sf.read(src, dtype="float32", always_2d=True)
    x = x[: int(seconds * sr)]
    if channels == 1:
        x = x.mean(1, keepdims=True)
    sf.write(dst, x, sr, subtype="PCM_16")
    return dst


@pytest.fixture
def work(tmp_path: Path, monkeypatch) -> Path:  # noqa: ANN001
    """A folder with a 1 s source, a 2 s corpus file, and the index cache inside it."""
    monkeypatch.setenv("LATENTMORPH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    clip(DATA / "piano_melody.flac", tmp_path / "src.wav", 1.0)
    clip(DATA / "bells.flac", tmp_path / "bells.wav", 2.0)
    return tmp_path


# ---- item 5: outputs that are inputs ---------------------------------------------------------
def test_transfer_output_is_source(work, capsys):
    refused(["transfer", "src.wav", "--corpus", "bells.wav", "-o", "src.wav"], capsys, work, "src.wav: -o is also an input")


def test_transfer_output_is_symlink_or_hard_link_to_source(work, capsys):
    os.symlink("src.wav", work / "alias.wav")
    os.link(work / "src.wav", work / "hard.wav")
    refused(["transfer", "src.wav", "--corpus", "bells.wav", "-o", "alias.wav"], capsys, work, "alias.wav: -o is also an input")
    refused(["transfer", "src.wav", "--corpus", "bells.wav", "-o", "hard.wav"], capsys, work, "hard.wav: -o is also an input")
    refused(["transfer", "alias.wav", "--corpus", "bells.wav", "-o", "./sub/../src.wav"], capsys, work, "-o is also an input")


def test_transfer_output_is_corpus_file_or_inside_corpus_folder(work, capsys):
    (work / "corp").mkdir()
    clip(DATA / "water_ufoai.flac", work / "corp" / "water.wav", 1.0)
    refused(["transfer", "src.wav", "--corpus", "bells.wav", "-o", "bells.wav"], capsys, work, "bells.wav: -o is also an input")
    refused(["transfer", "src.wav", "--corpus", "corp", "-o", "corp/new.wav"], capsys, work, "lies inside the input corp")


def test_report_and_plot_are_source_or_output(work, capsys):
    base = ["transfer", "src.wav", "--corpus", "bells.wav", "-o", "out.wav"]
    refused(base + ["--report", "src.wav"], capsys, work, "src.wav: --report is also an input")
    refused(base + ["--report", "out.wav"], capsys, work, "out.wav: --report and -o name the same file")
    refused(base + ["--plot", "src.wav"], capsys, work, "src.wav: --plot is also an input")
    refused(base + ["--report", "r.json", "--plot", "r.json"], capsys, work, "--plot and --report name the same file")


def test_evaluate_json_is_an_audio_input(work, capsys):
    for target in ("src.wav", "bells.wav"):
        refused(["evaluate", "bells.wav", "src.wav", "--json", target], capsys, work, f"{target}: --json is also an input")


def test_encode_never_replaces_a_users_json_beside_the_latents(work, capsys):
    (work / "song.json").write_text('{"my": "notes"}')
    line = refused(["encode", "src.wav", "-o", "song.npy"], capsys, work, "song.json")
    assert "--force" in line
    # with --force it is replaced by the sidecar; a second encode replaces our own sidecar without --force
    rc, _, err = run(["encode", "src.wav", "-o", "song.npy", "--force"], capsys)
    assert rc == 0, err
    assert json.loads((work / "song.json").read_text())["codec"] == "embedded"
    rc, _, err = run(["encode", "src.wav", "-o", "song.npy"], capsys)
    assert rc == 0, err


def test_encode_sidecar_is_the_input(work, capsys):
    # an input audio file that happens to be named like the sidecar
    os.link(work / "src.wav", work / "x.json")
    refused(["encode", "x.json", "-o", "x.npy"], capsys, work, "x.json: -o (its .json sidecar) is also an input")


def test_index_export_onto_audio_or_into_its_own_folder(work, capsys):
    rc, _, err = run(["index", "bells.wav", "-o", "c.lmindex", "-q"], capsys)
    assert rc == 0, err
    refused(["index", "bells.wav", "-o", "c.lmindex", "--export", "bells.wav", "-q"], capsys, work, "bells.wav: --export is also an input")
    refused(["index", "-o", "c.lmindex", "--export", "c.lmindex/p.lmpack"], capsys, work, "lies inside the input c.lmindex")
    line = refused(["index", "-o", "c.lmindex", "--export", "src.wav"], capsys, work, "src.wav: --export exists and is an audio file")
    assert "--force" in line


def test_existing_file_of_another_kind_needs_force(work, capsys):
    (work / "notes.wav").write_text("my notes, not audio")
    (work / "data.json").write_text('{"mine": true}')
    line = refused(["transfer", "src.wav", "--corpus", "bells.wav", "-o", "notes.wav"], capsys, work, "notes.wav: -o exists")
    assert "pass --force" in line
    refused(["transfer", "src.wav", "--corpus", "bells.wav", "-o", "out.wav", "--report", "data.json"], capsys, work,
            "data.json: --report exists and is a JSON file latentmorph did not write")
    refused(["evaluate", "bells.wav", "src.wav", "--json", "data.json"], capsys, work, "data.json: --json exists")
    before = snapshot(work)
    rc, _, err = run(["transfer", "src.wav", "--corpus", "bells.wav", "-o", "notes.wav", "--force", "--quiet"], capsys)
    assert rc == 0, err
    assert sf.info(str(work / "notes.wav")).frames > 0
    assert {Path(p).name for p in changed(before, snapshot(work)) if "cache" not in p} == {"notes.wav"}


def test_same_kind_output_is_replaced_and_nothing_else_changes(work, capsys):
    rc, _, err = run(["transfer", "src.wav", "--corpus", "bells.wav", "-o", "out.wav", "--quiet", "--report", "r.json"], capsys)
    assert rc == 0, err
    before = snapshot(work)
    rc, _, err = run(["transfer", "src.wav", "--corpus", "bells.wav", "-o", "out.wav", "--quiet", "--report", "r.json"], capsys)
    assert rc == 0, err
    # the cached index (under $LATENTMORPH_CACHE_DIR, here inside work/) is ours to update
    assert {Path(p).name for p in changed(before, snapshot(work)) if "cache" not in p} <= {"out.wav", "r.json"}


# ---- item 8: unwritable outputs fail before the work, in one line ----------------------------
def _no_transfer(monkeypatch) -> None:  # noqa: ANN001
    import latentmorph.api as api

    def boom(*a, **k):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("transfer ran although its output cannot be written")

    monkeypatch.setattr(api, "transfer", boom)


def test_read_only_output_folder_fails_before_the_work(work, capsys, monkeypatch):
    (work / "ro").mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **k: False if Path(p).name == "ro" else real(p, mode, **k))
    _no_transfer(monkeypatch)
    refused(["transfer", "src.wav", "--corpus", "bells.wav", "-o", "ro/out.wav"], capsys, work, "ro/out.wav: cannot write -o here: ro is read-only")
    refused(["evaluate", "bells.wav", "src.wav", "--json", "ro/s.json"], capsys, work, "ro/s.json: cannot write --json")
    refused(["encode", "src.wav", "-o", "ro/s.npy"], capsys, work, "ro/s.npy: cannot write -o")
    refused(["index", "bells.wav", "-o", "ro/c.lmindex"], capsys, work, "ro/c.lmindex: cannot create the index here (ro is not writable)")


def test_output_under_a_file_is_refused(work, capsys):
    refused(["transfer", "src.wav", "--corpus", "bells.wav", "-o", "src.wav/out.wav"], capsys, work, "src.wav is not a folder")


def test_full_disk_while_writing_gives_one_line_and_keeps_the_old_file(work, capsys, monkeypatch):
    rc, _, err = run(["transfer", "src.wav", "--corpus", "bells.wav", "-o", "out.wav", "--quiet"], capsys)
    assert rc == 0, err
    real_write = sf.write

    def full(file, data, *a, **k):  # noqa: ANN001, ANN002, ANN003, ANN202
        real_write(file, data[: len(data) // 4], *a, **k)  # part of it lands, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device", str(file))

    monkeypatch.setattr(sf, "write", full)
    line = refused(["transfer", "src.wav", "--corpus", "bells.wav", "-o", "out.wav", "--quiet"], capsys, work, "out.wav: cannot write")
    assert "no space left on the device" in line
    assert not [p for p in work.iterdir() if p.name.startswith(".out.wav.")]  # no temp file left behind


def test_oserror_anywhere_is_one_line_naming_the_file(work, capsys, monkeypatch):
    import latentmorph.cli.info as info_cmd

    def denied(args):  # noqa: ANN001, ANN202
        raise PermissionError(errno.EACCES, "Permission denied", "secret.lmindex/manifest.json")

    monkeypatch.setattr(info_cmd, "run", denied)
    rc, _, err = run(["info", "x.lmindex"], capsys)
    assert rc == 2
    assert error_line(err) == "latentmorph: error: secret.lmindex/manifest.json: permission denied"


# ---- the same on real read-only and full file systems, where this machine lets us mount -------
@contextlib.contextmanager
def _mounted(kind: str, where: Path, source: Path | None = None):  # noqa: ANN202
    where.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting needs root")
    if kind == "ro":
        cmds = [["mount", "--bind", str(source), str(where)], ["mount", "-o", "remount,ro,bind", str(where)]]
    else:
        cmds = [["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(where)]]
    for i, cmd in enumerate(cmds):
        if subprocess.run(cmd, capture_output=True).returncode != 0:
            if i:
                subprocess.run(["umount", str(where)], capture_output=True)
            pytest.skip(f"cannot mount here: {' '.join(cmd)}")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], capture_output=True)


def test_real_read_only_folder_and_index(work, capsys):
    rc, _, err = run(["index", "bells.wav", "-o", "lib/c.lmindex", "-q"], capsys)
    assert rc == 0, err
    with _mounted("ro", work / "ro", work / "lib") as ro:
        refused(["transfer", "src.wav", "--corpus", "bells.wav", "-o", ro / "out.wav"], capsys, work,
                "cannot write -o here")
        # a read-only index can still be used for transfer; updating it is refused in one line
        rc, _, err = run(["transfer", "src.wav", "--index", ro / "c.lmindex", "-o", "out.wav", "--quiet"], capsys)
        assert rc == 0, err
        before = snapshot(work)
        rc, _, err = run(["index", "bells.wav", "src.wav", "-o", ro / "c.lmindex", "-q"], capsys)
        assert rc == 2 and "c.lmindex" in error_line(err)
        assert changed(before, snapshot(work)) == set()


def test_real_full_disk(work, capsys):
    with _mounted("tmpfs", work / "tiny") as tiny:
        rc, _, err = run(["transfer", "src.wav", "--corpus", "bells.wav", "-o", tiny / "out.wav", "--quiet"], capsys)
        assert rc == 2
        line = error_line(err)
        assert "out.wav: -o needs about" in line and "MB free" in line  # found before the work
        assert list(tiny.iterdir()) == []
        # a write that runs out of space half-way (the estimate cannot see everything): one line too
        (tiny / "filler").write_bytes(b"")
        from latentmorph.audio import save

        with pytest.raises(Exception) as info:
            save(tiny / "big.wav", np.zeros((1, 200_000), np.float32), 44100)
        assert "no space left on the device" in str(info.value)
        assert sorted(p.name for p in tiny.iterdir()) == ["filler"]


def test_guard_compares_inodes_not_only_names(tmp_path):
    from latentmorph.outputs import OutputError, Input, Output, guard_outputs, same_file

    a = tmp_path / "a.wav"
    a.write_bytes(b"RIFF")
    os.link(a, tmp_path / "b.wav")
    assert same_file(a, tmp_path / "b.wav") and not same_file(a, tmp_path / "c.wav")
    with pytest.raises(OutputError, match="is also an input"):
        guard_outputs([Output(tmp_path / "b.wav", "-o", "audio")], [Input(a)])
    guard_outputs([Output(tmp_path / "c.wav", "-o", "audio")], [Input(a)])  # a new name is fine
    assert np.array_equal(np.frombuffer(a.read_bytes(), np.uint8), np.frombuffer(b"RIFF", np.uint8))


def test_not_enough_space_is_found_before_the_work(work, capsys, monkeypatch):
    _no_transfer(monkeypatch)
    real = os.statvfs

    class Tiny:
        def __init__(self, st) -> None:  # noqa: ANN001
            self.f_frsize, self.f_bavail = st.f_frsize, 10  # ten blocks free

    monkeypatch.setattr(os, "statvfs", lambda p: Tiny(real(p)))
    line = refused(["transfer", "src.wav", "--corpus", "bells.wav", "-o", "out.wav"], capsys, work, "out.wav: -o needs about")
    assert "MB free" in line


# ---- the same guard on the diffusion, streaming and export commands ---------------------------
@pytest.fixture
def model(work: Path) -> Path:
    """A copy of the bundled demo model, so the tree snapshot covers it."""
    import shutil

    import latentmorph

    dst = work / "demo.lmdiff"
    shutil.copy(Path(latentmorph.__file__).parent / "data" / "demo.lmdiff", dst)
    return dst


@pytest.mark.parametrize("argv, names", [
    (["generate", "demo.lmdiff", "-o", "bells.wav", "--timbre-from", "bells.wav"], "bells.wav: -o is also an input"),
    (["restyle", "demo.lmdiff", "src.wav", "-o", "src.wav", "--timbre-from", "bells.wav"], "src.wav: -o is also an input"),
    (["timbre-map", "demo.lmdiff", ".", "-o", "map.png"], "map.png: -o lies inside the input"),
    (["train", ".", "-o", "m.lmdiff", "--steps", "1"], "m.lmdiff: -o lies inside the input"),
    (["train", "bells.wav", "-o", "demo.lmdiff.wav.lmdiff", "--steps", "1", "--clap", "."], "-o lies inside the input"),
    (["stream", "src.wav", "--index", "x.lmindex", "-o", "src.wav"], "src.wav: -o is also an input"),
    (["export", "--index", "lib.lmindex", "-o", "lib.lmindex/x.ts"], "x.ts: -o lies inside the input"),
])
def test_new_commands_refuse_outputs_that_are_inputs(work, model, capsys, argv, names):
    (work / "lib.lmindex").mkdir()
    refused(argv, capsys, work, names)


def test_generate_refuses_to_replace_another_kind_without_force(work, model, capsys):
    (work / "notes.wav").write_text("my notes, not audio\n")
    refused(["generate", "demo.lmdiff", "-o", "notes.wav", "--seconds", "0.5"], capsys, work, "pass --force")
    refused(["train", "bells.wav", "-o", "notes.wav", "--steps", "1"], capsys, work, "pass --force")
