"""Distributed indexing on a Dask LocalCluster of 2 processes (loopback): same index as a local
build, and a worker killed mid-job loses nothing."""

from __future__ import annotations

import os
import signal
import shutil

import numpy as np
import pytest
import torch

distributed = pytest.importorskip("distributed")

from latentmorph import audio  # noqa: E402
from latentmorph.cli import main  # noqa: E402
from latentmorph.corpus import build_index, load_index  # noqa: E402
from latentmorph.corpus.distributed import build_index_distributed  # noqa: E402
from latentmorph.errors import CorpusError  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, silence_logs=50) as c:
        yield c


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, data_dir):
    """Three short real clips (one stereo) and a corrupt file."""
    folder = tmp_path_factory.mktemp("dist_corpus")
    for name in ("bells", "drums_amen"):
        shutil.copy(data_dir / f"{name}.flac", folder / f"{name}.flac")
    w, sr = audio.load(data_dir / "bells.flac")
    audio.save(folder / "stereo.wav", np.stack([w[0], w[0][::-1].copy()]), sr)
    (folder / "broken.wav").write_bytes(b"RIFF not really")
    return folder


def _same(a, b):
    A, B = load_index(a), load_index(b)
    assert A.fingerprint == B.fingerprint and [f.path for f in A.files] == [f.path for f in B.files]
    np.testing.assert_array_equal(np.asarray(A.latents), np.asarray(B.latents))
    for col in ("file_id", "channel", "frame", "start", "aug"):
        np.testing.assert_array_equal(getattr(A.grains, col), getattr(B.grains, col))
    return A, B


@pytest.fixture(scope="module")
def local(corpus, tmp_path_factory):
    """The local reference build, at the workers' torch thread count (float sums depend on it)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        out = tmp_path_factory.mktemp("local") / "local.lmindex"
        with pytest.warns(UserWarning):
            build_index([corpus], out, augment={"pitch": [-12]}, progress=False)
    finally:
        torch.set_num_threads(threads)
    return out


def test_distributed_equals_local(cluster, corpus, local, tmp_path, capsys):
    out = tmp_path / "dist.lmindex"
    code = main(["index", str(corpus), "-o", str(out), "--scheduler", cluster.scheduler_address, "--pitch-shift", "-12", "-q"])
    assert code == 1  # written, one corrupt file skipped, as a local build says
    A, B = _same(local, out)
    assert B.skipped == A.skipped and len(B.skipped) == 1
    # re-running changes nothing and encodes nothing
    rep = build_index_distributed([corpus], out, scheduler=cluster.scheduler_address, progress=False)
    assert not rep.changed and rep.bytes_moved == 0


def test_a_killed_worker_loses_nothing(cluster, corpus, local, tmp_path):
    client = distributed.Client(cluster)
    pids = client.run(os.getpid)
    killed = []

    def kill_one(path: str) -> None:
        if not killed:  # after the first result, the other files are in flight on both workers
            victim = sorted(pids.values())[0]
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

    out = tmp_path / "killed.lmindex"
    rep = build_index_distributed([corpus], out, scheduler=cluster.scheduler_address, augment={"pitch": [-12]},
                                  progress=False, on_file=kill_one)
    client.close()
    assert killed and rep.added == 3
    _same(local, out)
    manifest_files = sorted(p.name for p in out.iterdir() if p.name.startswith(("latents-", "grains-")))
    assert len(manifest_files) == 2  # one generation committed once


def test_bad_distributed_options_are_one_line(corpus, tmp_path, capsys):
    assert main(["index", str(corpus), "-o", str(tmp_path / "x.lmindex"), "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert "not both" in capsys.readouterr().err
    with pytest.raises(CorpusError, match="workers must be at least 1"):
        build_index_distributed([corpus], tmp_path / "y.lmindex", workers=0)
    with pytest.raises(CorpusError, match="cannot reach the Dask scheduler") as err:
        build_index_distributed([corpus], tmp_path / "z.lmindex", scheduler="tcp://127.0.0.1:9", connect_timeout=1)
    assert "\n" not in str(err.value) and not (tmp_path / "z.lmindex").exists()


def test_local_cluster_workers_run_one_thread_each(monkeypatch):
    """A LocalCluster's workers get LATENTMORPH_THREADS=1 (Dask pins BLAS and OpenMP the same
    way), so N single-threaded workers on N cores do not each start a pool; a value the user
    set is passed on as it is."""
    from latentmorph.corpus.distributed import _worker_env

    monkeypatch.delenv("LATENTMORPH_THREADS", raising=False)
    assert _worker_env() == {"LATENTMORPH_THREADS": "1"}
    monkeypatch.setenv("LATENTMORPH_THREADS", "3")
    assert _worker_env() == {"LATENTMORPH_THREADS": "3"}
