"""Corpus augmentation: pitch-shifted and gain-scaled copies of every corpus file.

Latent granular tools widen a small corpus by indexing transposed and re-levelled
copies of it. Each copy is one *augmentation*, described by a small dict and given
an id (0 is always the original audio)::

    {"kind": "original"}
    {"kind": "pitch", "semitones": 12.0}   # varispeed: faster and higher, like tape
    {"kind": "gain", "db": -6.0}

Pitch shifting is done by resampling (soxr), so a +12 copy is half as long; grain
starts in the grain table refer to the augmented audio, which
:func:`apply_augmentation` rebuilds exactly from the original.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping, Sequence

import numpy as np

from latentmorph.audio.resample import resample
from latentmorph.errors import CorpusError
from latentmorph.numbers import OptionError, check_number

#: The augmentation spec accepted by :func:`parse_augment`: ``None``, a mapping
#: ``{"pitch": [semitones...], "gain_db": [dB...]}``, a string
#: ``"pitch=-12,12;gain_db=-6"``, or a list of augmentation dicts.
AugmentSpec = None | str | Mapping[str, Sequence[float]] | Sequence[Mapping[str, Any]]

ORIGINAL: dict[str, Any] = {"kind": "original"}


def _floats(values: Any, what: str) -> list[float]:
    if isinstance(values, (int, float)):
        values = [values]
    if isinstance(values, str):
        values = [v for v in values.replace(" ", "").split(",") if v]
    try:
        floats = [float(v) for v in values]
    except (TypeError, ValueError):
        raise CorpusError(f"augmentation: {what} must be numbers, got {values!r}") from None
    key = "pitch_shift" if what == "pitch" else "gain_db"
    try:
        return [float(check_number(key, v)) for v in floats]
    except OptionError as err:
        raise CorpusError(f"augmentation: {err}") from None


def parse_augment(spec: AugmentSpec) -> list[dict[str, Any]]:
    """Turn an augmentation spec into the list of augmentations, original first.

    Examples:
        >>> parse_augment({"pitch": [-12, 12], "gain_db": [-6]})
        [{'kind': 'original'}, {'kind': 'pitch', 'semitones': -12.0}, {'kind': 'pitch', 'semitones': 12.0}, {'kind': 'gain', 'db': -6.0}]
        >>> parse_augment("pitch=7")[1]
        {'kind': 'pitch', 'semitones': 7.0}
    """
    out: list[dict[str, Any]] = [dict(ORIGINAL)]
    if spec is None or (isinstance(spec, str) and spec.strip().lower() in ("", "none", "off")) or spec == {}:
        return out
    if isinstance(spec, str):
        mapping: dict[str, Any] = {}
        for part in filter(None, (p.strip() for p in spec.split(";"))):
            key, eq, value = part.partition("=")
            if not eq:
                raise CorpusError(f"augmentation {part!r} must look like pitch=-12,12 or gain_db=-6")
            mapping[key.strip()] = value
        spec = mapping
    if isinstance(spec, Mapping):
        unknown = set(spec) - {"pitch", "semitones", "gain", "gain_db"}
        if unknown:
            raise CorpusError(f"augmentation: unknown kind(s) {sorted(unknown)}; use pitch (semitones) and gain_db")
        for st in _floats(spec.get("pitch", spec.get("semitones", [])), "pitch"):
            if st != 0.0:
                out.append({"kind": "pitch", "semitones": st})
        for db in _floats(spec.get("gain_db", spec.get("gain", [])), "gain_db"):
            if db != 0.0:
                out.append({"kind": "gain", "db": db})
    else:
        for item in spec:
            item = dict(item)
            kind = item.get("kind")
            if kind == "original":
                continue
            if kind == "pitch":
                out.append({"kind": "pitch", "semitones": _floats([item.get("semitones")], "pitch")[0]})
            elif kind == "gain":
                out.append({"kind": "gain", "db": _floats([item.get("db")], "gain_db")[0]})
            else:
                raise CorpusError(f"augmentation: unknown kind {kind!r}; use 'pitch' or 'gain'")
    for aug in out:
        if aug["kind"] == "pitch" and abs(aug["semitones"]) > 48:
            raise CorpusError(f"augmentation: pitch shift {aug['semitones']} semitones is outside +-48")
    keys = [augment_key(a) for a in out]
    if len(set(keys)) != len(keys):
        raise CorpusError("augmentation: the same copy is listed twice")
    return out


def augment_key(aug: Mapping[str, Any]) -> str:
    """Short stable id of an augmentation, used in shard names."""
    if aug.get("kind") == "original":
        return "orig"
    blob = json.dumps(dict(aug), sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:10]


def describe(aug: Mapping[str, Any]) -> str:
    """Human-readable label: ``original``, ``pitch +12 st``, ``gain -6 dB``."""
    if aug.get("kind") == "pitch":
        return f"pitch {aug['semitones']:+g} st"
    if aug.get("kind") == "gain":
        return f"gain {aug['db']:+g} dB"
    return "original"


def apply_augmentation(wave: np.ndarray, sr: int, aug: Mapping[str, Any]) -> np.ndarray:
    """Apply one augmentation to ``wave`` ``[channels, samples]`` at ``sr``; same layout out.

    Pitch: resample by ``2 ** (semitones / 12)`` and play back at ``sr`` (varispeed).
    Gain: multiply by ``10 ** (db / 20)`` (no clipping: latents see the true level).
    """
    kind = aug.get("kind")
    if kind == "original":
        return wave
    if kind == "gain":
        return (wave * np.float32(10.0 ** (float(aug["db"]) / 20.0))).astype(np.float32, copy=False)
    if kind == "pitch":
        ratio = 2.0 ** (float(aug["semitones"]) / 12.0)
        return resample(wave, float(sr), float(sr) / ratio)
    raise CorpusError(f"augmentation: unknown kind {kind!r}")
