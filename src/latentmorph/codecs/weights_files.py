"""Weights on disk: content hashes of a weights file or folder, and finding them again by hash.

A codec's fingerprint holds the hash of its weights, and an index stores the absolute
weights path plus that hash (``NAME:weights=/abs/path,weights_sha256=HASH``). When the
path is gone (the index was copied to another machine, the weights moved), the same
content is looked up by hash in the usual places:

1. the folders in ``$LATENTMORPH_WEIGHTS_PATH`` (``os.pathsep``-separated);
2. ``<cache>/weights/`` (``<cache>`` = ``$LATENTMORPH_CACHE_DIR`` or ``~/.cache/latentmorph``);
3. each codec's own environment variable (``$LATENTMORPH_M2L_WEIGHTS``, ``$LATENTMORPH_ENCODEC_WEIGHTS``,
   ``$LATENTMORPH_DAC_WEIGHTS``, ``$LATENTMORPH_RAVE_WEIGHTS``);
4. the folder of the old path's name, if it exists (a parent folder that moved is not searched).

Files and folders one level inside each place are candidates; only those whose name ends
like the original (same suffix, or both folders) are hashed, and hashes are cached by
path + size + mtime, so the search is cheap after the first time.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from latentmorph.codecs.m2l_weights import cache_dir, weights_hash
from latentmorph.errors import CodecError

ENV_SEARCH_PATH = "LATENTMORPH_WEIGHTS_PATH"
CODEC_ENV_VARS = ("LATENTMORPH_M2L_WEIGHTS", "LATENTMORPH_ENCODEC_WEIGHTS", "LATENTMORPH_DAC_WEIGHTS", "LATENTMORPH_RAVE_WEIGHTS")
#: Files of a Hugging Face model folder that change what the network computes.
FOLDER_FILES = ("config.json", "model.safetensors")


def weights_digest(path: str | os.PathLike) -> str:
    """16 hex digits identifying a weights file, or a model folder by its config + weights files."""
    p = Path(path)
    if p.is_dir():
        h = hashlib.sha256()
        for name in FOLDER_FILES:
            f = p / name
            if f.is_file():
                h.update(f"{name}={weights_hash(f)}\n".encode())
        return h.hexdigest()[:16]
    return weights_hash(p)


def search_places() -> list[Path]:
    """Folders searched for weights by hash, in order (see the module docstring)."""
    places: list[Path] = [Path(p).expanduser() for p in os.environ.get(ENV_SEARCH_PATH, "").split(os.pathsep) if p]
    places.append(cache_dir() / "weights")
    for var in CODEC_ENV_VARS:
        value = os.environ.get(var)
        if value:
            places.append(Path(value).expanduser().parent)
    return places


def _same_kind(candidate: Path, original: Path) -> bool:
    if original.suffix:
        return candidate.is_file() and candidate.suffix.lower() == original.suffix.lower()
    return candidate.is_dir()


def find_by_hash(original: str | os.PathLike, digest: str) -> Path | None:
    """A file/folder whose :func:`weights_digest` is ``digest``: ``original`` itself if it still matches, else one found in :func:`search_places`."""
    orig = Path(original).expanduser()
    if orig.exists() and weights_digest(orig) == digest:
        return orig
    seen: set[Path] = set()
    for place in search_places():
        if not place.is_dir():
            continue
        named = place / orig.name
        try:
            children = sorted(place.iterdir())
        except OSError:
            continue
        for cand in [named, *children]:  # same name first: usually the right one, hashed once
            if cand in seen or not cand.exists() or not _same_kind(cand, orig):
                continue
            seen.add(cand)
            try:
                if weights_digest(cand) == digest:
                    return cand.resolve()
            except OSError:
                continue
    return None


def locate_weights(codec_name: str, path: str | os.PathLike | None, digest: str) -> Path:
    """Resolve the weights an index was built with: the stored path, or the same content elsewhere.

    Raises:
        CodecError: one line naming the missing path, its hash and where to put a copy.
    """
    if path is None:
        raise CodecError(f"codec {codec_name}: weights_sha256={digest} given without weights=PATH")
    found = find_by_hash(path, digest)
    if found is not None:
        return found
    where = Path(path)
    state = "has other content" if where.exists() else "is gone"
    raise CodecError(
        f"{where}: {codec_name} weights {state} (need sha256 {digest}); copy the same weights into "
        f"{cache_dir() / 'weights'} or a folder in ${ENV_SEARCH_PATH}, or pass --weights PATH"
    )
