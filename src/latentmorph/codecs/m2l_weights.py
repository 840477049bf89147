"""Music2Latent weights: where to find them, how to fingerprint them, how to load them strictly.

Nothing here downloads anything. The package's own ``EncoderDecoder`` always calls its
download function and loads with ``strict=False`` (so a wrong file silently leaves
layers at their random initial values); we build the package's ``UNet`` ourselves and
refuse a checkpoint whose keys or shapes do not match it exactly.

Lookup order (first existing file wins):

1. the ``weights=`` option / ``--weights PATH``;
2. ``$LATENTMORPH_M2L_WEIGHTS``;
3. the package's own download location, ``<site-packages>/music2latent/models/music2latent.pt``;
4. the latentmorph cache, ``<cache>/weights/music2latent.pt`` (``<cache>`` is
   ``$LATENTMORPH_CACHE_DIR`` or ``$XDG_CACHE_HOME/latentmorph`` or ``~/.cache/latentmorph``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
from pathlib import Path
from typing import Any

from latentmorph.cache import cache_dir  # noqa: F401  (re-exported: m2l_fast, weights_files, hf_local import it from here)
from latentmorph.atomic import atomic_path, atomic_write_bytes
from latentmorph.errors import CodecError

ENV_WEIGHTS = "LATENTMORPH_M2L_WEIGHTS"
WEIGHTS_NAME = "music2latent.pt"
LICENCE = "CC BY-NC 4.0, non-commercial use only"
HUB_URL = "https://huggingface.co/SonyCSLParis/music2latent"
INSTALL_HINT = "pip install 'latentmorph[music2latent]'"


def package_available() -> bool:
    """True when the ``music2latent`` package can be imported (checked without importing it)."""
    return importlib.util.find_spec("music2latent") is not None


def package_import_error() -> str | None:
    """``None`` when ``music2latent.models`` really imports, else the reason (one line)."""
    try:
        importlib.import_module("music2latent.models")
    except Exception as err:  # noqa: BLE001  (a broken install can raise anything)
        return f"{type(err).__name__}: {str(err).strip().splitlines()[0][:120] if str(err).strip() else ''}"
    return None


def package_default_path() -> Path | None:
    """Where the package keeps its downloaded weights, or ``None`` when it is not installed."""
    spec = importlib.util.find_spec("music2latent")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "models" / WEIGHTS_NAME


def candidate_paths(weights: str | os.PathLike | None = None) -> list[tuple[str, Path]]:
    """``(where it came from, path)`` in lookup order; the option and env var only when set."""
    out: list[tuple[str, Path]] = []
    if weights:
        out.append(("--weights", Path(weights).expanduser()))
    env = os.environ.get(ENV_WEIGHTS)
    if env:
        out.append((f"${ENV_WEIGHTS}", Path(env).expanduser()))
    pkg = package_default_path()
    if pkg is not None:
        out.append(("package folder", pkg))
    out.append(("latentmorph cache", cache_dir() / "weights" / WEIGHTS_NAME))
    return out


def missing_weights_message() -> str:
    """The one-line error for "no weights anywhere": where to put the file, and the licence."""
    return (
        f"Music2Latent weights not found: download {WEIGHTS_NAME} from {HUB_URL} (licence {LICENCE}) "
        f"and pass --weights PATH, set {ENV_WEIGHTS}=PATH, or copy it to {cache_dir() / 'weights' / WEIGHTS_NAME}"
    )


def find_weights(weights: str | os.PathLike | None = None) -> Path:
    """The weights file to use (see the module docstring for the order).

    An explicit ``weights`` path or ``$LATENTMORPH_M2L_WEIGHTS`` that does not exist is an
    error of its own (the user meant that file), not a reason to look elsewhere.

    Raises:
        CodecError: one line naming the missing file, or saying where to put the weights.
    """
    for source, path in candidate_paths(weights):
        if source in ("--weights", f"${ENV_WEIGHTS}"):
            if not path.is_file():
                what = "is a directory" if path.is_dir() else "file not found"
                raise CodecError(f"{path}: {what} (Music2Latent weights given by {source}; licence {LICENCE})")
            return path
        if path.is_file():
            return path
    raise CodecError(missing_weights_message())


# ---- fingerprint of a weights file ----------------------------------------------------
_HASHES: dict[tuple[str, int, int], str] = {}


def weights_hash(path: str | os.PathLike) -> str:
    """sha256 (first 16 hex digits) of a weights file, cached by path + size + mtime.

    The cache lives in memory and in ``<cache>/weight_hashes.json`` so that a 100 MB+
    file is hashed once per version, not on every run.
    """
    path = Path(path).resolve()
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key in _HASHES:
        return _HASHES[key]
    store = cache_dir() / "weight_hashes.json"
    skey = f"{key[0]}|{key[1]}|{key[2]}"
    table: dict[str, str] = {}
    try:
        table = json.loads(store.read_text())
    except (OSError, ValueError):
        table = {}
    digest = table.get(skey)
    if not digest:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        digest = h.hexdigest()[:16]
        table[skey] = digest
        try:
            atomic_write_bytes(store, json.dumps(table, indent=1).encode())
        except OSError:
            pass  # a read-only cache only costs a re-hash next time
    _HASHES[key] = digest
    return digest


# ---- the network ------------------------------------------------------------------------
def _unet_class() -> Any:
    try:
        from music2latent.models import UNet
    except ImportError as err:
        raise CodecError(f"music2latent codec needs the music2latent package ({err}); run: {INSTALL_HINT}") from None
    return UNet


def build_unet() -> Any:
    """A freshly initialised ``music2latent.models.UNet`` (the real architecture, ~58 M parameters)."""
    return _unet_class()()


def _empty_unet() -> Any:
    """The UNet's structure with parameters on the ``meta`` device: no memory, no random init.

    Building it this way takes ~0.1 s against ~1-2 s (quiet machine) for a real
    initialisation, whose values :func:`load_unet` would overwrite anyway.
    """
    import torch

    with torch.device("meta"):
        return _unet_class()()


_ARCH: dict[str, tuple[int, ...]] = {}
_MODELS: dict[tuple[str, int, int], Any] = {}


def architecture() -> dict[str, tuple[int, ...]]:
    """``{parameter/buffer name: shape}`` of the package's UNet (from a meta-device model, once per process)."""
    if not _ARCH:
        _ARCH.update({k: tuple(v.shape) for k, v in _empty_unet().state_dict().items()})
    return _ARCH


def _read_checkpoint(path: Path) -> Any:
    """Read a checkpoint as tensors and plain containers only (``weights_only=True``).

    The file is untrusted: a checkpoint that needs any other Python object is refused,
    never unpickled.
    """
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001
        text = str(err).strip()
        if "Unsupported global" in text:
            found = re.search(r"GLOBAL ([\w.]+)", text)
            what = f" ({found.group(1)})" if found else ""
            raise CodecError(
                f"{path}: checkpoint holds Python objects besides tensors{what}; latentmorph never "
                "unpickles weights files. Re-save it as a plain state dict of tensors "
                "(torch.save({'gen_state_dict': state_dict}, path)) on a machine you trust"
            ) from None
        detail = text.splitlines()[0][:120] if text else ""
        raise CodecError(f"{path}: not a readable PyTorch checkpoint ({type(err).__name__}: {detail})") from None


def check_state_dict(state: Any, path: Path) -> None:
    """Raise a one-line :class:`CodecError` unless ``state`` has exactly the UNet's keys and shapes."""
    if not isinstance(state, dict):
        raise CodecError(f"{path}: not a Music2Latent checkpoint ('gen_state_dict' is not a state dict)")
    arch = architecture()
    missing, extra = sorted(set(arch) - set(state)), sorted(set(state) - set(arch))
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys (e.g. {missing[0]})")
        if extra:
            parts.append(f"{len(extra)} unexpected keys (e.g. {extra[0]})")
        raise CodecError(f"{path}: checkpoint does not match the Music2Latent UNet: {', '.join(parts)}")
    import torch

    for key, shape in arch.items():
        value = state[key]
        if not isinstance(value, torch.Tensor):
            raise CodecError(f"{path}: checkpoint does not match the Music2Latent UNet: {key} is not a tensor")
        got = tuple(value.shape)
        if got != shape:
            raise CodecError(
                f"{path}: checkpoint does not match the Music2Latent UNet: {key} has shape {list(got)}, expected {list(shape)}"
            )
        if not value.is_floating_point():
            raise CodecError(f"{path}: checkpoint does not match the Music2Latent UNet: {key} has dtype {value.dtype}, expected a float type")


def load_unet(path: str | os.PathLike) -> Any:
    """Build the UNet and load ``gen_state_dict`` from ``path`` with strict key and shape checks.

    Returns the model in eval mode on the CPU, float32, without gradients. The model is
    kept per file (path + size + mtime) for the life of the process, so every codec
    instance (and every ``get_codec`` call) shares one copy and the file is read once.

    Raises:
        CodecError: unreadable file, no ``gen_state_dict``, missing/unexpected keys, wrong shapes.
    """
    path = Path(path)
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key in _MODELS:
        return _MODELS[key]
    checkpoint = _read_checkpoint(path)
    if not isinstance(checkpoint, dict) or "gen_state_dict" not in checkpoint:
        raise CodecError(f"{path}: not a Music2Latent checkpoint (no 'gen_state_dict' entry)")
    state = checkpoint["gen_state_dict"]
    check_state_dict(state, path)
    import torch

    # the checkpoint's tensors become the parameters (assign=True): no random init, no copy
    state = {k: v.to(torch.float32).contiguous() for k, v in state.items()}
    model = _empty_unet()
    model.load_state_dict(state, strict=True, assign=True)
    model.requires_grad_(False)
    model.eval()
    _MODELS.clear()  # keep one model in memory (they are ~230 MB each)
    _MODELS[key] = model
    return model


def save_random_checkpoint(path: str | os.PathLike, seed: int = 0, std: float = 0.02) -> Path:
    """Write a randomly initialised UNet in the package's checkpoint format (``{'gen_state_dict': ...}``).

    The package zero-initialises the last layer of every residual branch and the output
    convolution (so an untrained model ignores its latents); those tensors get small
    seeded Gaussian values here so the random model exercises every layer. Used by the
    tests and the benchmark: the compute is the same as with the real weights.
    """
    import torch

    torch.manual_seed(seed)
    model = build_unet()
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for p in model.parameters():
            if p.numel() and not bool(p.any()):
                p.copy_(torch.randn(p.shape, generator=gen) * std)
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save({"gen_state_dict": model.state_dict()}, tmp)
    return path
