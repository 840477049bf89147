"""Everything read back from an index or a pack is untrusted: the one place that checks it.

An index folder or a ``.lmpack`` may come from another machine, another person, a
crashed disk or an attacker. Before any value read from one is used as a file name,
an array index, a shape or a number, it passes through this module:

* :func:`check_name` -- a file name inside an index (shard, latents, grains, FAISS
  cache) must match the exact pattern our format writes: a content hash, no folder
  separators, no ``..``, never absolute. Shard names must also be the name our
  naming scheme gives that file's content hash, augmentation and codec.
* :func:`check_manifest` -- every manifest field has the right type and a sane range
  (``bool`` is not an ``int``, no NaN, no negative sizes), every record is complete.
* :func:`check_arrays` / :func:`check_shard` -- dtypes, shapes, finite latents, and a
  grain table that is exactly the layout the records describe (file ids, channels,
  frames and starts all in bounds).

A failure raises :class:`IndexDamaged`, a :class:`~latentmorph.errors.CorpusError`
whose one-line message reads ``index damaged: <file>: <what>``.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from latentmorph.corpus.augment import augment_key
from latentmorph.corpus.records import SKIP_KINDS
from latentmorph.errors import CorpusError

#: Largest values we accept from a file (far beyond any real index, small enough to stay safe).
MAX_SAMPLE_RATE = 768_000
MAX_HOP = 1 << 20
MAX_DIM = 1 << 16
MAX_CHANNELS = 256
MAX_SEMITONES = 48.0
MAX_GAIN_DB = 96.0
#: Largest latent magnitude accepted: far above any codec's, small enough that squared
#: norms and dot products of ``dim`` values cannot overflow float32 in search.
MAX_LATENT_ABS = 1e8

_HEX32 = "[0-9a-f]{32}"
_AUG = "(?:orig|[0-9a-f]{10})"
_FINGERPRINT = r"[A-Za-z0-9_+]+(?:-[A-Za-z0-9_+]+)*-[0-9a-f]{16}"
_GEN = "[0-9a-f]{12}"

#: The exact names our format creates, per kind.
NAME_PATTERNS: dict[str, re.Pattern[str]] = {
    "shard": re.compile(rf"{_HEX32}\.{_AUG}\.{_FINGERPRINT}\.npy"),
    "latents": re.compile(rf"latents-{_GEN}\.npy"),
    "grains": re.compile(rf"grains-{_GEN}\.npz"),
    "ann": re.compile(rf"ann-{_GEN}-(?:cosine|l2|dot)-(?:ivf|hnsw)\.faiss"),
}
FINGERPRINT_RE = re.compile(_FINGERPRINT)
SHA256_RE = re.compile("[0-9a-f]{64}")


class IndexDamaged(CorpusError):
    """An index or pack file holds something our writer never produces."""

    def __init__(self, file: str | Path, what: str) -> None:
        self.file = str(file)
        self.what = what
        super().__init__(f"index damaged: {file}: {what}")


def is_our_name(name: str, kind: str) -> bool:
    """Whether ``name`` is exactly a name of ``kind`` (see :data:`NAME_PATTERNS`) our format writes."""
    return isinstance(name, str) and NAME_PATTERNS[kind].fullmatch(name) is not None


def check_name(name: Any, kind: str, file: str | Path) -> str:
    """Return ``name`` if it is a valid ``kind`` file name, else raise :class:`IndexDamaged`.

    The patterns allow only ``[0-9a-zA-Z_+.-]`` without leading dots, so a name that
    passes can never hold a separator, be absolute, or be ``..``.
    """
    if not is_our_name(name, kind):
        shown = repr(name)[:80]
        raise IndexDamaged(file, f"invalid {kind} file name {shown}")
    return name


# ---- scalar checks -------------------------------------------------------------------
def _int(value: Any, what: str, file: str | Path, lo: int | None = None, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise IndexDamaged(file, f"{what} must be an integer, got {type(value).__name__}")
    v = int(value)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise IndexDamaged(file, f"{what} = {v} is out of range [{lo}, {hi}]")
    return v


def _str(value: Any, what: str, file: str | Path, *, nonempty: bool = True) -> str:
    if not isinstance(value, str) or (nonempty and not value) or "\x00" in value:
        raise IndexDamaged(file, f"{what} must be a non-empty text, got {type(value).__name__}")
    try:
        value.encode("utf-8")  # our writer stores only UTF-8 (odd file names are skipped, shown escaped)
    except UnicodeEncodeError:
        raise IndexDamaged(file, f"{what} is not valid UTF-8 text") from None
    return value


def _float(value: Any, what: str, file: str | Path, limit: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or abs(value) > limit:
        raise IndexDamaged(file, f"{what} must be a finite number within ±{limit:g}, got {value!r}"[:160])
    return float(value)


def _get(d: Mapping[str, Any], key: str, what: str, file: str | Path) -> Any:
    if key not in d:
        raise IndexDamaged(file, f"{what} has no {key!r}")
    return d[key]


# ---- manifest ------------------------------------------------------------------------
def check_augmentations(augs: Any, file: str | Path) -> list[dict[str, Any]]:
    """A list of augmentation dicts, ``{"kind": "original"}`` first, each with finite values."""
    if not isinstance(augs, list) or not augs:
        raise IndexDamaged(file, "augmentations must be a non-empty list")
    out: list[dict[str, Any]] = []
    for i, a in enumerate(augs):
        if not isinstance(a, dict):
            raise IndexDamaged(file, f"augmentation {i} must be an object")
        kind = a.get("kind")
        if i == 0 and kind != "original":
            raise IndexDamaged(file, "augmentation 0 must be the original")
        if kind == "original" and i == 0:
            out.append({"kind": "original"})
        elif kind == "pitch":
            out.append({"kind": "pitch", "semitones": _float(a.get("semitones"), f"augmentation {i} semitones", file, MAX_SEMITONES)})
        elif kind == "gain":
            out.append({"kind": "gain", "db": _float(a.get("db"), f"augmentation {i} db", file, MAX_GAIN_DB)})
        else:
            raise IndexDamaged(file, f"augmentation {i} has unknown kind {str(kind)[:40]!r}")
    keys = [augment_key(a) for a in out]
    if len(set(keys)) != len(keys):
        raise IndexDamaged(file, "augmentations repeat")
    return out


def check_record(rec: Any, i: int, aug_keys: list[str], fingerprint: str, file: str | Path) -> dict[str, Any]:
    """One ``files[i]`` entry; its shard names must be the ones our scheme derives."""
    what = f"files[{i}]"
    if not isinstance(rec, dict):
        raise IndexDamaged(file, f"{what} must be an object")
    out = {
        "path": _str(_get(rec, "path", what, file), f"{what}.path", file),
        "size": _int(_get(rec, "size", what, file), f"{what}.size", file, -1),
        "mtime_ns": _int(_get(rec, "mtime_ns", what, file), f"{what}.mtime_ns", file),
        "sample_rate": _int(_get(rec, "sample_rate", what, file), f"{what}.sample_rate", file, 0, MAX_SAMPLE_RATE),
        "channels": _int(_get(rec, "channels", what, file), f"{what}.channels", file, 0, MAX_CHANNELS),
        "num_samples": _int(_get(rec, "num_samples", what, file), f"{what}.num_samples", file, 0),
    }
    sha = _get(rec, "sha256", what, file)
    if not isinstance(sha, str) or not SHA256_RE.fullmatch(sha):
        raise IndexDamaged(file, f"{what}.sha256 is not a SHA-256 hex digest")
    out["sha256"] = sha
    shards = rec.get("shards", {})
    if not isinstance(shards, dict):
        raise IndexDamaged(file, f"{what}.shards must be an object")
    for key, name in shards.items():
        if key not in aug_keys:
            raise IndexDamaged(file, f"{what}.shards has an unknown augmentation {str(key)[:40]!r}")
        check_name(name, "shard", file)
        if name != shard_name(sha, key, fingerprint):
            raise IndexDamaged(file, f"{what}.shards[{key!r}] = {name!r} does not match the file's content hash and codec")
    out["shards"] = dict(shards)
    frames = rec.get("frames", [])
    if not isinstance(frames, list) or (frames and len(frames) != len(aug_keys)):
        raise IndexDamaged(file, f"{what}.frames must list one frame count per augmentation")
    out["frames"] = [_int(f, f"{what}.frames", file, 0) for f in frames]
    return out


def shard_name(sha256: str, aug_key: str, fingerprint: str) -> str:
    """File name of the shard for one content hash, augmentation and codec (the naming scheme)."""
    return f"{sha256[:32]}.{aug_key}.{fingerprint}.npy"


def check_manifest(manifest: Any, file: str | Path, *, fmt: str, version: int, complete: bool = True) -> dict[str, Any]:
    """Check a manifest read from ``file``; returns it with its values normalised.

    Args:
        fmt: the ``format`` value expected (index or pack).
        version: the newest format version this code reads.
        complete: every record must have all its shards and frame counts (a finished
            index, or a pack), as opposed to a record still being built.

    Raises:
        CorpusError: not our format, or a newer version (``not a latentmorph ...``).
        IndexDamaged: any field missing, of the wrong type or out of range.
    """
    if not isinstance(manifest, dict) or manifest.get("format") != fmt:
        raise CorpusError(f"{file}: not a {fmt} manifest")
    v = _int(manifest.get("version", 1), "version", file, 1)
    if v > version:
        raise CorpusError(f"{file}: format version {v} is newer than this latentmorph understands ({version}); upgrade")
    m = dict(manifest)
    m["version"] = v
    for key in ("codec_spec", "fingerprint", "sample_rate", "hop", "dim", "files", "latents", "grains", "augmentations"):
        _get(m, key, "manifest", file)
    m["codec_spec"] = _str(m["codec_spec"], "codec_spec", file)
    if "codec" in m:
        m["codec"] = _str(m["codec"], "codec", file)
    fp = m["fingerprint"]
    if not isinstance(fp, str) or not FINGERPRINT_RE.fullmatch(fp):
        raise IndexDamaged(file, "fingerprint is not a codec fingerprint")
    m["sample_rate"] = _int(m["sample_rate"], "sample_rate", file, 1, MAX_SAMPLE_RATE)
    m["hop"] = _int(m["hop"], "hop", file, 1, MAX_HOP)
    m["dim"] = _int(m["dim"], "dim", file, 1, MAX_DIM)
    if "num_grains" in m:
        m["num_grains"] = _int(m["num_grains"], "num_grains", file, 0)
    m["latents"] = check_name(m["latents"], "latents", file)
    m["grains"] = check_name(m["grains"], "grains", file)
    m["augmentations"] = check_augmentations(m["augmentations"], file)
    keys = [augment_key(a) for a in m["augmentations"]]
    if not isinstance(m["files"], list):
        raise IndexDamaged(file, "files must be a list")
    m["files"] = [check_record(r, i, keys, fp, file) for i, r in enumerate(m["files"])]
    paths = [r["path"] for r in m["files"]]
    if len(set(paths)) != len(paths):
        raise IndexDamaged(file, "files lists the same path twice")
    if complete:
        for i, r in enumerate(m["files"]):
            if set(r["shards"]) != set(keys) or len(r["frames"]) != len(keys) or r["channels"] < 1:
                raise IndexDamaged(file, f"files[{i}] lacks shards, frame counts or channels for its augmentations")
    skipped = m.get("skipped", [])
    if not isinstance(skipped, list):
        raise IndexDamaged(file, "skipped must be a list")
    for i, s in enumerate(skipped):
        if not isinstance(s, dict):
            raise IndexDamaged(file, f"skipped[{i}] must be an object")
        _str(s.get("path"), f"skipped[{i}].path", file)
        _str(s.get("reason"), f"skipped[{i}].reason", file, nonempty=False)
        _int(s.get("size", -1), f"skipped[{i}].size", file)
        _int(s.get("mtime_ns", -1), f"skipped[{i}].mtime_ns", file)
        if "kind" in s and s["kind"] not in SKIP_KINDS:
            raise IndexDamaged(file, f"skipped[{i}].kind must be one of {', '.join(SKIP_KINDS)}")
    m["skipped"] = skipped
    sums = m.get("checksums", {})
    if not isinstance(sums, dict):
        raise IndexDamaged(file, "checksums must be an object")
    for name, entry in sums.items():
        if not any(is_our_name(name, k) for k in ("shard", "latents", "grains")):
            check_name(name, "shard", file)
        if (not isinstance(entry, list) or len(entry) != 2 or not isinstance(entry[1], str)
                or not SHA256_RE.fullmatch(entry[1])):
            raise IndexDamaged(file, f"checksums[{name!r}] must be [size, sha256]")
        _int(entry[0], f"checksums[{name!r}] size", file, 0)
    for key in ("updated", "imported_from", "root"):
        if key in m and m[key] is not None and not isinstance(m[key], str):
            raise IndexDamaged(file, f"{key} must be text")
    return m


# ---- arrays --------------------------------------------------------------------------
#: dtype of each grain-table column (the writer's; readers accept any integer dtype that fits).
GRAIN_DTYPES: dict[str, type] = {"file_id": np.int32, "channel": np.int16, "frame": np.int32, "start": np.int64, "aug": np.int16}


#: Optional float32 member of the grain archive: each grain's level in dB (RMS of the grain's
#: own hop of audio at the codec rate, see :mod:`latentmorph.corpus.levels`). Indexes written
#: before it existed lack it; readers then measure levels from the audio.
LEVEL_KEY = "level"
#: Bounds of a stored level (dB); the writer floors at -100 dB, float audio may exceed 0 dBFS.
LEVEL_RANGE = (-200.0, 200.0)


def check_levels(levels: Any, rows: int, file: str | Path) -> np.ndarray:
    """``[rows]`` float32 grain levels, finite and within :data:`LEVEL_RANGE` dB."""
    if not isinstance(levels, np.ndarray) or levels.dtype != np.float32:
        raise IndexDamaged(file, f"grain levels must be float32, got {getattr(levels, 'dtype', type(levels).__name__)}")
    if levels.ndim != 1 or levels.shape[0] != rows:
        raise IndexDamaged(file, f"grain levels have shape {list(levels.shape)}, expected [{rows}]")
    lo, hi = LEVEL_RANGE
    if not bool(np.all((levels >= lo) & (levels <= hi))):  # NaN fails both comparisons
        raise IndexDamaged(file, f"grain levels contain NaN, Inf or values outside [{lo:g}, {hi:g}] dB")
    return levels


def check_latents(latents: Any, rows: int | None, dim: int, file: str | Path, block: int = 1 << 16) -> np.ndarray:
    """``[rows, dim]`` float32 with no NaN/Inf (checked in blocks, so a memory map stays cheap)."""
    if not isinstance(latents, np.ndarray) or latents.dtype != np.float32:
        raise IndexDamaged(file, f"latents must be float32, got {getattr(latents, 'dtype', type(latents).__name__)}")
    if latents.ndim != 2 or latents.shape[1] != dim or (rows is not None and latents.shape[0] != rows):
        raise IndexDamaged(file, f"latents have shape {list(latents.shape)}, expected [{rows if rows is not None else 'N'}, {dim}]")
    for s in range(0, latents.shape[0], block):
        if not _bounded(latents[s : s + block]):
            raise IndexDamaged(file, f"latents contain NaN, Inf or values beyond ±{MAX_LATENT_ABS:g}")
    return latents


def _bounded(a: np.ndarray) -> bool:
    """No NaN/Inf and no magnitude above :data:`MAX_LATENT_ABS` (NaN fails the comparison)."""
    return bool(np.all(np.abs(a) <= MAX_LATENT_ABS))


def expected_grains(files: list[dict[str, Any]], n_augs: int, hop: int) -> dict[str, np.ndarray]:
    """The grain table our writer produces for ``files`` (file-major, then augmentation,
    channel, frame): the only table a valid index can hold."""
    cols: dict[str, list[np.ndarray]] = {k: [] for k in GRAIN_DTYPES}
    for fid, rec in enumerate(files):
        C = int(rec["channels"])
        for a in range(n_augs):
            T = int(rec["frames"][a])
            frames = np.tile(np.arange(T, dtype=np.int64), C)
            cols["file_id"].append(np.full(C * T, fid, np.int64))
            cols["channel"].append(np.repeat(np.arange(C, dtype=np.int64), T))
            cols["frame"].append(frames)
            cols["start"].append(frames * hop)
            cols["aug"].append(np.full(C * T, a, np.int64))
    return {k: (np.concatenate(v) if v else np.zeros(0, np.int64)).astype(GRAIN_DTYPES[k]) for k, v in cols.items()}


def check_grains(grains: Mapping[str, Any], manifest: Mapping[str, Any], file: str | Path) -> dict[str, np.ndarray]:
    """Grain columns: 1-D integer arrays whose every value matches the manifest's records.

    File ids, channels, frames, starts and augmentation ids are compared with the
    layout :func:`expected_grains` derives from the records, so no value can point
    outside a file, a channel or the latents.
    """
    out: dict[str, np.ndarray] = {}
    for name in GRAIN_DTYPES:
        col = grains.get(name)
        if not isinstance(col, np.ndarray) or col.ndim != 1 or col.dtype.kind not in "iu":
            raise IndexDamaged(file, f"grain column {name!r} is missing or not a 1-D integer array")
        out[name] = col
    lengths = {len(c) for c in out.values()}
    if len(lengths) != 1:
        raise IndexDamaged(file, f"grain columns differ in length ({sorted(lengths)})")
    n_augs = len(manifest["augmentations"])
    total = sum(int(r["channels"]) * int(f) for r in manifest["files"] for f in r["frames"][:n_augs])
    if lengths != {total}:  # compared before building anything of that size
        raise IndexDamaged(file, f"grain table has {lengths.pop()} rows, the file records describe {total}")
    expect = expected_grains(manifest["files"], n_augs, int(manifest["hop"]))
    for name, col in out.items():
        if not np.array_equal(col, expect[name]):
            bad = int(np.flatnonzero(col != expect[name])[0])
            raise IndexDamaged(file, f"grain {bad}: {name} = {int(col[bad])} does not match the file records (expected {int(expect[name][bad])})")
    return expect


def check_arrays(latents: Any, grains: Mapping[str, Any], manifest: Mapping[str, Any], file: str | Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Latents and grain table of one generation against a checked manifest (grain levels too, when stored)."""
    cols = check_grains(grains, manifest, file)
    rows = len(cols["file_id"])
    if "num_grains" in manifest and int(manifest["num_grains"]) != rows:
        raise IndexDamaged(file, f"num_grains = {manifest['num_grains']} but the file records describe {rows} grains")
    if LEVEL_KEY in grains:
        cols[LEVEL_KEY] = check_levels(grains[LEVEL_KEY], rows, file)
    return check_latents(latents, rows, int(manifest["dim"]), file), cols


def check_npz_members(npz: Any, file: str | Path, archive_bytes: int) -> None:
    """Refuse an ``.npz`` whose members unpack to far more than the archive holds (we write
    uncompressed archives, so only a hostile file has a large compression ratio)."""
    limit = max(1 << 20, 4 * int(archive_bytes))
    for info in npz.zip.infolist():
        if info.file_size > limit:
            raise IndexDamaged(file, f"member {info.filename[:60]!r} unpacks to {info.file_size} bytes from a {archive_bytes}-byte file")


def check_shard(arr: Any, dim: int, file: str | Path, channels: int | None = None, frames: int | None = None) -> np.ndarray:
    """One shard ``[channels, dim, frames]`` float32, finite, of the expected size when known."""
    if not isinstance(arr, np.ndarray) or arr.dtype != np.float32 or arr.ndim != 3 or arr.shape[1] != dim:
        raise IndexDamaged(file, f"shard must be float32 [channels, {dim}, frames], got {getattr(arr, 'dtype', '?')} {list(getattr(arr, 'shape', []))}")
    if (channels is not None and arr.shape[0] != channels) or (frames is not None and arr.shape[2] != frames):
        raise IndexDamaged(file, f"shard shape {list(arr.shape)} does not match its record")
    if arr.shape[0] < 1 or not _bounded(arr):
        raise IndexDamaged(file, f"shard is empty or contains NaN, Inf or values beyond ±{MAX_LATENT_ABS:g}")
    return arr
