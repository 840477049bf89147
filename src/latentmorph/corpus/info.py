"""A summary of an index for ``latentmorph info``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from latentmorph.corpus import storage
from latentmorph.corpus.augment import describe
from latentmorph.corpus.validate import IndexDamaged


def index_info(path: str | os.PathLike, *, verify: bool = False) -> dict[str, Any]:
    """Facts about an index without loading its latents.

    The manifest is checked in full and the data files' sizes against it (cheap).
    With ``verify`` every data file is also read and checked (SHA-256, dtypes, shapes,
    grain table, every shard); nothing is changed either way.

    Returns a dict with ``path, codec_spec, fingerprint, sample_rate, hop, dim,
    frame_rate, files, duration_seconds, grains, size_bytes, augmentations (labels),
    skipped [(path, reason)], updated, imported_from`` (and ``verified: True`` with ``verify``).

    Raises:
        CorpusError: not an index; ``index damaged: <file>: <what>`` for damage found.
    """
    path = Path(path)
    m = storage.read_manifest(path)
    storage.check_sizes(path, m)
    if verify:
        storage.read_arrays(path, m, mmap=True, verify=True)
        bad = storage.verify_shards(path, m)
        if bad:
            raise IndexDamaged(storage.shard_path(path, bad[0]), f"shard damaged ({len(bad)} of the index's shards); "
                               "re-run latentmorph index on the corpus to re-encode them")
    files = m["files"]
    duration = sum(f["num_samples"] / f["sample_rate"] for f in files if f.get("sample_rate"))
    return {
        "path": str(path),
        "codec_spec": m["codec_spec"],
        "fingerprint": m["fingerprint"],
        "sample_rate": int(m["sample_rate"]),
        "hop": int(m["hop"]),
        "dim": int(m["dim"]),
        "frame_rate": int(m["sample_rate"]) / int(m["hop"]),
        "files": len(files),
        "duration_seconds": float(duration),
        "grains": int(m.get("num_grains", 0)),
        "size_bytes": storage.disk_size(path),
        "augmentations": [describe(a) for a in m["augmentations"]],
        "skipped": [(s["path"], s["reason"]) for s in m.get("skipped", [])],
        "updated": m.get("updated", ""),
        "imported_from": m.get("imported_from"),
        **({"verified": True} if verify else {}),
    }


def format_info(info: dict[str, Any]) -> str:
    """Human-readable lines for the CLI."""
    mins = info["duration_seconds"] / 60
    size = info["size_bytes"] / 1e6
    lines = [
        f"index:         {info['path']}",
        f"codec:         {info['codec_spec']} ({info['fingerprint']}), {info['sample_rate']} Hz, hop {info['hop']}, dim {info['dim']}, {info['frame_rate']:.2f} frames/s",
        f"files:         {info['files']} ({mins:.1f} min of audio)",
        f"grains:        {info['grains']} (latent frames x channels x augmentations)",
        f"augmentation:  {', '.join(info['augmentations'])}",
        f"size on disk:  {size:.1f} MB",
        f"updated:       {info['updated']}" + (f" (imported from {info['imported_from']})" if info.get("imported_from") else ""),
        f"skipped files: {len(info['skipped'])}",
    ]
    lines += [f"  {p}: {r}" for p, r in info["skipped"]]
    if info.get("verified"):
        lines.append("verified:      every data file read and checked: intact")
    return "\n".join(lines)
