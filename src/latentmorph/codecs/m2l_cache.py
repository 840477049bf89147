"""A disk cache of Music2Latent latents: the same audio through the same codec is encoded once.

Why: encoding the source is most of a repeat transfer's time (the corpus is already in the
index). Running ``transfer`` again on the same source with other settings (mode, wet,
renderer, ...) hands the codec the very same resampled samples, so their latents can be
read back instead of recomputed.

Key: sha256 of the codec's fingerprint (weights hash, alignment, chunking), everything else
that changes the numbers (the precision the encode runs in, the memory layout, the batch
size, compilation, torch's thread count and version), the input's shape and dtype, and its bytes. A hit therefore returns
exactly what encoding would have returned on this machine.

Entries: ``<cache>/m2l_latents/<key>.npz`` (``<cache>`` from
:func:`latentmorph.cache.cache_dir`), holding ``latents`` (float32
``[C, 64, T]``), ``key`` (the entry's own key) and ``check`` (sha256 of key + latents).
They are untrusted on load: ``np.load(allow_pickle=False)``, the stored key must equal the
file's key, the checksum must match, and the shape, dtype and values must be what the
codec would return (shape ``[C, 64, T]`` for the input, float32, finite). Anything else is
refused and recomputed (the recomputed entry replaces the bad one). Writes are atomic.

Bounds: only inputs of at least :data:`MIN_FRAMES` latent frames are cached (short
encodes are cheap, and real-time callers encode many short blocks); the folder is kept
under :data:`DEFAULT_MAX_MB` MB (``$LATENTMORPH_M2L_LATENT_CACHE_MB``) by removing the
least recently used entries (only files named like ours, only in our folder). 30 s of
stereo is ~165 kB of latents.

Off: the codec option ``latent_cache=False`` or ``LATENTMORPH_M2L_LATENT_CACHE=off``.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from pathlib import Path

import numpy as np

from latentmorph.atomic import atomic_write_bytes
from latentmorph.cache import cache_dir

ENV = "LATENTMORPH_M2L_LATENT_CACHE"
ENV_MB = "LATENTMORPH_M2L_LATENT_CACHE_MB"
FOLDER = "m2l_latents"
DEFAULT_MAX_MB = 256.0
#: inputs shorter than this (latent frames, ~1.5 s) are not cached
MIN_FRAMES = 16
_NAME = re.compile(r"^[0-9a-f]{64}\.npz$")


def enabled() -> bool:
    """False when ``$LATENTMORPH_M2L_LATENT_CACHE`` is ``off``/``0``/``false``/``no``."""
    return os.environ.get(ENV, "on").strip().lower() not in ("off", "0", "false", "no")


def folder() -> Path:
    """Where the entries live: ``<cache>/m2l_latents``."""
    return cache_dir() / FOLDER


def max_bytes() -> int:
    """The folder's size bound in bytes (``$LATENTMORPH_M2L_LATENT_CACHE_MB``, default 256 MB)."""
    try:
        mb = float(os.environ.get(ENV_MB, DEFAULT_MAX_MB))
    except ValueError:
        mb = DEFAULT_MAX_MB
    return int(max(mb, 0.0) * 2**20)


def make_key(wave: np.ndarray, tag: str) -> str:
    """sha256 hex of ``tag`` (codec fingerprint and run settings) + the array's shape, dtype and bytes."""
    arr = np.ascontiguousarray(wave)
    h = hashlib.sha256()
    h.update(f"{tag}|{arr.dtype.str}|{arr.shape}|".encode())
    h.update(arr.data.cast("B"))
    return h.hexdigest()


def _check(key: str, latents: np.ndarray) -> np.ndarray:
    h = hashlib.sha256(key.encode())
    h.update(np.ascontiguousarray(latents).data.cast("B"))
    return np.frombuffer(h.digest(), dtype=np.uint8)


def get(key: str, shape: tuple[int, ...]) -> np.ndarray | None:
    """The stored latents for ``key`` if present and valid (float32 of ``shape``), else ``None``."""
    path = folder() / f"{key}.npz"
    try:
        with np.load(path, allow_pickle=False) as data:
            if set(data.files) != {"latents", "key", "check"}:
                return None
            lat, stored, check = data["latents"], data["key"], data["check"]
    except Exception:  # noqa: BLE001  (absent, truncated, not a zip, bad CRC, pickled objects: all a miss)
        return None
    if stored.dtype.kind != "U" or stored.shape != () or str(stored) != key:
        return None
    if lat.dtype != np.float32 or tuple(lat.shape) != tuple(shape) or not np.isfinite(lat).all():
        return None
    if check.dtype != np.uint8 or check.shape != (32,) or not np.array_equal(check, _check(key, lat)):
        return None
    try:
        os.utime(path)  # least recently *used* goes first
    except OSError:
        pass
    return np.ascontiguousarray(lat)


def put(key: str, latents: np.ndarray) -> bool:
    """Store ``latents`` under ``key`` (atomically), then keep the folder under its bound. False if it could not."""
    lat = np.ascontiguousarray(latents, dtype=np.float32)
    buf = io.BytesIO()
    np.savez(buf, latents=lat, key=np.array(key), check=_check(key, lat))
    try:
        folder().mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(folder() / f"{key}.npz", buf.getvalue())
    except OSError:
        return False  # a read-only or full cache only costs the encode next time
    prune(max_bytes())
    return True


def entries() -> list[Path]:
    """Our entry files (named ``<64 hex>.npz``) in :func:`folder`."""
    try:
        return [p for p in folder().iterdir() if _NAME.match(p.name) and p.is_file()]
    except OSError:
        return []


def prune(limit: int) -> int:
    """Remove least recently used entries until the folder holds at most ``limit`` bytes; returns how many went."""
    items = []
    for p in entries():
        try:
            st = p.stat()
        except OSError:
            continue
        items.append((st.st_mtime, st.st_size, p))
    total = sum(size for _, size, _ in items)
    removed = 0
    for _, size, p in sorted(items, key=lambda item: item[0]):
        if total <= limit:
            break
        try:
            p.unlink()
        except OSError:
            continue
        total -= size
        removed += 1
    return removed


def clear() -> int:
    """Remove every entry (only our files); returns how many."""
    return prune(-1)
