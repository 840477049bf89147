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
import time
import warnings
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from latentmorph.atomic import clean_stale_temps
from latentmorph.audio import load, resample
from latentmorph.audio.io import display_path, scan_audio_files
from latentmorph.codecs import Codec
from latentmorph.codecs.fingerprint import check_fingerprint
from latentmorph.corpus import storage
from latentmorph.corpus.augment import AugmentSpec, apply_augmentation, augment_key, parse_augment
from latentmorph.corpus.codec_spec import resolve_codec
from latentmorph.corpus.index import CorpusIndex
from latentmorph.corpus.lock import index_lock
from latentmorph.corpus.levels import wave_levels
from latentmorph.corpus.records import FileRecord, SkipKind, SkippedFile
from latentmorph.corpus.validate import LEVEL_KEY, IndexDamaged, check_augmentations, expected_grains
from latentmorph.errors import AudioError, AudioTooLong, CorpusError
from latentmorph.progress import bar as progress_bar


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
    return progress_bar(total, desc, enabled, unit="file", dynamic_ncols=True)


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
            codec, spec, max_seconds, reuse, checksums)`` yields ``(record, is_new, outcome)`` per
            file, ``outcome`` = ``(record, resumed, seconds)`` or an :class:`AudioError`, and records
            each shard it writes in ``checksums`` (name -> what ``storage.write_shard`` returned);
            default :func:`_encode_local` (one by one, here). :mod:`latentmorph.corpus.distributed`
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
    inputs = list(inputs)
    storage.check_output_folder(out, inputs)  # refuse a folder that is not ours before any work
    existing: dict[str, Any] | None = None
    if (codec is None or augment is None) and storage.manifest_path(out).exists():
        try:
            existing = storage.read_manifest(out)  # re-running without options keeps the index's own
        except IndexDamaged as err:
            existing = _salvage_options(out, err, need_codec=codec is None and not rebuild)
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
    paths, scan_skipped = scan_audio_files(inputs)
    names = ", ".join(display_path(p) for p in inputs) or "(no inputs)"
    if not paths:
        first = f" ({scan_skipped[0][0]}: {scan_skipped[0][1]})" if scan_skipped else ""
        raise CorpusError(f"{names}: no audio files found (looked for wav, flac, ogg, aiff, mp3){first}")

    storage.claim_folder(out)  # the inputs were checked against it above
    with index_lock(out, lock_timeout, notify=progress):
        try:
            return _build_locked(out, paths, scan_skipped, names, codec_obj, spec, augs, aug_keys, t0,
                                 progress=progress, max_seconds=max_seconds, rebuild=rebuild, on_file=on_file, encoder=encoder)
        except OSError as err:
            where = err.filename or out
            raise CorpusError(f"{where}: cannot write the index ({err.strerror or err})") from None
        finally:
            if not storage.manifest_path(out).exists():
                storage.remove_stub(out)  # a failed first build leaves no empty NAME.lmindex behind


def _salvage_options(out: Path, err: IndexDamaged, *, need_codec: bool) -> dict[str, Any] | None:
    """Codec spec and augmentations of a damaged manifest, when those two fields still read."""
    import json

    try:
        raw = json.loads(storage.manifest_path(out).read_bytes())
        spec = raw["codec_spec"]
        augs = check_augmentations(raw["augmentations"], storage.manifest_path(out))
        if isinstance(spec, str) and spec:
            return {"codec_spec": spec, "augmentations": augs}
    except Exception:  # noqa: BLE001 - whatever is left of a damaged file
        pass
    if need_codec:
        raise CorpusError(f"{err}; give --codec to rebuild it (intact encoded shards are reused)") from None
    return None


@dataclass(frozen=True)
class FileState:
    """What the survey saw of one corpus path: its stamps, and its content hash when that
    had to be read (``sha256=None`` for a file whose stamps match the old record).
    ``error`` is set, with ``kind``, when the file could not be stat'ed or hashed."""

    path: str
    size: int = -1
    mtime_ns: int = -1
    sha256: str | None = None
    error: str | None = None
    kind: SkipKind = SkipKind.UNREADABLE


@dataclass
class BuildPlan:
    """What an update must do, decided from facts only (:func:`plan_update`).

    Attributes:
        ready: records whose every shard is intact (nothing to encode).
        todo: ``(record, aug ids to encode, is_new)`` for the files to encode.
        skipped: files left out, each with its :class:`SkipKind`.
        added, updated, unchanged, removed: counts over ``ready`` (and removed files).
    """

    ready: list[FileRecord] = field(default_factory=list)
    todo: list[tuple[FileRecord, list[int], bool]] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0


def _stamps_match(rec: FileRecord | SkippedFile | None, size: int, mtime_ns: int) -> bool:
    return rec is not None and rec.size == size and rec.mtime_ns == mtime_ns


def needs_hash(prev: FileRecord | None, bad: SkippedFile | None, size: int, mtime_ns: int) -> bool:
    """Whether a file's content must be hashed: its stamps moved since it was indexed, and
    it is not a bad file seen unchanged before (those are skipped again without reading)."""
    if _stamps_match(prev, size, mtime_ns):
        return False
    return not (_stamps_match(bad, size, mtime_ns) and not SkipKind(bad.kind).retry)  # type: ignore[union-attr]


def survey(paths: Sequence[Path], old_files: dict[str, FileRecord], old_skipped: dict[str, SkippedFile]) -> list[FileState]:
    """Stat every path, and hash those :func:`needs_hash` says changed (the plan's only I/O)."""
    states = []
    for p in paths:
        key = str(p.resolve())
        try:
            st = os.stat(key)
        except OSError as err:
            states.append(FileState(key, error=f"cannot be read ({err.strerror})"))
            continue
        sha = None
        if needs_hash(old_files.get(key), old_skipped.get(key), st.st_size, st.st_mtime_ns):
            try:
                sha = file_sha256(Path(key))
            except OSError as err:
                states.append(FileState(key, st.st_size, st.st_mtime_ns, error=f"cannot be read ({err.strerror})"))
                continue
        states.append(FileState(key, st.st_size, st.st_mtime_ns, sha))
    return states


def shards_on_disk(out: Path) -> dict[str, int]:
    """Size of every shard file in the index (one directory listing)."""
    try:
        with os.scandir(Path(out) / storage.SHARDS) as it:
            return {e.name: e.stat().st_size for e in it if e.is_file(follow_symlinks=False)}
    except OSError:
        return {}


def plan_update(
    states: Sequence[FileState],
    old_files: dict[str, FileRecord],
    old_skipped: dict[str, SkippedFile],
    aug_keys: Sequence[str],
    fingerprint: str,
    shards: dict[str, int],
    checksums: dict[str, Any],
    scan_skipped: Sequence[tuple[str, str]] = (),
) -> BuildPlan:
    """Decide, without touching the disk, what brings the index up to date.

    Args:
        states: what :func:`survey` saw of every corpus path.
        old_files, old_skipped: the existing manifest's records by path.
        aug_keys: augmentation keys of the index being built.
        fingerprint: the codec fingerprint (part of every shard name).
        shards: shard file name -> size on disk (:func:`shards_on_disk`).
        checksums: the manifest's ``[size, sha256]`` per data file.
        scan_skipped: ``[(path, reason)]`` the folder scan could not use.

    Returns:
        a :class:`BuildPlan`; the records in it are new objects (the old ones are not changed).
    """
    plan = BuildPlan(skipped=[SkippedFile(p, r, kind=SkipKind.NAME) for p, r in scan_skipped])

    def intact(name: str) -> bool:
        want = checksums.get(name)
        return name in shards and (want is None or shards[name] == want[0])

    for st in states:
        if st.error is not None:
            plan.skipped.append(SkippedFile(st.path, st.error, st.size, st.mtime_ns, st.kind))
            continue
        prev = old_files.get(st.path)
        if st.sha256 is None and _stamps_match(prev, st.size, st.mtime_ns):
            rec = FileRecord(**{**prev.__dict__, "shards": dict(prev.shards)})  # type: ignore[union-attr]
        elif st.sha256 is None:
            plan.skipped.append(old_skipped[st.path])  # same broken file as last time: not retried
            continue
        elif prev is not None and prev.sha256 == st.sha256:
            rec = FileRecord(**{**prev.__dict__, "shards": dict(prev.shards), "size": st.size, "mtime_ns": st.mtime_ns})
        else:
            rec = FileRecord(st.path, st.size, st.mtime_ns, st.sha256, 0, 0, 0)
        missing = []
        for a, akey in enumerate(aug_keys):
            name = storage.shard_name(rec.sha256, akey, fingerprint)
            if intact(name) and (rec.shards.get(akey) == name or rec.sample_rate):
                rec.shards[akey] = name  # indexed, or encoded by an interrupted run
                continue
            missing.append(a)
        rec.shards = {k: v for k, v in rec.shards.items() if k in aug_keys}
        if missing:
            plan.todo.append((rec, missing, prev is None))
            continue
        if prev is None:
            plan.added += 1
        elif prev.sha256 != rec.sha256:
            plan.updated += 1
        else:
            plan.unchanged += 1
        plan.ready.append(rec)
    # a file that was indexed before and is now gone (or now unreadable) counts as removed
    present = {r.path for r in plan.ready} | {t[0].path for t in plan.todo}
    plan.removed = sum(1 for k in old_files if k not in present)
    return plan


def _build_locked(
    out: Path,
    paths: list[Path],
    scan_skipped: list[tuple[str, str]],
    names: str,
    codec_obj: Codec,
    spec: str,
    augs: list[dict[str, Any]],
    aug_keys: list[str],
    t0: float,
    *,
    progress: bool,
    max_seconds: float | None,
    rebuild: bool,
    on_file: Callable[[str], None] | None,
    encoder: Callable[..., Iterator[tuple[FileRecord, bool, Any]]] | None = None,
) -> BuildReport:
    """The part of :func:`build_index` that runs under the write lock: read the old
    state, :func:`plan_update`, encode (:func:`_encode_step`), commit (:func:`_commit`)."""
    storage.ensure_marker(out)
    clean_stale_temps(out)
    clean_stale_temps(out / storage.SHARDS)
    old, old_levels, old_arrays = _read_old(out, codec_obj, spec, rebuild=rebuild)
    sums: dict[str, Any] = dict(old.get("checksums", {})) if old else {}
    old_files = {r["path"]: FileRecord.from_dict(r) for r in (old or {}).get("files", [])}
    old_skipped = {s["path"]: SkippedFile.from_dict(s) for s in (old or {}).get("skipped", [])}
    plan = plan_update(survey(paths, old_files, old_skipped), old_files, old_skipped, aug_keys,
                       codec_obj.fingerprint, shards_on_disk(out), sums, scan_skipped)
    report = BuildReport(index=None, added=plan.added, updated=plan.updated,  # type: ignore[arg-type]
                         unchanged=plan.unchanged, removed=plan.removed)
    records, skipped = list(plan.ready), list(plan.skipped)
    levels: dict[str, np.ndarray] = {}
    _encode_step(out, plan.todo, augs, aug_keys, codec_obj, spec, max_seconds, sums, report, records, skipped,
                 levels, progress=progress, rebuild=rebuild, on_file=on_file, encoder=encoder)
    records.sort(key=lambda r: r.path)
    skipped.sort(key=lambda s: s.path)
    report.skipped = [(s.path, s.reason) for s in skipped]
    if not records:
        first = f" (first: {skipped[0].path}: {skipped[0].reason})" if skipped else ""
        raise CorpusError(f"{names}: no usable audio in the corpus, {len(skipped)} file(s) skipped{first}")
    wrote = _commit(out, old, old_levels, records, skipped, augs, aug_keys, codec_obj, spec, max_seconds, sums, report, levels)
    if not wrote and old is not None and old_arrays is not None:  # nothing changed: the arrays just verified
        report.index = CorpusIndex.from_arrays(out, old, np.array(old_arrays[0]), old_arrays[1], codec_obj)
    else:
        report.index = CorpusIndex.open(out, codec=codec_obj)
    report.elapsed = time.perf_counter() - t0
    return report


def _read_old(out: Path, codec_obj: Codec, spec: str, *, rebuild: bool) -> tuple[
        dict[str, Any] | None, dict[str, np.ndarray] | None, tuple[np.ndarray, dict[str, np.ndarray]] | None]:
    """The existing manifest (``None``: new, rebuilt or unreadable), the stored grain levels of
    each shard (``{}`` when it has none; ``None`` when the arrays are damaged and must be
    re-assembled) and the verified arrays (memory-mapped latents, grain columns)."""
    if not storage.manifest_path(out).exists() or rebuild:
        return None, {}, None
    try:
        old = storage.read_manifest(out)
    except IndexDamaged as err:
        warnings.warn(f"{err}; repairing: the manifest is rebuilt from the corpus (intact shards are reused)",
                      CorpusFileWarning, stacklevel=4)
        return None, {}, None
    check_fingerprint(out, "index", old["fingerprint"], codec_obj.fingerprint, made_spec=old["codec_spec"],
                      expected_spec=spec, fix="use another output name or --rebuild", error=CorpusError)
    try:
        latents, cols = storage.read_arrays(out, old, mmap=True, verify=True)
    except IndexDamaged as err:
        warnings.warn(f"{err}; repairing: the latents and grain table are re-assembled",
                      CorpusFileWarning, stacklevel=4)
        return old, None, None
    return old, _levels_by_shard(old, cols.get(LEVEL_KEY)), (latents, cols)


def _levels_by_shard(manifest: dict[str, Any], levels: np.ndarray | None) -> dict[str, np.ndarray]:
    """Split a stored level column into ``{shard name: [channels * frames]}`` (file-major order)."""
    if levels is None:
        return {}
    keys = [augment_key(a) for a in manifest["augmentations"]]
    out, pos = {}, 0
    for rec in manifest["files"]:
        for a, akey in enumerate(keys):
            n = int(rec["channels"]) * int(rec["frames"][a])
            out[rec["shards"][akey]] = np.array(levels[pos : pos + n])
            pos += n
    return out


def _encode_step(
    out: Path,
    todo: list[tuple[FileRecord, list[int], bool]],
    augs: list[dict[str, Any]],
    aug_keys: list[str],
    codec_obj: Codec,
    spec: str,
    max_seconds: float | None,
    sums: dict[str, Any],
    report: BuildReport,
    records: list[FileRecord],
    skipped: list[SkippedFile],
    levels: dict[str, np.ndarray],
    *,
    progress: bool,
    rebuild: bool,
    on_file: Callable[[str], None] | None,
    encoder: Callable[..., Iterator[tuple[FileRecord, bool, Any]]] | None,
) -> None:
    """Encode the planned files (``encoder`` or :func:`_encode_local`), adding each to
    ``records`` or ``skipped``; the default encoder also measures grain levels into ``levels``."""
    bar = _progress(len(todo), progress and bool(todo), "indexing")
    try:
        run = encoder or partial(_encode_local, levels=levels)
        for rec, is_new, outcome in run(out, todo, augs, aug_keys, codec_obj, spec, max_seconds, not rebuild, sums):
            bar.set_postfix_str(Path(rec.path).name[-30:], refresh=False)
            if isinstance(outcome, AudioError):
                skipped.append(_skip(rec, outcome))
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


def _commit(
    out: Path,
    old: dict[str, Any] | None,
    old_levels: dict[str, np.ndarray] | None,
    records: list[FileRecord],
    skipped: list[SkippedFile],
    augs: list[dict[str, Any]],
    aug_keys: list[str],
    codec_obj: Codec,
    spec: str,
    max_seconds: float | None,
    sums: dict[str, Any],
    report: BuildReport,
    levels: dict[str, np.ndarray],
) -> bool:
    """Write what changed: nothing, only the manifest (stamps or skipped list moved), or a
    new generation of the arrays and its manifest. Returns whether anything was written."""
    arrays_ok = old_levels is not None
    # the stored arrays still hold exactly these records' shards, intact and checksummed
    same_arrays = (
        old is not None
        and arrays_ok
        and "checksums" in old
        and not report.changed
        and old.get("augmentations") == augs
        and [(r.path, r.shards) for r in records] == [(f["path"], f.get("shards")) for f in old["files"]]
    )
    same_layout = (
        same_arrays
        and [s.to_dict() for s in skipped] == old.get("skipped", [])  # type: ignore[union-attr]
        and [r.to_dict() for r in records] == old.get("files")  # type: ignore[union-attr]
    )
    if same_arrays and not same_layout:
        manifest = {**old, "files": [r.to_dict() for r in records], "skipped": [s.to_dict() for s in skipped],  # type: ignore[dict-item]
                    "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        storage.write_manifest(out, manifest)
    elif not same_layout:
        known = {**(old_levels or {}), **levels}
        manifest = _assemble_repairing(out, records, skipped, augs, aug_keys, codec_obj, spec, max_seconds, sums, report, known)
        storage.write_manifest(out, manifest)
        storage.clean_unused(out, manifest)
    return not same_layout


def _encode_local(
    out: Path,
    todo: list[tuple[FileRecord, list[int], bool]],
    augs: list[dict[str, Any]],
    aug_keys: list[str],
    codec: Codec,
    spec: str,
    max_seconds: float | None,
    reuse: bool,
    checksums: dict[str, Any] | None = None,
    *,
    levels: dict[str, np.ndarray] | None = None,
) -> Iterator[tuple[FileRecord, bool, Any]]:
    """Encode the files to encode one by one in this process (see ``build_index(encoder=...)``);
    with ``levels`` also store each encoded shard's grain levels there (shard name -> ``[C*T]``)."""
    for rec, missing, is_new in todo:
        try:
            yield rec, is_new, _encode_file(out, rec, missing, augs, aug_keys, codec, max_seconds,
                                            reuse=reuse, checksums=checksums, levels=levels)
        except AudioError as err:
            yield rec, is_new, err


def load_base(path: str, codec_sr: int, max_seconds: float | None) -> tuple[np.ndarray, tuple[int, int, int]]:
    """A corpus file at the codec rate ``[channels, samples]`` and its ``(sample rate, channels, samples)``."""
    wave, sr = load(path, max_seconds=max_seconds, warn_silence=False)
    return resample(wave, sr, codec_sr), (int(sr), int(wave.shape[0]), int(wave.shape[-1]))


def encode_augmented(base: np.ndarray, codec: Codec, aug: dict[str, Any]) -> tuple[np.ndarray, float]:
    """Latents ``[C, dim, T]`` of one augmentation of ``base`` and the seconds encoded."""
    latents, secs, _ = _encode_wave(base, codec, aug)
    return latents, secs


def _encode_wave(base: np.ndarray, codec: Codec, aug: dict[str, Any]) -> tuple[np.ndarray, float, np.ndarray]:
    """:func:`encode_augmented` that also returns the augmented audio ``[C, samples]``."""
    wave_a = apply_augmentation(base, codec.sample_rate, aug)
    return codec.encode(wave_a), wave_a.shape[-1] / codec.sample_rate, wave_a


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
    checksums: dict[str, Any] | None = None,
    levels: dict[str, np.ndarray] | None = None,
) -> tuple[FileRecord, bool, float]:
    """Encode the missing augmentations of one file into shards; returns (record, resumed, seconds encoded).

    With ``reuse`` a valid shard already on disk for this content (left by an interrupted
    run, or a renamed file) is taken instead of encoding again. With ``levels`` each encoded
    shard's grain levels are measured from the audio just encoded (shard name -> ``[C*T]``).
    """
    seconds = 0.0
    resumed = True
    base: np.ndarray | None = None
    for a in missing:
        name = storage.shard_name(rec.sha256, aug_keys[a], codec.fingerprint)
        known = (checksums or {}).get(name)
        if reuse and rec.sample_rate and storage.read_shard(out, name, codec.dim, checksum=known) is not None:
            rec.shards[aug_keys[a]] = name
            continue
        if base is None:
            base, (rec.sample_rate, rec.channels, rec.num_samples) = load_base(rec.path, codec.sample_rate, max_seconds)
        if reuse and storage.read_shard(out, name, codec.dim, channels=rec.channels, checksum=known) is not None:
            rec.shards[aug_keys[a]] = name
            continue
        resumed = False
        latents, secs, wave_a = _encode_wave(base, codec, augs[a])
        if levels is not None:
            levels[name] = wave_levels(wave_a, codec.hop, latents.shape[-1])
        if checksums is not None:
            checksums[name] = storage.write_shard(out, name, latents)
        else:
            storage.write_shard(out, name, latents)
        rec.shards[aug_keys[a]] = name
        seconds += secs
    return rec, resumed, seconds


def _skip(rec: FileRecord, err: AudioError) -> SkippedFile:
    """Record (and warn about) a corpus file that cannot be encoded."""
    msg = str(err)
    reason = msg[len(rec.path) + 2 :] if msg.startswith(rec.path + ": ") else msg
    warnings.warn(f"{rec.path}: skipped: {reason}", CorpusFileWarning, stacklevel=3)
    kind = SkipKind.TOO_LONG if isinstance(err, AudioTooLong) else SkipKind.NOT_AUDIO
    return SkippedFile(rec.path, reason, rec.size, rec.mtime_ns, kind)


def _assemble_repairing(
    out: Path,
    records: list[FileRecord],
    skipped: list[SkippedFile],
    augs: list[dict[str, Any]],
    aug_keys: list[str],
    codec: Codec,
    spec: str,
    max_seconds: float | None,
    sums: dict[str, Any],
    report: BuildReport,
    levels: dict[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Write a new generation from the shards; returns its manifest.

    A shard that reads back damaged is re-encoded (once) from its corpus file, or the
    file is skipped when it cannot be read any more. ``levels`` (shard name -> ``[C*T]``)
    are the grain levels already known; the others are measured from the files (see
    :func:`_grain_levels`).
    """
    levels = {} if levels is None else levels
    for _ in range(2):
        latents, checksums, bad = _concat_shards(out, records, aug_keys, codec, sums)
        if not bad:
            break
        for rec, a in bad:
            if rec not in records:
                continue  # already skipped for another augmentation
            warnings.warn(f"index damaged: {storage.shard_path(out, rec.shards[aug_keys[a]])}: re-encoding {rec.path}",
                          CorpusFileWarning, stacklevel=3)
            sums.pop(rec.shards[aug_keys[a]], None)
            try:
                _, _, seconds = _encode_file(out, rec, [a], augs, aug_keys, codec, max_seconds, reuse=False,
                                             checksums=sums, levels=levels)
                report.encoded_seconds += seconds
            except AudioError as err:
                records.remove(rec)
                skipped.append(_skip(rec, err))
        if not records:
            raise CorpusError(f"{out}: no usable audio left after repairing damaged shards")
    else:
        raise CorpusError(f"{out}: shards keep reading back damaged right after writing them; check the disk")
    file_dicts = [r.to_dict() for r in records]
    grains: dict[str, np.ndarray] = expected_grains(file_dicts, len(aug_keys), codec.hop)
    level = _grain_levels(records, augs, aug_keys, codec, levels)
    if level is not None:
        grains[LEVEL_KEY] = level
    lat_name, grain_name, array_sums = storage.write_arrays(out, storage.new_generation(), latents, grains)
    checksums.update(array_sums)
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
        "files": file_dicts,
        "skipped": [s.to_dict() for s in skipped],
        "checksums": checksums,
        "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _grain_levels(records: list[FileRecord], augs: list[dict[str, Any]], aug_keys: list[str], codec: Codec,
                  known: dict[str, np.ndarray]) -> np.ndarray | None:
    """``[N]`` float32 grain levels in grain-table order, from ``known`` where the shard's are
    there (and of the right size), measured from the corpus file otherwise (an index written
    without levels, or shards encoded elsewhere, e.g. on Dask workers). ``None`` when a file
    cannot be read: the index is then written without levels and readers measure them."""
    parts = []
    for rec in records:
        base = None
        for a, akey in enumerate(aug_keys):
            n = rec.channels * rec.frames[a]
            got = known.get(rec.shards[akey])
            if got is None or got.shape != (n,):
                try:
                    if base is None:
                        base, _ = load_base(rec.path, codec.sample_rate, 0)
                except AudioError:
                    return None
                got = wave_levels(apply_augmentation(base, codec.sample_rate, augs[a])[: rec.channels], codec.hop, rec.frames[a])
                if got.shape != (n,):
                    return None
            parts.append(got.astype(np.float32, copy=False))
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def _concat_shards(
    out: Path, records: list[FileRecord], aug_keys: list[str], codec: Codec, sums: dict[str, Any]
) -> tuple[np.ndarray, dict[str, Any], list[tuple[FileRecord, int]]]:
    """Concatenate every record's shards into latents ``[N, dim]`` (file, aug, channel, frame order).

    Every shard is read in full and checked (checksum, dtype, shape, finite values);
    sets each record's ``channels`` and ``frames``. Returns ``(latents, shard checksums,
    damaged)`` where ``damaged`` lists ``(record, aug id)`` of shards that failed (deleted).
    """
    lat_parts: list[np.ndarray] = []
    bad: list[tuple[FileRecord, int]] = []
    checksums: dict[str, Any] = {}
    for rec in records:
        rec.frames = []
        for a, akey in enumerate(aug_keys):
            name = rec.shards[akey]
            got = storage.read_shard(out, name, codec.dim, channels=rec.channels or None, checksum=sums.get(name))
            if got is None:
                bad.append((rec, a))
                rec.frames.append(0)
                continue
            shard, checksums[name] = got
            C, D, T = shard.shape
            rec.channels = int(C)
            rec.frames.append(int(T))
            lat_parts.append(shard.transpose(0, 2, 1).reshape(C * T, D))
    latents = np.concatenate(lat_parts).astype(np.float32, copy=False) if lat_parts and not bad else np.zeros((0, codec.dim), np.float32)
    return latents, checksums, bad
