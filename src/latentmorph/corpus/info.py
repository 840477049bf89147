"""A summary of an index for ``latentmorph info``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from latentmorph.corpus import storage
from latentmorph.corpus.augment import describe


def index_info(path: str | os.PathLike) -> dict[str, Any]:
    """Facts about an index without loading its latents.

    Returns a dict with ``path, codec_spec, fingerprint, sample_rate, hop, dim,
    frame_rate, files, duration_seconds, grains, size_bytes, augmentations (labels),
    skipped [(path, reason)], updated, imported_from``.
    """
    path = Path(path)
    m = storage.read_manifest(path)
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
    return "\n".join(lines)
