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
from pathlib import Path
from typing import Any, cast

import numpy as np

from latentmorph.atomic import atomic_path
from latentmorph.codecs import Codec
from latentmorph.codecs.fingerprint import check_fingerprint
from latentmorph.corpus import storage, validate
from latentmorph.corpus.augment import augment_key
from latentmorph.corpus.index import CorpusIndex, load_index
from latentmorph.corpus.lock import index_lock
from latentmorph.corpus.records import GRAIN_COLUMNS
from latentmorph.corpus.validate import IndexDamaged
from latentmorph.errors import CorpusError

PACK_FORMAT = "latentmorph-pack"


def export_index(index: str | os.PathLike | CorpusIndex, pack: str | os.PathLike) -> Path:
    """Write an index to one portable ``.lmpack`` file (atomically); returns its path."""
    idx = index if isinstance(index, CorpusIndex) else load_index(index)
    if idx.path is None:
        raise CorpusError("export_index: the index has no folder on disk")
    manifest = storage.read_manifest(idx.path)
    manifest.pop("checksums", None)  # the importer writes its own files and sums
    pack = Path(pack)
    _check_pack_output(pack, Path(idx.path))
    paths = [f["path"] for f in manifest["files"]]
    manifest["format"] = PACK_FORMAT
    manifest["root"] = os.path.commonpath([os.path.dirname(p) for p in paths]) if paths else ""
    with atomic_path(pack, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(
                fh,
                manifest=np.frombuffer(json.dumps(manifest).encode(), dtype=np.uint8),
                latents=np.asarray(idx.latents, dtype=np.float32),
                **cast("dict[str, Any]", {f"grain_{k}": v for k, v in idx.grains.as_dict().items()}),
            )
    return pack


def _check_pack_output(pack: Path, index_dir: Path) -> None:
    """Refuse a pack path inside the index folder, or one that would replace a file that is not a pack."""
    if index_dir.resolve() in pack.resolve().parents or pack.resolve() == index_dir.resolve():
        raise CorpusError(f"{pack}: the pack must not go inside the index folder {index_dir}")
    if pack.is_dir():
        raise CorpusError(f"{pack}: is a folder, expected a PACK.lmpack file name")
    if pack.exists():
        try:
            _read_pack(pack)
        except CorpusError:
            raise CorpusError(f"{pack}: exists and is not a latentmorph pack; refusing to replace it (choose another name)") from None


def _read_pack(pack: Path) -> tuple[dict[str, Any], np.ndarray, dict[str, np.ndarray]]:
    """Read and check a pack: manifest fields, names, dtypes, shapes, grain table, finite latents."""
    if not pack.exists():
        raise CorpusError(f"{pack}: file not found")
    if not pack.is_file():
        raise CorpusError(f"{pack}: not a latentmorph .lmpack file (not a regular file)")
    try:
        with np.load(pack, allow_pickle=False) as z:
            if not isinstance(z, np.lib.npyio.NpzFile):
                raise ValueError("not an npz archive")
            validate.check_npz_members(z, pack, pack.stat().st_size)
            members = set(z.files)
            need = {"manifest", "latents", *(f"grain_{k}" for k in GRAIN_COLUMNS)}
            if not need <= members:
                raise KeyError(sorted(need - members)[0])
            raw = z["manifest"]
            if raw.dtype != np.uint8 or raw.ndim != 1:
                raise IndexDamaged(pack, "manifest member is not JSON bytes")
            manifest = json.loads(raw.tobytes().decode())
            latents = z["latents"]
            grains = {k: z[f"grain_{k}"] for k in GRAIN_COLUMNS}
    except IndexDamaged:
        raise
    except KeyError as err:
        raise CorpusError(f"{pack}: not a latentmorph .lmpack file (no {err.args[0]!r} member)") from None
    except Exception as err:  # noqa: BLE001 - zipfile/numpy/json raise many kinds on hostile bytes
        raise CorpusError(f"{pack}: not a latentmorph .lmpack file ({type(err).__name__})") from None
    manifest = validate.check_manifest(manifest, pack, fmt=PACK_FORMAT, version=storage.FORMAT_VERSION)
    latents, grains = validate.check_arrays(latents, grains, manifest, pack)
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

    Everything in the pack is checked first (:mod:`latentmorph.corpus.validate`): shard
    names are recomputed from each file's content hash, never taken as paths.

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
    if codec is not None:
        check_fingerprint(pack, "pack", manifest["fingerprint"], codec.fingerprint, made_spec=manifest["codec_spec"],
                          expected_spec=codec.name, fix="import with the same codec and options", error=CorpusError)
    if storage.manifest_path(out).exists():
        raise CorpusError(f"{out}: an index already exists here; import into a new name")
    storage.check_output_folder(out, [pack])
    storage.claim_folder(out, [pack])
    with index_lock(out, lock_timeout):
        try:
            if storage.manifest_path(out).exists():
                raise CorpusError(f"{out}: an index already exists here; import into a new name")
            _write_imported(pack, out, manifest, latents, grains, relink)
        except OSError as err:
            raise CorpusError(f"{err.filename or out}: cannot write the index ({err.strerror or err})") from None
        finally:
            if not storage.manifest_path(out).exists():
                storage.remove_stub(out)
    return load_index(out, codec=codec)


def _write_imported(pack: Path, out: Path, manifest: dict[str, Any], latents: np.ndarray,
                    grains: dict[str, np.ndarray], relink: str | os.PathLike | None) -> None:
    """Split a checked pack into shards and one generation, then swap in the manifest."""
    root = manifest.pop("root", "") or ""
    keys = [augment_key(a) for a in manifest["augmentations"]]
    sums: dict[str, Any] = {}
    row = 0
    for rec in manifest["files"]:
        for a, akey in enumerate(keys):
            C, T = rec["channels"], rec["frames"][a]
            shard = latents[row : row + C * T].reshape(C, T, -1).transpose(0, 2, 1)
            row += C * T
            name = validate.shard_name(rec["sha256"], akey, manifest["fingerprint"])
            sums[name] = storage.write_shard(out, name, shard)
            rec["shards"][akey] = name
        if relink is not None and root:
            rec["path"] = str(Path(relink).resolve() / os.path.relpath(rec["path"], root))
            rec["mtime_ns"] = -1  # force a content check (not a re-encode) on the next run
    manifest["format"] = storage.FORMAT
    manifest["imported_from"] = str(pack)
    gen = storage.new_generation()
    manifest["latents"], manifest["grains"], array_sums = storage.write_arrays(out, gen, latents, grains)
    sums.update(array_sums)
    manifest["checksums"] = sums
    storage.write_manifest(out, manifest)
