"""Building and incrementally updating an index (``latentmorph index``).

One call scans the corpus, compares it with the index already on disk and does the
least work that brings the index up to date:

* unchanged file (same path, size and mtime): nothing is read;
* touched file (size or mtime differ): content hashed; same hash = only the record
  is refreshed, new hash = re-encoded;
* new file: hashed; if a shard with that content hash exists (a renamed file, or a
  run interrupted after encoding it) it is reused, otherwise encoded;
* deleted file: dropped.

Unreadable, empty or corrupt files are skipped with a warning and listed in the
report and the manifest; they never stop the run.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from latentmorph.audio import find_audio_files, load, resample
from latentmorph.codecs import Codec
from latentmorph.corpus import storage
from latentmorph.corpus.augment import AugmentSpec, apply_augmentation, augment_key, parse_augment
from latentmorph.corpus.codec_spec import resolve_codec
from latentmorph.corpus.index import CorpusIndex
from latentmorph.corpus.lock import index_lock
from latentmorph.corpus.records import GRAIN_COLUMNS, FileRecord, SkippedFile
from latentmorph.errors import AudioError, CorpusError


class CorpusFileWarning(UserWarning):
    """A corpus file was skipped (unreadable, empty, corrupt, too long)."""


@dataclass
class BuildReport:
    """What :func:`build_index` did.

    Attributes:
        index: the up-to-date :class:`CorpusIndex`.
        skipped: ``[(path, reason)]`` of every file left out of the index.
        added, updated, removed, unchanged: file counts for this run.
        resumed: files whose latents were found already encoded (interrupted run, renamed file).
        encoded_seconds: seconds of audio (per augmentation) encoded in this run.
        elapsed: wall time of the run in seconds.
    """

    index: CorpusIndex
    skipped: list[tuple[str, str]] = field(default_factory=list)
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    resumed: int = 0
    encoded_seconds: float = 0.0
    elapsed: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def summary(self) -> str:
        """One line for the CLI."""
        idx = self.index
        return (
            f"{idx.path}: {len(idx.files)} files, {len(idx)} grains ({idx.duration_seconds / 60:.1f} min of audio); "
            f"added {self.added}, updated {self.updated}, removed {self.removed}, unchanged {self.unchanged}"
            + (f", resumed {self.resumed}" if self.resumed else "")
            + f", skipped {len(self.skipped)} ({self.elapsed:.1f} s)"
        )


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's content."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def load_for_codec(path: str | Path, codec_sr: int, aug: dict[str, Any], max_seconds: float | None = None) -> tuple[np.ndarray, int, int]:
    """Load a corpus file at the codec rate with an augmentation applied.

    Returns ``(wave [channels, samples] at codec_sr, file sample rate, file samples)``.
    """
    wave, sr = load(path, max_seconds=max_seconds, warn_silence=False)
    n = wave.shape[-1]
    wave = resample(wave, sr, codec_sr)
    return apply_augmentation(wave, codec_sr, aug), sr, n


def _progress(total: int, enabled: bool, desc: str):  # noqa: ANN202
    from tqdm import tqdm

    disable = not enabled or not sys.stderr.isatty()
    return tqdm(total=total, desc=desc, unit="file", disable=disable, file=sys.stderr, dynamic_ncols=True)


def build_index(
    inputs: Sequence[str | os.PathLike],
    output: str | os.PathLike,
    codec: str | Codec | None = None,
    *,
    augment: AugmentSpec = None,
    progress: bool = True,
    max_seconds: float | None = None,
    rebuild: bool = False,
    lock_timeout: float | None = None,
    on_file: Callable[[str], None] | None = None,
    encoder: Callable[..., Iterator[tuple[FileRecord, bool, Any]]] | None = None,
) -> BuildReport:
    """Build ``output`` (a ``NAME.lmindex`` folder) from corpus files and folders, or update it.

    Args:
        inputs: audio files and folders (searched recursively for wav/flac/ogg/aiff/mp3).
        output: the index folder; created, or updated incrementally when it exists.
        codec: codec spec or instance. ``None``: the existing index's codec, or the
            embedded codec for a new index. Updating an index made with another codec
            is refused unless ``rebuild=True``.
        augment: extra pitch/gain copies, see :func:`latentmorph.corpus.augment.parse_augment`
            (e.g. ``{"pitch": [-12, 12], "gain_db": [-6]}``). ``None`` keeps the existing
            index's augmentations (none for a new index); ``"none"`` removes them.
        progress: show a tqdm bar with ETA on stderr (only when it is a terminal).
        max_seconds: skip corpus files longer than this (default 1 h).
        rebuild: ignore the existing index (its codec, records and shards) and encode
            everything again; the old index stays readable until the new one replaces it.
        lock_timeout: seconds to wait for another process writing the same index
            (``None``: wait as long as needed).
        on_file: called with each file path after it is encoded (progress hooks, tests).
        encoder: how the files to encode are encoded: ``encoder(out, todo, augs, aug_keys,
            codec, spec, max_seconds, reuse)`` yields ``(record, is_new, outcome)`` per file,
            ``outcome`` = ``(record, resumed, seconds)`` or an :class:`AudioError`; default
            :func:`_encode_local` (one by one, here). :mod:`latentmorph.corpus.distributed`
            passes one that encodes on Dask workers.

    Returns:
        a :class:`BuildReport`; ``report.index`` is the loaded index.

    Raises:
        CorpusError: no audio files found, none usable, index made with another codec,
            existing index corrupt (use ``rebuild``), index locked past ``lock_timeout``.
        AudioError: an input path does not exist.
    """
    t0 = time.perf_counter()
    out = Path(output)
    if out.exists() and not out.is_dir():
        raise CorpusError(f"{out}: exists and is not an index folder; choose another name (e.g. NAME.lmindex)")
    existing: dict[str, Any] | None = None
    if (codec is None or augment is None) and storage.manifest_path(out).exists():
        try:
            existing = storage.read_manifest(out)  # re-running without options keeps the index's own
        except CorpusError:
            if not rebuild:
                raise
    if codec is None and existing is not None:
        codec = existing["codec_spec"]
    codec_obj, spec = resolve_codec(codec)
    if augment is None and existing is not None:
        augs = parse_augment(existing["augmentations"])
    else:
        augs = parse_augment(augment)
    aug_keys = [augment_key(a) for a in augs]
    paths = find_audio_files(list(inputs))
    names = ", ".join(str(p) for p in inputs) or "(no inputs)"
    if not paths:
        raise CorpusError(f"{names}: no audio files found (looked for wav, flac, ogg, aiff, mp3)")

    with index_lock(out, lock_timeout, notify=progress):
        old: dict[str, Any] | None = None
        if storage.manifest_path(out).exists() and not rebuild:
            old = storage.read_manifest(out)
            if old["fingerprint"] != codec_obj.fingerprint:
                raise CorpusError(
                    f"{out}: index was built with codec {old['codec_spec']} ({old['fingerprint']}), not {spec} "
                    f"({codec_obj.fingerprint}); use another output name or --rebuild"
                )
        old_files = {r["path"]: FileRecord.from_dict(r) for r in (old or {}).get("files", [])}
        old_skipped = {s["path"]: SkippedFile.from_dict(s) for s in (old or {}).get("skipped", [])}
        report = BuildReport(index=None)  # type: ignore[arg-type]

        records: list[FileRecord] = []
        skipped: list[SkippedFile] = []
        todo: list[tuple[FileRecord, list[int], bool]] = []  # record, aug ids to encode, is_new
        for p in paths:
            key = str(p.resolve())
            try:
                st = os.stat(key)
            except OSError as err:
                skipped.append(SkippedFile(key, f"cannot be read ({err.strerror})"))
                continue
            prev = old_files.get(key)
            if prev and prev.size == st.st_size and prev.mtime_ns == st.st_mtime_ns:
                rec = FileRecord(**{**prev.__dict__, "shards": dict(prev.shards)})
            else:
                bad = old_skipped.get(key)
                if bad and bad.size == st.st_size and bad.mtime_ns == st.st_mtime_ns and "limit" not in bad.reason:
                    skipped.append(bad)  # same broken file as last time: do not retry (too long: retry, the limit may have moved)
                    continue
                try:
                    sha = file_sha256(Path(key))
                except OSError as err:
                    skipped.append(SkippedFile(key, f"cannot be read ({err.strerror})", st.st_size, st.st_mtime_ns))
                    continue
                if prev and prev.sha256 == sha:
                    rec = FileRecord(**{**prev.__dict__, "shards": dict(prev.shards), "size": st.st_size, "mtime_ns": st.st_mtime_ns})
                else:
                    rec = FileRecord(key, st.st_size, st.st_mtime_ns, sha, 0, 0, 0)
            missing = []
            for a, akey in enumerate(aug_keys):
                name = storage.shard_name(rec.sha256, akey, codec_obj.fingerprint)
                if rec.shards.get(akey) == name and storage.shard_path(out, name).exists():
                    continue
                if storage.shard_path(out, name).exists() and rec.sample_rate:
                    rec.shards[akey] = name  # encoded by an interrupted run
                    continue
                missing.append(a)
            rec.shards = {k: v for k, v in rec.shards.items() if k in aug_keys}
            is_new = prev is None
            if missing:
                todo.append((rec, missing, is_new))
            else:
                if is_new:
                    report.added += 1
                elif prev.sha256 != rec.sha256:
                    report.updated += 1
                else:
                    report.unchanged += 1
                records.append(rec)
        # a file that was indexed before and is now gone (or now unreadable) counts as removed
        present = {r.path for r in records} | {t[0].path for t in todo}
        report.removed = sum(1 for k in old_files if k not in present)

        bar = _progress(len(todo), progress and bool(todo), "indexing")
        run = encoder or _encode_local
        try:
            for rec, is_new, outcome in run(out, todo, augs, aug_keys, codec_obj, spec, max_seconds, not rebuild):
                bar.set_postfix_str(Path(rec.path).name[-30:], refresh=False)
                if isinstance(outcome, AudioError):
                    msg = str(outcome)
                    reason = msg[len(rec.path) + 2 :] if msg.startswith(rec.path + ": ") else msg
                    skipped.append(SkippedFile(rec.path, reason, rec.size, rec.mtime_ns))
                    warnings.warn(f"{rec.path}: skipped: {reason}", CorpusFileWarning, stacklevel=2)
                    bar.update(1)
                    continue
                rec, resumed, seconds = outcome
                report.encoded_seconds += seconds
                report.resumed += int(resumed)
                if is_new:
                    report.added += 1
                else:
                    report.updated += 1
                records.append(rec)
                bar.update(1)
                if on_file is not None:
                    on_file(rec.path)
        finally:
            bar.close()

        records.sort(key=lambda r: r.path)
        skipped.sort(key=lambda s: s.path)
        report.skipped = [(s.path, s.reason) for s in skipped]
        if not records:
            first = f" (first: {skipped[0].path}: {skipped[0].reason})" if skipped else ""
            raise CorpusError(f"{names}: no usable audio in the corpus, {len(skipped)} file(s) skipped{first}")

        same_layout = (
            old is not None
            and not report.changed
            and old.get("augmentations") == augs
            and [s.to_dict() for s in skipped] == old.get("skipped", [])
            and [r.to_dict() for r in records] == old.get("files")
        )
        same_arrays = (
            old is not None
            and not report.changed
            and old.get("augmentations") == augs
            and [(r.path, r.shards) for r in records] == [(f["path"], f.get("shards")) for f in old["files"]]
        )
        if same_arrays and not same_layout:
            # only file stamps or the skipped list moved: keep the arrays, refresh the manifest
            manifest = {**old, "files": [r.to_dict() for r in records], "skipped": [s.to_dict() for s in skipped],
                        "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            storage.write_manifest(out, manifest)
        elif not same_layout:
            manifest = _assemble(out, records, skipped, augs, aug_keys, codec_obj, spec)
            storage.write_manifest(out, manifest)
            storage.clean_unused(out, manifest)
        report.index = CorpusIndex.open(out, codec=codec_obj)
        report.elapsed = time.perf_counter() - t0
    return report


def _encode_local(
    out: Path,
    todo: list[tuple[FileRecord, list[int], bool]],
    augs: list[dict[str, Any]],
    aug_keys: list[str],
    codec: Codec,
    spec: str,
    max_seconds: float | None,
    reuse: bool,
) -> Iterator[tuple[FileRecord, bool, Any]]:
    """Encode the files to encode one by one in this process (see ``build_index(encoder=...)``)."""
    for rec, missing, is_new in todo:
        try:
            yield rec, is_new, _encode_file(out, rec, missing, augs, aug_keys, codec, max_seconds, reuse=reuse)
        except AudioError as err:
            yield rec, is_new, err


def load_base(path: str, codec_sr: int, max_seconds: float | None) -> tuple[np.ndarray, tuple[int, int, int]]:
    """A corpus file at the codec rate ``[channels, samples]`` and its ``(sample rate, channels, samples)``."""
    wave, sr = load(path, max_seconds=max_seconds, warn_silence=False)
    return resample(wave, sr, codec_sr), (int(sr), int(wave.shape[0]), int(wave.shape[-1]))


def encode_augmented(base: np.ndarray, codec: Codec, aug: dict[str, Any]) -> tuple[np.ndarray, float]:
    """Latents ``[C, dim, T]`` of one augmentation of ``base`` and the seconds encoded."""
    wave_a = apply_augmentation(base, codec.sample_rate, aug)
    return codec.encode(wave_a), wave_a.shape[-1] / codec.sample_rate


def _encode_file(
    out: Path,
    rec: FileRecord,
    missing: list[int],
    augs: list[dict[str, Any]],
    aug_keys: list[str],
    codec: Codec,
    max_seconds: float | None,
    *,
    reuse: bool = True,
) -> tuple[FileRecord, bool, float]:
    """Encode the missing augmentations of one file into shards; returns (record, resumed, seconds encoded).

    With ``reuse`` a valid shard already on disk for this content (left by an interrupted
    run, or a renamed file) is taken instead of encoding again.
    """
    seconds = 0.0
    resumed = True
    base: np.ndarray | None = None
    for a in missing:
        name = storage.shard_name(rec.sha256, aug_keys[a], codec.fingerprint)
        if reuse and rec.sample_rate and storage.read_shard(out, name, codec.dim) is not None:
            rec.shards[aug_keys[a]] = name
            continue
        if base is None:
            base, (rec.sample_rate, rec.channels, rec.num_samples) = load_base(rec.path, codec.sample_rate, max_seconds)
        if reuse and storage.read_shard(out, name, codec.dim) is not None:
            rec.shards[aug_keys[a]] = name
            continue
        resumed = False
        latents, secs = encode_augmented(base, codec, augs[a])
        storage.write_shard(out, name, latents)
        rec.shards[aug_keys[a]] = name
        seconds += secs
    return rec, resumed, seconds


def _assemble(
    out: Path,
    records: list[FileRecord],
    skipped: list[SkippedFile],
    augs: list[dict[str, Any]],
    aug_keys: list[str],
    codec: Codec,
    spec: str,
) -> dict[str, Any]:
    """Concatenate the shards into one generation of latents + grain table; returns the manifest."""
    lat_parts: list[np.ndarray] = []
    cols: dict[str, list[np.ndarray]] = {name: [] for name in GRAIN_COLUMNS}
    for fid, rec in enumerate(records):
        rec.frames = []
        for a, akey in enumerate(aug_keys):
            shard = storage.read_shard(out, rec.shards[akey], codec.dim)
            if shard is None:
                raise CorpusError(f"{storage.shard_path(out, rec.shards[akey])}: shard vanished or is damaged while indexing; re-run latentmorph index")
            C, D, T = shard.shape
            rec.frames.append(int(T))
            lat_parts.append(shard.transpose(0, 2, 1).reshape(C * T, D))
            frames = np.tile(np.arange(T, dtype=np.int64), C)
            cols["file_id"].append(np.full(C * T, fid))
            cols["channel"].append(np.repeat(np.arange(C), T))
            cols["frame"].append(frames)
            cols["start"].append(frames * codec.hop)
            cols["aug"].append(np.full(C * T, a))
    latents = np.concatenate(lat_parts).astype(np.float32, copy=False)
    grains = {name: np.concatenate(parts).astype(dtype) for (name, dtype), parts in zip(GRAIN_COLUMNS.items(), cols.values())}
    gen = storage.new_generation()
    lat_name, grain_name = storage.write_arrays(out, gen, latents, grains)
    return {
        "format": storage.FORMAT,
        "version": storage.FORMAT_VERSION,
        "codec_spec": spec,
        "codec": codec.name,
        "fingerprint": codec.fingerprint,
        "sample_rate": int(codec.sample_rate),
        "hop": int(codec.hop),
        "dim": int(codec.dim),
        "num_grains": int(latents.shape[0]),
        "latents": lat_name,
        "grains": grain_name,
        "augmentations": augs,
        "files": [r.to_dict() for r in records],
        "skipped": [s.to_dict() for s in skipped],
        "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
