"""The on-disk format of an index: a folder ``NAME.lmindex/``.

::

    NAME.lmindex/
      .latentmorph-index     marker: this folder is an index we may write and clean
      manifest.json          codec, sample rate, hop, dim, files, augmentations, skipped,
                             the names of the current latents/grains files, and the size
                             and SHA-256 of every data file (``checksums``)
      latents-<gen>.npy      [N, dim] float32, every grain of every file (one load, or mmap)
      grains-<gen>.npz       grain table columns (file_id, channel, frame, start, aug) and
                             ``level``: [N] float32 dB of each grain's own audio
                             (optional: older indexes lack it and still load)
      shards/<sha>.<aug>.<codec>.npy
                             [channels, dim, frames] latents of one file content, one
                             augmentation, one codec: the unit of incremental work
      ann-<gen>-<metric>-<ivf|hnsw>.faiss
                             optional cache of an approximate-search index for that generation
      .lock                  advisory write lock (see lock.py)

Writes are ordered so that an interruption at any point leaves a usable index:
shards and the new ``latents``/``grains`` generation are written (atomically) first,
``manifest.json`` is replaced atomically last, and only then are the previous
generation and unused shards deleted. A run killed before the manifest swap leaves
the old index intact, and its finished shards are found again by content hash on the
next run (resume). Shard names depend on file *content*, not path, so a moved or
renamed file is not re-encoded.

We only ever write into, or delete from, a folder that is verifiably an index
(:func:`claim_folder`), and we only delete names :func:`our_kind` recognises that the
manifest does not refer to. Every name and value read back is checked by
:mod:`latentmorph.corpus.validate`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import uuid
from pathlib import Path
from typing import Any, Iterable, cast

import numpy as np

from latentmorph.atomic import atomic_path, atomic_write_bytes, clean_stale_temps, is_stale_temp, temp_target
from latentmorph.corpus import validate
from latentmorph.corpus.augment import augment_key
from latentmorph.corpus.validate import IndexDamaged
from latentmorph.errors import CorpusError

FORMAT = "latentmorph-index"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MARKER = ".latentmorph-index"
MARKER_TEXT = b"latentmorph index folder: written and cleaned by latentmorph; see manifest.json\n"
LOCK = ".lock"
SHARDS = "shards"

shard_name = validate.shard_name


class NotAnIndex(CorpusError):
    """An output folder that exists but is not verifiably a latentmorph index."""


def manifest_path(index_dir: Path) -> Path:
    return Path(index_dir) / MANIFEST


def shard_path(index_dir: Path, name: str) -> Path:
    return Path(index_dir) / SHARDS / validate.check_name(name, "shard", Path(index_dir) / MANIFEST)


# ---- which folders and names are ours ----------------------------------------------
def our_kind(name: str) -> str | None:
    """What a top-level entry of an index folder is, if our format creates that name."""
    if name in (MANIFEST, MARKER, LOCK, SHARDS):
        return name
    for kind in ("latents", "grains", "ann"):
        if validate.is_our_name(name, kind):
            return kind
    if temp_target(name) is not None:
        return "temp"
    return None


def is_index_folder(index_dir: Path) -> bool:
    """A folder we may write into: it has our marker, or (made by an older version) a
    manifest of our format, or it is empty / holds only a lock (a stub left by a failed
    first build)."""
    d = Path(index_dir)
    if not d.is_dir():
        return False
    if (d / MARKER).is_file():
        return True
    try:
        names = set(os.listdir(d))
    except OSError:
        return False
    if names <= {LOCK}:
        return True
    try:
        raw = json.loads((d / MANIFEST).read_bytes())
        return isinstance(raw, dict) and raw.get("format") == FORMAT
    except (OSError, ValueError):
        return False


def _overlaps(out: Path, inputs: Iterable[str | os.PathLike]) -> str | None:
    o = out.resolve()
    o_str = str(o)
    parents = {str(p) for p in o.parents}
    for p in inputs:
        try:
            q = os.path.realpath(p)
        except (OSError, RuntimeError, ValueError):
            continue
        if q == o_str:
            return f"is the corpus folder {p}"
        if q in parents:
            return f"is inside the corpus folder {p}"
        if q.startswith(o_str.rstrip(os.sep) + os.sep):
            return f"contains the corpus input {p}"
    return None


def claim_folder(index_dir: Path, inputs: Iterable[str | os.PathLike] = ()) -> bool:
    """Check that ``index_dir`` may be written, before any work; create it when new.

    Refuses (without touching anything) a path that is a file, a folder that is not an
    index, a folder that is, contains or is inside a corpus input, and a folder we
    cannot write. Returns ``True`` when the folder was created by this call.
    """
    d = Path(index_dir)
    check_output_folder(d, inputs)
    created = False
    if not d.is_dir():
        try:
            d.mkdir(parents=True)
        except OSError as err:
            raise CorpusError(f"{d}: cannot create the index folder ({err.strerror})") from None
        created = True
    ensure_marker(d)
    return created


def check_output_folder(index_dir: Path, inputs: Iterable[str | os.PathLike] = ()) -> None:
    """Refuse, touching nothing, an index output we must not write (see :func:`claim_folder`)."""
    d = Path(index_dir)
    why = _overlaps(d, inputs)
    if why:
        raise CorpusError(f"{d}: the index folder {why}; choose an output outside the corpus (e.g. ~/Indexes/NAME.lmindex)")
    if d.exists() and not d.is_dir():
        raise CorpusError(f"{d}: exists and is not an index folder; choose another name (e.g. NAME.lmindex)")
    if d.is_dir():
        if not is_index_folder(d):
            raise NotAnIndex(f"{d}: folder exists and is not a latentmorph index (no {MARKER} marker); "
                              "nothing was changed: choose a new output name")
        if not os.access(d, os.W_OK | os.X_OK) or ((d / SHARDS).is_dir() and not os.access(d / SHARDS, os.W_OK | os.X_OK)):
            raise CorpusError(f"{d}: index folder is read-only; cannot update it (copy it, or fix its permissions)")
    else:
        parent = d.parent if str(d.parent) else Path(".")
        probe = parent
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        if not os.access(probe, os.W_OK | os.X_OK):
            raise CorpusError(f"{d}: cannot create the index here ({probe} is not writable)")


def ensure_marker(index_dir: Path) -> None:
    """Write the marker file into a folder already known to be ours."""
    d = Path(index_dir)
    if not (d / MARKER).exists():
        try:
            atomic_write_bytes(d / MARKER, MARKER_TEXT, clean=False)
        except OSError as err:
            raise CorpusError(f"{d}: cannot write to the index folder ({err.strerror})") from None


def remove_stub(index_dir: Path) -> bool:
    """Remove a folder left by a failed first build when it holds nothing of value.

    Only our marker, lock, stale temps and an empty ``shards/`` may be there; finished
    shards are kept (the next run resumes from them). Returns ``True`` if removed.
    """
    d = Path(index_dir)
    try:
        names = os.listdir(d)
    except OSError:
        return False
    if MANIFEST in names:
        return False
    for n in names:
        k = our_kind(n)
        if k in (MARKER, LOCK) or (k == "temp" and is_stale_temp(d / n)):
            continue
        if k == SHARDS and (d / n).is_dir() and not (d / n).is_symlink():
            clean_stale_temps(d / n)
            if not os.listdir(d / n):
                continue
        return False
    for n in names:
        p = d / n
        try:
            p.rmdir() if n == SHARDS else p.unlink()
        except OSError:
            return False
    try:
        d.rmdir()
    except OSError:
        return False
    return True


def remove_index(index_dir: Path) -> None:
    """Delete an index folder we own, name by name (a derived cache being rebuilt).

    Only names our format creates are deleted; the folder itself goes only if that
    leaves it empty.
    """
    d = Path(index_dir)
    if not d.is_dir() or d.is_symlink():
        return
    shard_dir = d / SHARDS
    if shard_dir.is_dir() and not shard_dir.is_symlink():
        for e in os.scandir(shard_dir):
            if validate.is_our_name(e.name, "shard") or temp_target(e.name):
                _unlink(Path(e.path))
        _rmdir(shard_dir)
    for e in os.scandir(d):
        if our_kind(e.name) not in (None, SHARDS):
            _unlink(Path(e.path))
    _rmdir(d)


# ---- manifest ------------------------------------------------------------------------
def read_manifest(index_dir: Path) -> dict[str, Any]:
    """Read and check ``manifest.json``; one-line :class:`CorpusError` on any problem."""
    index_dir = Path(index_dir)
    if not index_dir.exists():
        raise CorpusError(f"{index_dir}: index not found")
    if not index_dir.is_dir():
        raise CorpusError(f"{index_dir}: not a latentmorph index (expected a NAME.lmindex folder)")
    path = manifest_path(index_dir)
    if not path.exists():
        raise CorpusError(f"{index_dir}: not a latentmorph index (no {MANIFEST}; was indexing interrupted before it finished once?)")
    try:
        manifest = json.loads(path.read_bytes())
    except OSError as err:
        raise CorpusError(f"{path}: cannot be read ({err.strerror})") from None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise IndexDamaged(path, "manifest is not valid JSON") from None
    return validate.check_manifest(manifest, path, fmt=FORMAT, version=FORMAT_VERSION)


def write_manifest(index_dir: Path, manifest: dict[str, Any]) -> None:
    atomic_write_bytes(manifest_path(index_dir), json.dumps(manifest, indent=1).encode(), clean=False)


def new_generation() -> str:
    return uuid.uuid4().hex[:12]


# ---- data files ----------------------------------------------------------------------
def _checksum(path: Path) -> list[Any]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
            size += len(block)
    return [size, h.hexdigest()]


def write_shard(index_dir: Path, name: str, latents: np.ndarray) -> list[Any]:
    """Atomically save one file's latents ``[channels, dim, frames]``; returns ``[size, sha256]``."""
    path = shard_path(index_dir, name)
    with atomic_path(path, clean=False) as tmp:
        np.save(tmp, np.ascontiguousarray(latents, dtype=np.float32))
        sums = _checksum(tmp)
    return sums


def shard_looks_intact(index_dir: Path, name: str, checksums: dict[str, Any]) -> bool:
    """Cheap check (one ``stat``): the shard exists and has the size the manifest recorded."""
    try:
        st = shard_path(index_dir, name).stat()
    except OSError:
        return False
    want = checksums.get(name)
    return want is None or st.st_size == want[0]


def read_shard(index_dir: Path, name: str, dim: int, *, channels: int | None = None,
               frames: int | None = None, checksum: list[Any] | None = None,
               delete_damaged: bool = True) -> tuple[np.ndarray, list[Any]] | None:
    """Load and check a shard; ``(latents, [size, sha256])``, or ``None`` when missing or
    damaged (a damaged shard is deleted unless ``delete_damaged=False``: it will be re-encoded)."""
    path = shard_path(index_dir, name)
    try:
        data = path.read_bytes()
    except OSError:
        return None
    sums = [len(data), hashlib.sha256(data).hexdigest()]
    try:
        if checksum is not None and list(checksum) != sums:
            raise IndexDamaged(path, "checksum mismatch")
        arr = np.load(io.BytesIO(data), allow_pickle=False)
        validate.check_shard(arr, dim, path, channels, frames)
    except (IndexDamaged, OSError, ValueError, EOFError):
        if delete_damaged:
            _unlink(path)
        return None
    return arr, sums


def write_arrays(index_dir: Path, gen: str, latents: np.ndarray, grains: dict[str, np.ndarray]) -> tuple[str, str, dict[str, list[Any]]]:
    """Write one generation of the consolidated arrays; returns their names and checksums.

    ``grains`` holds the integer columns and, optionally, ``level`` ``[N]`` float32.
    """
    lat_name, grain_name = f"latents-{gen}.npy", f"grains-{gen}.npz"
    sums: dict[str, list[Any]] = {}
    with atomic_path(Path(index_dir) / lat_name, clean=False) as tmp:
        np.save(tmp, np.ascontiguousarray(latents, dtype=np.float32))
        sums[lat_name] = _checksum(tmp)
    with atomic_path(Path(index_dir) / grain_name, clean=False) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **cast("dict[str, Any]", grains))  # cast: numpy's stub types **kwds like allow_pickle
        sums[grain_name] = _checksum(tmp)
    return lat_name, grain_name, sums


def read_arrays(index_dir: Path, manifest: dict[str, Any], mmap: bool = False, *,
                verify: bool = False) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Load and check the latents ``[N, dim]`` and grain columns the manifest points to.

    Always: sizes against the manifest's checksums (one ``stat`` each), dtypes, shapes,
    finite values and every grain-table value against the records. With ``verify`` also
    the SHA-256 of both files.
    """
    index_dir = Path(index_dir)
    check_sizes(index_dir, manifest, verify=verify)
    arrays: list[Any] = []
    for key in ("latents", "grains"):
        path = index_dir / manifest[key]
        try:
            if key == "latents":
                arrays.append(np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False))
            else:
                with np.load(path, allow_pickle=False) as z:
                    if not isinstance(z, np.lib.npyio.NpzFile):
                        raise ValueError("not an npz archive")
                    validate.check_npz_members(z, path, path.stat().st_size)
                    arrays.append({k: z[k] for k in z.files if k in validate.GRAIN_DTYPES or k == validate.LEVEL_KEY})
        except IndexDamaged:
            raise
        except Exception as err:  # noqa: BLE001 - numpy/zipfile raise many kinds on hostile bytes
            raise IndexDamaged(path, f"unreadable ({type(err).__name__})") from None
    latents, cols = validate.check_arrays(arrays[0], arrays[1], manifest, index_dir / manifest["grains"])
    return latents, cols


def check_sizes(index_dir: Path, manifest: dict[str, Any], *, verify: bool = False) -> None:
    """The latents and grains files exist with the sizes the manifest recorded (one ``stat``
    each); with ``verify`` also their SHA-256. Raises :class:`IndexDamaged`."""
    sums = manifest.get("checksums", {})
    for key in ("latents", "grains"):
        path = Path(index_dir) / manifest[key]
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise IndexDamaged(path, "file is missing") from None
        except OSError as err:
            raise CorpusError(f"{path}: cannot be read ({err.strerror})") from None
        want = sums.get(manifest[key])
        if want is not None and size != want[0]:
            raise IndexDamaged(path, f"file is {size} bytes, the manifest recorded {want[0]} (truncated or replaced)")
        if verify and want is not None and _checksum(path) != list(want):
            raise IndexDamaged(path, "SHA-256 differs from the manifest (file corrupted)")


def verify_shards(index_dir: Path, manifest: dict[str, Any]) -> list[str]:
    """Full check of every shard the manifest names (read only); returns the damaged names."""
    bad: list[str] = []
    keys = [augment_key(a) for a in manifest["augmentations"]]
    sums = manifest.get("checksums", {})
    for rec in manifest["files"]:
        for a, key in enumerate(keys):
            name = rec["shards"][key]
            got = read_shard(index_dir, name, int(manifest["dim"]), channels=rec["channels"],
                             frames=rec["frames"][a], checksum=sums.get(name), delete_damaged=False)
            if got is None:
                bad.append(name)
    return bad


def clean_unused(index_dir: Path, manifest: dict[str, Any]) -> None:
    """Delete what our format wrote that the manifest no longer refers to (after a swap,
    under the lock): older generations, FAISS caches of them, unused shards, stale temps.
    Anything else in the folder is left alone."""
    index_dir = Path(index_dir)
    keep = {manifest["latents"], manifest["grains"]}
    gen = manifest["latents"][len("latents-"):-len(".npy")]
    for e in os.scandir(index_dir):
        kind = our_kind(e.name)
        if kind in ("latents", "grains") and e.name not in keep and e.is_file(follow_symlinks=False):
            _unlink(Path(e.path))
        elif kind == "ann" and not e.name.startswith(f"ann-{gen}-") and e.is_file(follow_symlinks=False):
            _unlink(Path(e.path))  # FAISS cache of an older generation
    clean_stale_temps(index_dir)
    shard_dir = index_dir / SHARDS
    if shard_dir.is_dir() and not shard_dir.is_symlink():
        used = {name for rec in manifest["files"] for name in rec.get("shards", {}).values()}
        for e in os.scandir(shard_dir):
            if validate.is_our_name(e.name, "shard") and e.name not in used and e.is_file(follow_symlinks=False):
                _unlink(Path(e.path))
        clean_stale_temps(shard_dir)


def disk_size(index_dir: Path) -> int:
    """Bytes used by the index folder."""
    total = 0
    for root, _dirs, files in os.walk(index_dir):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return total


def _unlink(p: Path) -> None:
    try:
        p.unlink()
    except OSError:
        pass


def _rmdir(p: Path) -> None:
    try:
        p.rmdir()
    except OSError:
        pass
