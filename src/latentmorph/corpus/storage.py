"""The on-disk format of an index: a folder ``NAME.lmindex/``.

::

    NAME.lmindex/
      manifest.json          codec, sample rate, hop, dim, files, augmentations, skipped,
                             and the names of the current latents/grains files
      latents-<gen>.npy      [N, dim] float32, every grain of every file (one load, or mmap)
      grains-<gen>.npz       grain table columns (file_id, channel, frame, start, aug)
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
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from latentmorph.atomic import atomic_path, atomic_write_bytes
from latentmorph.errors import CorpusError

FORMAT = "latentmorph-index"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SHARDS = "shards"


def manifest_path(index_dir: Path) -> Path:
    return Path(index_dir) / MANIFEST


def shard_name(sha256: str, aug_key: str, fingerprint: str) -> str:
    """File name of the shard for one content hash, augmentation and codec."""
    return f"{sha256[:32]}.{aug_key}.{fingerprint}.npy"


def shard_path(index_dir: Path, name: str) -> Path:
    return Path(index_dir) / SHARDS / name


def write_shard(index_dir: Path, name: str, latents: np.ndarray) -> None:
    """Atomically save one file's latents ``[channels, dim, frames]``."""
    path = shard_path(index_dir, name)
    with atomic_path(path) as tmp:
        np.save(tmp, np.ascontiguousarray(latents, dtype=np.float32))


def read_shard(index_dir: Path, name: str, dim: int) -> np.ndarray | None:
    """Load a shard, or ``None`` when it is missing or damaged (it will be re-encoded)."""
    path = shard_path(index_dir, name)
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    if arr.ndim != 3 or arr.shape[1] != dim or arr.dtype != np.float32 or not np.isfinite(arr).all():
        return None
    return arr


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
        manifest = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise CorpusError(f"{path}: corrupt index manifest ({type(err).__name__})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CorpusError(f"{path}: not a latentmorph index manifest")
    if int(manifest.get("version", 0)) > FORMAT_VERSION:
        raise CorpusError(f"{path}: index format {manifest.get('version')} is newer than this latentmorph understands ({FORMAT_VERSION}); upgrade")
    for key in ("codec_spec", "fingerprint", "sample_rate", "hop", "dim", "files", "latents", "grains", "augmentations"):
        if key not in manifest:
            raise CorpusError(f"{path}: corrupt index manifest (missing {key!r})")
    return manifest


def write_manifest(index_dir: Path, manifest: dict[str, Any]) -> None:
    atomic_write_bytes(manifest_path(index_dir), json.dumps(manifest, indent=1).encode())


def new_generation() -> str:
    return uuid.uuid4().hex[:12]


def write_arrays(index_dir: Path, gen: str, latents: np.ndarray, grains: dict[str, np.ndarray]) -> tuple[str, str]:
    """Write one generation of the consolidated arrays; returns their file names."""
    lat_name, grain_name = f"latents-{gen}.npy", f"grains-{gen}.npz"
    with atomic_path(Path(index_dir) / lat_name) as tmp:
        np.save(tmp, np.ascontiguousarray(latents, dtype=np.float32))
    with atomic_path(Path(index_dir) / grain_name) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **grains)
    return lat_name, grain_name


def read_arrays(index_dir: Path, manifest: dict[str, Any], mmap: bool = False) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Load the latents ``[N, dim]`` and grain columns the manifest points to."""
    index_dir = Path(index_dir)
    lat_path = index_dir / manifest["latents"]
    grain_path = index_dir / manifest["grains"]
    try:
        latents = np.load(lat_path, mmap_mode="r" if mmap else None, allow_pickle=False)
        with np.load(grain_path, allow_pickle=False) as z:
            grains = {k: z[k] for k in z.files}
    except FileNotFoundError as err:
        raise CorpusError(f"{index_dir}: index is incomplete ({Path(err.filename or '?').name} missing); re-run latentmorph index") from None
    except (OSError, ValueError, EOFError) as err:
        raise CorpusError(f"{index_dir}: index data is corrupt ({type(err).__name__}); re-run latentmorph index with --rebuild") from None
    n = int(manifest.get("num_grains", latents.shape[0]))
    if latents.ndim != 2 or latents.shape != (n, int(manifest["dim"])) or any(len(v) != n for v in grains.values()):
        raise CorpusError(f"{index_dir}: index data is corrupt (array shapes disagree with {MANIFEST}); re-run with --rebuild")
    return latents, grains


def clean_unused(index_dir: Path, manifest: dict[str, Any]) -> None:
    """Delete generations and shards the manifest no longer refers to (after a successful swap)."""
    index_dir = Path(index_dir)
    keep = {manifest["latents"], manifest["grains"]}
    for p in index_dir.iterdir():
        if p.is_file() and (p.name.startswith("latents-") or p.name.startswith("grains-")) and p.name not in keep:
            _unlink(p)
        elif p.is_file() and p.name.startswith("ann-") and not p.name.startswith("ann-" + Path(manifest["latents"]).stem[8:] + "-"):
            _unlink(p)  # FAISS cache of an older generation
        elif p.is_file() and p.name.startswith(".") and ".tmp" in p.name:
            _unlink(p)  # temp file left by a killed run
    shard_dir = index_dir / SHARDS
    if shard_dir.is_dir():
        used = {name for rec in manifest["files"] for name in rec.get("shards", {}).values()}
        for p in shard_dir.iterdir():
            if p.name not in used:
                _unlink(p)


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
