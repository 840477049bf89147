"""Loading a ``transformers`` audio codec (EnCodec, DAC) from a local folder, never from the hub.

A usable folder is what ``save_pretrained`` writes (or a hub snapshot downloaded on a
connected machine): ``config.json`` whose ``model_type`` is the expected one,
``model.safetensors`` (safetensors only: a ``pytorch_model.bin`` is a pickle and is refused),
and optionally ``preprocessor_config.json`` (its sampling rate must match the config's).
Loading is strict: a weight missing from the file, or one the architecture does not have,
is an error, not a silently random layer.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any

from latentmorph.errors import CodecError

INSTALL_HINT = "pip install 'latentmorph[transformers]'"


def transformers_available() -> bool:
    """True when ``transformers`` can be imported (checked without importing it)."""
    return importlib.util.find_spec("transformers") is not None


def require_transformers(codec: str) -> None:
    if not transformers_available():
        raise CodecError(f"codec {codec} needs the transformers package; run: {INSTALL_HINT}")


def check_folder(folder: str | os.PathLike, model_type: str, how_to_get: str) -> tuple[Path, dict[str, Any]]:
    """Validate a model folder without importing transformers; returns ``(absolute folder, config dict)``.

    Raises:
        CodecError: one line naming the folder and what is wrong, with ``how_to_get``.
    """
    path = Path(folder).expanduser()
    if not path.exists():
        raise CodecError(f"{path}: {model_type} weights folder not found; {how_to_get}")
    if not path.is_dir():
        raise CodecError(f"{path}: not a folder; {model_type} weights are a folder with config.json and model.safetensors; {how_to_get}")
    cfg_file = path / "config.json"
    if not cfg_file.is_file():
        raise CodecError(f"{path}: incomplete {model_type} weights folder (no config.json); {how_to_get}")
    try:
        cfg = json.loads(cfg_file.read_text())
    except (OSError, ValueError) as err:
        raise CodecError(f"{cfg_file}: unreadable config ({type(err).__name__}); {how_to_get}") from None
    if not isinstance(cfg, dict) or cfg.get("model_type") != model_type:
        got = cfg.get("model_type") if isinstance(cfg, dict) else None
        raise CodecError(f"{cfg_file}: model_type is {got!r}, not {model_type!r}; {how_to_get}")
    if not (path / "model.safetensors").is_file():
        pickle = " (pytorch_model.bin is a pickle and is never loaded)" if (path / "pytorch_model.bin").exists() else ""
        raise CodecError(f"{path}: incomplete {model_type} weights folder (no model.safetensors){pickle}; {how_to_get}")
    return path.resolve(), cfg


def load_model(model_cls_name: str, folder: Path, model_type: str, how_to_get: str) -> Any:
    """``transformers.<model_cls_name>.from_pretrained(folder, local_files_only=True)``, strictly, in eval mode."""
    import transformers

    cls = getattr(transformers, model_cls_name)
    try:
        model, info = cls.from_pretrained(str(folder), local_files_only=True, use_safetensors=True, output_loading_info=True)
    except Exception as err:  # noqa: BLE001  (a damaged folder can raise anything)
        text = str(err).strip().splitlines()[0][:160] if str(err).strip() else ""
        raise CodecError(f"{folder}: cannot load {model_type} weights ({type(err).__name__}: {text}); {how_to_get}") from None
    bad = [k for k in ("missing_keys", "unexpected_keys", "mismatched_keys") if info.get(k)]
    if bad:
        first = {k: list(info[k])[:2] for k in bad}
        raise CodecError(f"{folder}: weights do not match the {model_type} architecture in config.json ({first}); {how_to_get}")
    sr_file = folder / "preprocessor_config.json"
    if sr_file.is_file():
        try:
            fe = transformers.AutoFeatureExtractor.from_pretrained(str(folder), local_files_only=True)
        except Exception as err:  # noqa: BLE001
            raise CodecError(f"{sr_file}: unreadable feature extractor config ({type(err).__name__}); {how_to_get}") from None
        if int(getattr(fe, "sampling_rate", model.config.sampling_rate)) != int(model.config.sampling_rate):
            raise CodecError(f"{sr_file}: sampling_rate {fe.sampling_rate} differs from config.json's {model.config.sampling_rate}")
    return model.eval()


def find_folder(label: str, weights: str | os.PathLike | None, env_var: str, default_names: tuple[str, ...], how_to_get: str) -> str:
    """The folder to use: ``weights``, else ``$env_var``, else the first of ``<cache>/weights/<default_names>`` that exists."""
    from latentmorph.codecs.m2l_weights import cache_dir

    if weights:
        return str(weights)
    if os.environ.get(env_var):
        return os.environ[env_var]
    for name in default_names:
        cand = cache_dir() / "weights" / name
        if cand.is_dir():
            return str(cand)
    raise CodecError(f"{label} weights not found (no --weights, no ${env_var}, nothing in {cache_dir() / 'weights'}); {how_to_get}")


def usable(model_type: str, finder: Any, how_to_get: str) -> tuple[bool, str]:
    """``(usable, reason)`` for ``latentmorph codecs``: transformers importable and a default folder found."""
    if not transformers_available():
        return False, f"package transformers not installed ({INSTALL_HINT})"
    try:
        folder = finder(None)
        check_folder(folder, model_type, how_to_get)
    except CodecError as err:
        return False, f"transformers installed; {err}"
    return True, f"transformers installed; weights: {folder}"
