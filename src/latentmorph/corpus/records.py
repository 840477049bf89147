"""What the index remembers about each corpus file and each grain."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np


@dataclass
class FileRecord:
    """One indexed corpus file.

    ``size`` and ``mtime_ns`` let an incremental run skip unchanged files without
    reading them; ``sha256`` decides whether a touched file really changed.
    ``shards`` maps an augmentation key to the shard file holding that file's
    latents ``[channels, dim, frames]``; ``frames`` gives the frame count per
    augmentation id (same order as the index's ``augmentations``).
    """

    path: str
    size: int
    mtime_ns: int
    sha256: str
    sample_rate: int
    channels: int
    num_samples: int
    shards: dict[str, str] = field(default_factory=dict)
    frames: list[int] = field(default_factory=list)

    @property
    def duration(self) -> float:
        """Length of the original file in seconds."""
        return self.num_samples / self.sample_rate if self.sample_rate else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "mtime_ns": self.mtime_ns, "sha256": self.sha256,
                "sample_rate": self.sample_rate, "channels": self.channels, "num_samples": self.num_samples,
                "shards": dict(self.shards), "frames": list(self.frames)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "FileRecord":
        return cls(
            path=str(d["path"]),
            size=int(d["size"]),
            mtime_ns=int(d["mtime_ns"]),
            sha256=str(d["sha256"]),
            sample_rate=int(d["sample_rate"]),
            channels=int(d["channels"]),
            num_samples=int(d["num_samples"]),
            shards={str(k): str(v) for k, v in dict(d.get("shards", {})).items()},
            frames=[int(x) for x in d.get("frames", [])],
        )


class SkipKind(str, Enum):
    """Why a corpus file was left out of the index (stored in the manifest as its value).

    ``TOO_LONG`` files are tried again on the next run (the limit may have moved);
    every other kind is not retried while the file's size and mtime stay the same.
    """

    UNREADABLE = "unreadable"  #: cannot be opened, listed or hashed (permissions, vanished)
    NOT_AUDIO = "not-audio"  #: opened but not decodable audio (corrupt, empty, NaN, wrong layout)
    TOO_LONG = "too-long"  #: over the length limit (``--max-seconds``)
    NAME = "name"  #: found by the scan but not usable as a path (not UTF-8, broken link)
    UNKNOWN = "unknown"  #: written by a version that did not record the kind (retried)

    @property
    def retry(self) -> bool:
        """Try this file again on the next run even when it did not change."""
        return self in (SkipKind.TOO_LONG, SkipKind.UNKNOWN)


SKIP_KINDS = tuple(k.value for k in SkipKind)


@dataclass
class SkippedFile:
    """A corpus file that could not be indexed, why (``reason``, for people) and of which
    :class:`SkipKind` (``kind``, for the program); kept so unchanged bad files are not retried."""

    path: str
    reason: str
    size: int = -1
    mtime_ns: int = -1
    kind: SkipKind = SkipKind.UNKNOWN

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "reason": self.reason, "size": self.size, "mtime_ns": self.mtime_ns,
                "kind": SkipKind(self.kind).value}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SkippedFile":
        kind = d.get("kind", SkipKind.UNKNOWN.value)
        return cls(str(d["path"]), str(d["reason"]), int(d.get("size", -1)), int(d.get("mtime_ns", -1)),
                   SkipKind(kind) if kind in SKIP_KINDS else SkipKind.UNKNOWN)


#: dtype of each grain-table column.
GRAIN_COLUMNS: dict[str, type] = {
    "file_id": np.int32,
    "channel": np.int16,
    "frame": np.int32,
    "start": np.int64,
    "aug": np.int16,
}


class GrainTable:
    """Where each index row came from; every column is a numpy array of length ``N``.

    Attributes:
        file_id: int32, index into ``CorpusIndex.files``.
        channel: int16, channel of that file.
        frame: int32, latent frame number within that file (and augmentation).
        start: int64, first sample of the grain at the index's ``sample_rate`` in the
            file's (augmented) audio, ``frame * hop``.
        aug: int16, augmentation id (0 = the original audio).
    """

    __slots__ = tuple(GRAIN_COLUMNS)
    file_id: np.ndarray
    channel: np.ndarray
    frame: np.ndarray
    start: np.ndarray
    aug: np.ndarray

    def __init__(self, **columns: np.ndarray) -> None:
        lengths = set()
        for name, dtype in GRAIN_COLUMNS.items():
            col: np.ndarray = np.ascontiguousarray(columns.get(name, np.zeros(0)), dtype=dtype)
            setattr(self, name, col)
            lengths.add(len(col))
        if len(lengths) != 1:
            raise ValueError(f"grain columns differ in length: {sorted(lengths)}")

    def __len__(self) -> int:
        return len(self.file_id)

    def as_dict(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in GRAIN_COLUMNS}

    def __getitem__(self, idx: Any) -> "GrainTable":
        return GrainTable(**{name: getattr(self, name)[idx] for name in GRAIN_COLUMNS})

    def __repr__(self) -> str:
        return f"GrainTable({len(self)} grains)"
