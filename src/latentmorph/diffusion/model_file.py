"""The ``.lmdiff`` model file: config, codec spec and fingerprint, latent statistics,
EMA weights and the timbre-map projection, in one ``torch.save`` dict of plain values.

Reading is safe for untrusted files: ``torch.load(weights_only=True)`` (no unpickling of
objects), then every field is checked: format tag and version, config fields and ranges
(:meth:`ModelConfig.from_dict`), weight names, shapes, dtypes and finiteness against a
freshly built network. Any problem is a :class:`ModelError` naming the file.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import torch

from latentmorph.atomic import atomic_write_bytes
from latentmorph.codecs.fingerprint import check_fingerprint
from latentmorph.codecs import Codec, get_codec
from latentmorph.diffusion.config import ModelConfig
from latentmorph.diffusion.model import DiffusionModel
from latentmorph.errors import CodecError, ModelError

FORMAT = "latentmorph.diffusion"
VERSION = 1
SUFFIX = ".lmdiff"


def save_model(path: str | os.PathLike, model: DiffusionModel, meta: dict[str, Any] | None = None) -> Path:
    """Write ``model`` (its current weights; pass the EMA copy) to ``path`` atomically."""
    path = Path(path)
    blob = {
        "format": FORMAT,
        "version": VERSION,
        "config": json.dumps(model.config.to_dict(), sort_keys=True),
        "meta": json.dumps(meta or {}, sort_keys=True, default=str),
        "weights": {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()},
    }
    write_blob(path, blob)
    return path


def write_blob(path: Path, blob: dict[str, Any]) -> None:
    """``torch.save`` into memory, then an atomic write. (Saving to the temporary file directly
    would name the archive's records after its random name: same model, different bytes.)"""
    buf = io.BytesIO()
    torch.save(blob, buf)
    atomic_write_bytes(path, buf.getvalue())


def read_blob(path: Path, what: str = "model") -> dict[str, Any]:
    """``torch.load(weights_only=True)`` with every failure turned into a :class:`ModelError`."""
    if not path.exists():
        raise ModelError(f"{path}: {what} file not found")
    if path.is_dir():
        raise ModelError(f"{path}: is a folder, expected a {SUFFIX} {what} file")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any failure to parse is a corrupt file
        raise ModelError(f"{path}: not a readable {what} file (corrupt or another format: {type(err).__name__})") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise ModelError(f"{path}: not a latentmorph diffusion {what} (format tag missing)")
    if blob.get("version") != VERSION:
        raise ModelError(f"{path}: {what} format version {blob.get('version')!r}; this latentmorph reads version {VERSION}")
    return blob


def parse_json(path: Path, blob: dict[str, Any], key: str) -> Any:
    text = blob.get(key)
    if not isinstance(text, str) or len(text) > 10_000_000:
        raise ModelError(f"{path}: field {key!r} is missing or not text")
    try:
        return json.loads(text)
    except ValueError:
        raise ModelError(f"{path}: field {key!r} is not valid JSON") from None


def build_checked(path: Path, config: ModelConfig, weights: Any) -> DiffusionModel:
    """A :class:`DiffusionModel` of ``config`` with ``weights`` loaded after checking names/shapes/dtypes/values."""
    model = DiffusionModel(config)
    expected = model.state_dict()
    if not isinstance(weights, dict):
        raise ModelError(f"{path}: weights are not a name -> tensor table")
    missing = sorted(set(expected) - set(weights))
    extra = sorted(set(weights) - set(expected))
    if missing or extra:
        raise ModelError(f"{path}: weights do not fit the stored config (missing {missing[:3]}, unexpected {extra[:3]})")
    for name, ref in expected.items():
        w = weights[name]
        if not isinstance(w, torch.Tensor) or w.dtype != torch.float32 or tuple(w.shape) != tuple(ref.shape):
            raise ModelError(f"{path}: weight {name} has the wrong type or shape (expected float32 {list(ref.shape)})")
        if not torch.isfinite(w).all():
            raise ModelError(f"{path}: weight {name} holds NaN/Inf")
    if (weights["latent_std"] <= 0).any():
        raise ModelError(f"{path}: latent statistics are invalid (std <= 0)")
    model.load_state_dict(weights, strict=True)
    model.eval()
    return model


def load_model(path: str | os.PathLike) -> DiffusionModel:
    """Read a ``.lmdiff`` file; :class:`ModelError` naming the file on any problem.

    The returned model has ``source_path`` and ``meta`` (training summary) attributes;
    call :func:`model_codec` for its codec (checked against the stored fingerprint).
    """
    path = Path(path)
    blob = read_blob(path)
    config = ModelConfig.from_dict(parse_json(path, blob, "config"), str(path))
    meta = parse_json(path, blob, "meta")
    model = build_checked(path, config, blob.get("weights"))
    model.source_path = path
    model.meta = meta if isinstance(meta, dict) else {}
    return model


def model_codec(model: DiffusionModel) -> Codec:
    """Rebuild the model's codec from its spec and refuse one whose fingerprint differs."""
    where = getattr(model, "source_path", "model")
    cfg = model.config
    try:
        codec = get_codec(cfg.codec_spec)
    except CodecError as err:
        raise ModelError(f"{where}: cannot rebuild the model's codec {cfg.codec_spec!r} ({err})") from None
    check_fingerprint(where, "model", cfg.fingerprint, codec.fingerprint, made_spec=cfg.codec_spec,
                      expected_spec=cfg.codec_spec, fix="other options or weights here: retrain the model for this codec",
                      error=ModelError)
    if codec.dim != cfg.dim:
        raise ModelError(f"{where}: codec {cfg.codec_spec} has dim {codec.dim}, the model {cfg.dim}")
    return codec


def check_same_codec(model: DiffusionModel, fingerprint: str, what: str) -> None:
    """Refuse latents / an index (``what`` names it) made by another codec than the model's."""
    check_fingerprint(what, "index", fingerprint, model.config.fingerprint, expected_spec=model.config.codec_spec,
                      fix=f"model {getattr(model, 'source_path', '')} needs an index built with its codec "
                      f"({model.config.codec_spec})", error=ModelError)
