"""An interrupted build leaves the old index or a resumable one; concurrent writers are serialised.

These run real child processes (kill -9, two writers) on real recordings.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from latentmorph.corpus import build_index, index_lock, load_index
from latentmorph.errors import CorpusError

NAMES = ["drums_amen.flac", "speech_codec2.flac", "wind_ufoai.flac", "guitar_sectoid.flac"]

# Child: build the index; after the first newly encoded file, announce it and wait for
# a "go" file (or forever). It prints the report counts as JSON at the end.
CHILD = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from latentmorph.corpus import build_index

    corpus, out, go = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    def hold(path):
        print("encoded", path, flush=True)
        while not go.exists():
            time.sleep(0.02)
    r = build_index([corpus], out, progress=True, on_file=hold)
    print(json.dumps({"added": r.added, "unchanged": r.unchanged, "resumed": r.resumed}), flush=True)
    """
)


@pytest.fixture
def corpus(tmp_path: Path, data_dir: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    shutil.copy(data_dir / NAMES[0], folder / NAMES[0])
    return folder


def child(tmp_path: Path, corpus: Path, out: Path, go: Path) -> subprocess.Popen:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    return subprocess.Popen(
        [sys.executable, str(script), str(corpus), str(out), str(go)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_kill_9_mid_build_leaves_old_index_then_resumes(corpus, tmp_path, data_dir):
    out = tmp_path / "lib.lmindex"
    old = build_index([corpus], out, progress=False).index  # 1 file
    for n in NAMES[1:]:
        shutil.copy(data_dir / n, corpus / n)
    proc = child(tmp_path, corpus, out, tmp_path / "never")
    try:
        line = proc.stdout.readline()
        assert line.startswith("encoded"), proc.stderr.read()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    # the old index is still there, complete and loadable
    now = load_index(out)
    assert len(now.files) == 1
    np.testing.assert_array_equal(now.latents, old.latents)
    # the next run resumes: the file encoded before the kill is not encoded again
    r = build_index([corpus], out, progress=False)
    assert (r.added, r.unchanged, r.resumed) == (3, 1, 1)
    fresh = build_index([corpus], tmp_path / "fresh.lmindex", progress=False).index
    np.testing.assert_array_equal(r.index.latents, fresh.latents)
    np.testing.assert_array_equal(r.index.grains.start, fresh.grains.start)
    assert not [p for p in out.iterdir() if p.name.startswith(".") and p.name not in (".lock", ".latentmorph-index")]


def test_exception_mid_build_keeps_old_index_and_releases_lock(corpus, tmp_path, data_dir):
    out = tmp_path / "lib.lmindex"
    build_index([corpus], out, progress=False)
    for n in NAMES[1:]:
        shutil.copy(data_dir / n, corpus / n)

    def ctrl_c(path: str) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_index([corpus], out, progress=False, on_file=ctrl_c)
    assert len(load_index(out).files) == 1
    r = build_index([corpus], out, progress=False, lock_timeout=0)  # lock was released
    assert (r.added, r.resumed) == (3, 1) and len(r.index.files) == 4


def test_two_writers_are_serialised(corpus, tmp_path, data_dir):
    for n in NAMES[1:3]:
        shutil.copy(data_dir / n, corpus / n)
    out, go = tmp_path / "lib.lmindex", tmp_path / "go"
    first = child(tmp_path, corpus, out, go)
    second = None
    try:
        assert first.stdout.readline().startswith("encoded")  # first writer holds the lock mid-build
        with pytest.raises(CorpusError, match="locked by another latentmorph process") as e:
            build_index([corpus], out, progress=False, lock_timeout=0.2)
        assert f"pid {first.pid}" in str(e.value)
        second = child(tmp_path, corpus, out, go)
        waiting = second.stderr.readline()
        assert "waiting for another process" in waiting and str(out) in waiting
        go.touch()
        out1, err1 = first.communicate(timeout=120)
        out2, err2 = second.communicate(timeout=120)
    finally:
        for p in (first, second):
            if p is not None and p.poll() is None:
                p.kill()
    assert first.returncode == 0 and second.returncode == 0, err1 + err2
    r1, r2 = json.loads(out1.splitlines()[-1]), json.loads(out2.splitlines()[-1])
    # the second writer ran after the first finished, so it found everything done
    assert (r1["added"], r1["unchanged"]) == (3, 0)
    assert (r2["added"], r2["unchanged"]) == (0, 3)
    assert len(load_index(out).files) == 3


def test_lock_is_released_when_holder_dies(tmp_path):
    out = tmp_path / "lib.lmindex"
    code = f"from latentmorph.corpus import index_lock\nimport time\nwith index_lock({str(out)!r}):\n    print('held', flush=True); time.sleep(60)\n"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(CorpusError, match="locked"):
            with index_lock(out, timeout=0.1):
                pass
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    with index_lock(out, timeout=5):
        pass  # the kernel released the dead holder's lock (this raises if it did not)
