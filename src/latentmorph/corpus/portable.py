"""Portable precomputed embeddings: ship an index as one file and use it elsewhere.

``export_index`` writes ``NAME.lmpack``: an uncompressed numpy ``.npz`` archive with
the manifest (JSON), the latents ``[N, dim]`` and the grain table -- no audio.
``import_index`` turns it back into a ``NAME.lmindex`` folder (re-splitting the
latents into per-file shards, so later incremental runs work as usual), refusing it
when the codec on this machine has another fingerprint. With ``relink`` the corpus
file paths are moved under a new folder, e.g. when the GPU box stored the sounds in
``/data/sfx`` and this laptop keeps them in ``~/Sounds/sfx``; files that then match
by content are not re-encoded by the next ``latentmorph index`` run.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from latentmorph.atomic import atomic_path
from latentmorph.codecs import Codec
from latentmorph.corpus import storage
from latentmorph.corpus.augment import augment_key
from latentmorph.corpus.index import CorpusIndex, load_index
from latentmorph.corpus.lock import index_lock
from latentmorph.corpus.records import GRAIN_COLUMNS
from latentmorph.errors import CorpusError

PACK_FORMAT = "latentmorph-pack"


def export_index(index: str | os.PathLike | CorpusIndex, pack: str | os.PathLike) -> Path:
    """Write an index to one portable ``.lmpack`` file (atomically); returns its path."""
    idx = index if isinstance(index, CorpusIndex) else load_index(index)
    if idx.path is None:
        raise CorpusError("export_index: the index has no folder on disk")
    manifest = storage.read_manifest(idx.path)
    paths = [f["path"] for f in manifest["files"]]
    manifest["format"] = PACK_FORMAT
    manifest["root"] = os.path.commonpath([os.path.dirname(p) for p in paths]) if paths else ""
    pack = Path(pack)
    with atomic_path(pack, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(
                fh,
                manifest=np.frombuffer(json.dumps(manifest).encode(), dtype=np.uint8),
                latents=np.asarray(idx.latents, dtype=np.float32),
                **{f"grain_{k}": v for k, v in idx.grains.as_dict().items()},
            )
    return pack


def _read_pack(pack: Path) -> tuple[dict[str, Any], np.ndarray, dict[str, np.ndarray]]:
    if not pack.exists():
        raise CorpusError(f"{pack}: file not found")
    try:
        with np.load(pack, allow_pickle=False) as z:
            manifest = json.loads(z["manifest"].tobytes().decode())
            latents = z["latents"]
            grains = {k: z[f"grain_{k}"] for k in GRAIN_COLUMNS}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, UnicodeDecodeError) as err:
        raise CorpusError(f"{pack}: not a latentmorph .lmpack file ({type(err).__name__})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != PACK_FORMAT:
        raise CorpusError(f"{pack}: not a latentmorph .lmpack file")
    if latents.ndim != 2 or latents.shape[1] != int(manifest["dim"]) or any(len(v) != len(latents) for v in grains.values()):
        raise CorpusError(f"{pack}: corrupt pack (array shapes disagree)")
    return manifest, latents, grains


def import_index(
    pack: str | os.PathLike,
    output: str | os.PathLike,
    codec: Codec | None = None,
    *,
    relink: str | os.PathLike | None = None,
    lock_timeout: float | None = None,
) -> CorpusIndex:
    """Create the index folder ``output`` from a ``.lmpack`` written by :func:`export_index`.

    Args:
        pack: the ``.lmpack`` file.
        output: the ``NAME.lmindex`` folder to create (must not hold an index yet).
        codec: the codec you will use with it; a different fingerprint is refused.
        relink: folder that now holds the corpus files (their paths relative to the
            exporting machine's common corpus folder are kept).

    Raises:
        CorpusError: missing/corrupt pack, codec mismatch, ``output`` already an index.
    """
    pack, out = Path(pack), Path(output)
    manifest, latents, grains = _read_pack(pack)
    if codec is not None and codec.fingerprint != manifest["fingerprint"]:
        raise CorpusError(
            f"{pack}: embeddings were made with codec {manifest['codec_spec']} ({manifest['fingerprint']}), "
            f"not {codec.name} ({codec.fingerprint}); import with the same codec and options"
        )
    if out.exists() and not out.is_dir():
        raise CorpusError(f"{out}: exists and is not an index folder")
    with index_lock(out, lock_timeout):
        if storage.manifest_path(out).exists():
            raise CorpusError(f"{out}: an index already exists here; import into a new name")
        root = manifest.pop("root", "")
        keys = [augment_key(a) for a in manifest["augmentations"]]
        for fid, rec in enumerate(manifest["files"]):
            rows_f = grains["file_id"] == fid
            for a, akey in enumerate(keys):
                rows = np.flatnonzero(rows_f & (grains["aug"] == a))
                channels = int(grains["channel"][rows].max()) + 1 if len(rows) else 1
                frames = len(rows) // channels
                shard = latents[rows].reshape(channels, frames, -1).transpose(0, 2, 1)
                storage.write_shard(out, rec["shards"][akey], shard)
            if relink is not None and root:
                rec["path"] = str(Path(relink).resolve() / os.path.relpath(rec["path"], root))
                rec["mtime_ns"] = -1  # force a content check (not a re-encode) on the next run
        manifest["format"] = storage.FORMAT
        manifest["imported_from"] = str(pack)
        gen = storage.new_generation()
        manifest["latents"], manifest["grains"] = storage.write_arrays(out, gen, latents, grains)
        storage.write_manifest(out, manifest)
    return load_index(out, codec=codec)
