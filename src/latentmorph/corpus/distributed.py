"""Distributed indexing on Dask (``pip install 'latentmorph[dask]'``).

``latentmorph index CORPUS -o X.lmindex --workers N`` (a ``distributed.LocalCluster`` of
``N`` processes here) or ``--scheduler tcp://HOST:PORT`` (an existing cluster whose workers
can read the corpus paths and have latentmorph + the codec's weights installed).

Only the encoding moves. The client plans exactly as a local build does (scan, compare
with the stored index, find shards left by an interrupted run), under the same write lock;
each file to encode becomes one Dask task that loads it, resamples, augments and encodes it
with :func:`latentmorph.corpus.build.load_base` / :func:`~latentmorph.corpus.build.encode_augmented`
(the functions a local build runs) and returns the latents. The client writes each
file's shards as its result arrives and, when all are in, assembles the generation and
swaps the manifest once, atomically (``build_index``'s own commit). So the result is the
same as a local build: same latents, same grain table.

A worker that dies mid-job loses nothing: the scheduler re-runs its tasks on another
worker (up to ``retries`` times each), and shards already written are reused by the next
run if the client itself is interrupted. Workers rebuild the codec from the index's
portable spec (absolute weights path + hash) and check its fingerprint.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from latentmorph.corpus import storage
from latentmorph.corpus.build import BuildReport, build_index, encode_augmented, load_base
from latentmorph.corpus.records import FileRecord
from latentmorph.errors import AudioError, CorpusError

INSTALL_HINT = "pip install 'latentmorph[dask]'"

_CODECS: dict[str, Any] = {}


def _distributed():  # noqa: ANN202
    try:
        import distributed
    except ImportError:
        raise CorpusError(f"distributed indexing needs dask: {INSTALL_HINT}") from None
    return distributed


@dataclass
class DistributedReport(BuildReport):
    """:class:`BuildReport` plus ``setup_seconds`` (cluster start + connect), ``bytes_moved``
    (latents sent from workers to the client), ``worker_rss_mb`` (largest worker resident
    memory at the end) and ``workers`` (workers connected at the end)."""

    setup_seconds: float = 0.0
    bytes_moved: int = 0
    worker_rss_mb: float = 0.0
    workers: int = 0


def encode_task(spec: str, fingerprint: str, path: str, items: list[tuple[str, dict[str, Any]]],
                max_seconds: float | None) -> tuple[str, Any]:
    """Run on a worker: ``("ok", (meta, {aug_key: latents [C, dim, T]}, seconds))`` or ``("audio", message)``."""
    from latentmorph.codecs import get_codec

    codec = _CODECS.get(spec)
    if codec is None:
        codec = _CODECS[spec] = get_codec(spec)
    from latentmorph.codecs.fingerprint import check_fingerprint

    check_fingerprint(f"worker {os.uname().nodename}", "the client's codec", fingerprint, codec.fingerprint,
                      made_spec=spec, expected_spec=spec, error=CorpusError,
                      fix="install the same latentmorph, codec options and weights on every worker")
    try:
        base, meta = load_base(path, codec.sample_rate, max_seconds)
    except AudioError as err:
        return "audio", str(err)
    latents, seconds = {}, 0.0
    for key, aug in items:
        latents[key], secs = encode_augmented(base, codec, aug)
        seconds += secs
    return "ok", (meta, latents, seconds)


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


class _DaskEncoder:
    """``build_index(encoder=...)``: one Dask task per file, shards written here as results arrive."""

    def __init__(self, client: Any, retries: int) -> None:
        self.client = client
        self.retries = retries
        self.bytes_moved = 0

    def __call__(self, out: Path, todo: list[tuple[FileRecord, list[int], bool]], augs: list[dict[str, Any]],
                 aug_keys: list[str], codec: Any, spec: str, max_seconds: float | None,
                 reuse: bool, checksums: dict[str, Any] | None = None) -> Iterator[tuple[FileRecord, bool, Any]]:
        distributed = _distributed()
        futures = {}
        for rec, missing, is_new in todo:
            items = []
            for a in missing:
                name = storage.shard_name(rec.sha256, aug_keys[a], codec.fingerprint)
                if reuse and storage.read_shard(out, name, codec.dim) is not None:
                    rec.shards[aug_keys[a]] = name  # left by an interrupted run
                else:
                    items.append((aug_keys[a], augs[a]))
            fut = self.client.submit(encode_task, spec, codec.fingerprint, rec.path, items, max_seconds,
                                     pure=False, retries=self.retries, key=f"lm-encode-{rec.sha256[:16]}-{time.time_ns()}")
            futures[fut] = (rec, is_new, items)
        for fut in distributed.as_completed(list(futures)):
            rec, is_new, items = futures.pop(fut)
            try:
                kind, payload = fut.result()
            except distributed.client.FutureCancelledError:
                raise CorpusError(f"{out}: the Dask cluster went away while encoding {rec.path}; re-run to resume") from None
            except Exception as err:  # noqa: BLE001  (KilledWorker after every retry, a worker-side error)
                raise CorpusError(f"{rec.path}: encoding failed on the Dask workers ({type(err).__name__}: {str(err)[:160]}); re-run to resume") from None
            if kind == "audio":
                yield rec, is_new, AudioError(payload)
                continue
            (sr, channels, samples), latents, seconds = payload
            rec.sample_rate, rec.channels, rec.num_samples = sr, channels, samples
            for key, _aug in items:
                lat = np.asarray(latents[key], dtype=np.float32)
                if lat.ndim != 3 or lat.shape[1] != codec.dim:
                    raise CorpusError(f"{rec.path}: a worker returned latents {list(lat.shape)}, expected [C, {codec.dim}, T]")
                name = storage.shard_name(rec.sha256, key, codec.fingerprint)
                written = storage.write_shard(out, name, lat)
                if checksums is not None:
                    checksums[name] = written
                rec.shards[key] = name
                self.bytes_moved += lat.nbytes
            yield rec, is_new, (rec, not items, seconds)


def _worker_env() -> dict[str, str]:
    """Environment of a local cluster's worker processes: one thread each for our numpy blocks
    (:mod:`latentmorph.parallel`), as Dask already sets for BLAS and OpenMP, so N workers on N
    cores do not each start a pool of their own (a ``LATENTMORPH_THREADS`` the user set is kept)."""
    from latentmorph import parallel

    return {parallel.ENV: os.environ.get(parallel.ENV) or "1"}


def build_index_distributed(
    inputs: Sequence[str | os.PathLike],
    output: str | os.PathLike,
    codec: Any = None,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    retries: int = 3,
    connect_timeout: float = 10.0,
    **options: Any,
) -> DistributedReport:
    """:func:`latentmorph.corpus.build.build_index` with the encoding on Dask workers.

    Args:
        workers: start a ``LocalCluster`` of this many single-threaded worker processes.
        scheduler: address of an existing scheduler (``tcp://HOST:PORT``) instead.
        retries: times a task is re-run after its worker died or failed.
        connect_timeout: seconds to wait for ``scheduler``.
        options: everything else :func:`build_index` takes (``augment``, ``progress``,
            ``max_seconds``, ``rebuild``, ``lock_timeout``, ``on_file``).

    Returns:
        a :class:`DistributedReport`.
    """
    distributed = _distributed()
    if (workers is None) == (scheduler is None):
        raise CorpusError(f"{output}: give either workers=N or scheduler=ADDRESS for a distributed build")
    if workers is not None and int(workers) < 1:
        raise CorpusError(f"{output}: workers must be at least 1, got {workers}")
    t0 = time.perf_counter()
    cluster = None
    try:
        if workers is not None:
            cluster = distributed.LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True,
                                               dashboard_address=None, silence_logs=40, env=_worker_env())
            client = distributed.Client(cluster)
        else:
            try:
                client = distributed.Client(scheduler, timeout=connect_timeout)
            except (OSError, TimeoutError, ValueError) as err:
                raise CorpusError(f"{scheduler}: cannot reach the Dask scheduler ({type(err).__name__}: {str(err)[:120]})") from None
        with client:
            setup = time.perf_counter() - t0
            encoder = _DaskEncoder(client, int(retries))
            report = build_index(inputs, output, codec, encoder=encoder, **options)
            rss = client.run(_rss_mb)
            n_workers = len(client.scheduler_info().get("workers", {}))
    finally:
        if cluster is not None:
            cluster.close()
    fields = {k: getattr(report, k) for k in BuildReport.__dataclass_fields__}
    return DistributedReport(**fields, setup_seconds=setup, bytes_moved=encoder.bytes_moved,
                             worker_rss_mb=max(rss.values(), default=0.0), workers=n_workers)
