"""The JSON report: where every output frame came from, and how close the match was."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from latentmorph.atomic import atomic_write_bytes
from latentmorph.transfer.choices import KEEP_SOURCE


def report_dict(result, source_name: str = "source") -> dict[str, Any]:  # noqa: ANN001
    """A JSON-ready description of a :class:`~latentmorph.transfer.engine.TransferResult`.

    Layout::

        {"source": ..., "codec": ..., "frame_seconds": hop / codec rate, "settings": {...},
         "corpus_files": [paths], "channels": [{"frames": [
             {"time": s, "file": i or null (kept source), "file_time": s, "grain": id,
              "distance": d, "weights": [...] (blends only), "blend": [[file, file_time, w], ...]}
         ], "unique_grains": n, "kept_fraction": f, "mean_distance": d}]}
    """
    corp = result.corpus
    g = corp.grains
    fsec = result.hop / result.codec_sr
    files = [str(f.path) for f in corp.files]
    channels = []
    for ch in result.choices:
        frames = []
        for t in range(ch.frames):
            gid = int(ch.ids[t, 0])
            item: dict[str, Any] = {"time": round(t * fsec, 5), "distance": round(float(ch.distances[t]), 5)}
            if gid == KEEP_SOURCE:
                item.update(file=None, file_time=None, grain=None)
            else:
                item.update(file=int(g.file_id[gid]), file_time=round(int(g.start[gid]) / corp.sample_rate, 5), grain=gid)
                if int(g.aug[gid]):
                    item["aug"] = int(g.aug[gid])
            if ch.ids.shape[1] > 1:
                item["blend"] = [
                    [int(g.file_id[i]), round(int(g.start[i]) / corp.sample_rate, 5), round(float(w), 4)]
                    for i, w in zip(ch.ids[t], ch.weights[t]) if i >= 0 and w > 1e-4
                ]
            frames.append(item)
        used = ch.ids[:, 0][ch.ids[:, 0] >= 0]
        channels.append({
            "frames": frames,
            "unique_grains": int(np.unique(used).size),
            "kept_fraction": float(np.mean(ch.kept)) if ch.frames else 0.0,
            "mean_distance": float(np.mean(ch.distances)) if ch.frames else 0.0,
        })
    return {
        "source": source_name,
        "codec": result.codec_name,
        "codec_sample_rate": result.codec_sr,
        "frame_seconds": fsec,
        "output_sample_rate": result.out_sr,
        "settings": result.settings,
        "corpus_files": files,
        "channels": channels,
    }


def write_report(path: str | os.PathLike, result, source_name: str = "source") -> Path:  # noqa: ANN001
    """Write :func:`report_dict` as JSON (atomic)."""
    path = Path(path)
    from latentmorph.outputs import write_errors

    data = json.dumps(report_dict(result, source_name), indent=1).encode()
    with write_errors(path):
        atomic_write_bytes(path, data)
    return path
