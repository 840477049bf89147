"""File-level entry: load an output, its source and a corpus from disk, and save results as JSON."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import soundfile as sf

from latentmorph.atomic import atomic_write_bytes
from latentmorph.audio import find_audio_files, info, load, resolve_max_seconds
from latentmorph.errors import AudioError, CorpusError
from latentmorph.evaluate.report import evaluate


def load_output(path: str | os.PathLike, *, max_seconds: float | None = None) -> tuple[np.ndarray, int]:
    """Load an output file as ``([channels, samples], sr)`` *keeping* NaN/Inf samples.

    Unlike :func:`latentmorph.audio.load` a damaged output is not refused: reporting it is
    the point of evaluation. Missing, empty or unreadable files still raise :class:`AudioError`.
    """
    path = Path(path)
    sr, _, frames = info(path)
    limit = resolve_max_seconds(max_seconds)  # the default limit too (evaluate had none: 2 h took 15 GB)
    if frames <= 0:
        raise AudioError(f"{path}: contains no audio (zero samples)")
    if frames / sr > limit:
        raise AudioError(f"{path}: is {frames / sr:.0f} s long, over the {limit:.0f} s limit "
                         "(raise it with --max-seconds or LATENTMORPH_MAX_SECONDS)")
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as err:
        raise AudioError(f"{path}: audio data is corrupt ({str(err).strip()})") from None
    return np.ascontiguousarray(data.T), int(sr)


def evaluate_files(
    output: str | os.PathLike,
    source: str | os.PathLike,
    corpus: Sequence[str | os.PathLike] | None = None,
    *,
    index: str | os.PathLike | None = None,
    max_seconds: float | None = None,
    progress: bool = False,
) -> dict:
    """:func:`~latentmorph.evaluate.report.evaluate` on files; corpus entries may be folders.

    ``index`` (a ``.lmindex``) may stand for the corpus, or add to it: its files' audio is
    read back through the index. The result also names the files (``files``: ``output``,
    ``source``, ``corpus``).
    """
    out, out_sr = load_output(output, max_seconds=max_seconds)
    src, src_sr = load(source, max_seconds=max_seconds)
    items: list[tuple[np.ndarray, int]] = []
    corpus_files: list[Path] = []
    if corpus:
        corpus_files = find_audio_files(list(corpus))
        if not corpus_files:
            raise CorpusError(f"{', '.join(map(str, corpus))}: no audio files found in the corpus")
        items = [load(f, max_seconds=max_seconds, warn_silence=False) for f in corpus_files]
    if index is not None:
        from latentmorph.corpus import load_index

        idx = load_index(index)
        if not idx.files:
            raise CorpusError(f"{index}: the index holds no files")
        for i, rec in enumerate(idx.files):
            items.append((idx.file_audio(i), int(idx.sample_rate)))
            corpus_files.append(Path(rec.path))
    result = evaluate(out, out_sr, src, src_sr, items, progress=progress)
    result["files"] = {"output": str(output), "source": str(source), "corpus": [str(f) for f in corpus_files]}
    return result


def _plain(value: Any) -> Any:
    """JSON-ready copy: numpy scalars to Python, NaN/Inf to ``None``."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else None
    return value


def save_json(path: str | os.PathLike, result: dict) -> Path:
    """Write a result dict as indented JSON (NaN as ``null``), atomically."""
    path = Path(path)
    from latentmorph.outputs import write_errors

    data = (json.dumps(_plain(result), indent=2) + "\n").encode()
    with write_errors(path):
        atomic_write_bytes(path, data)
    return path
