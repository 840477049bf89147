"""The numpy-in / numpy-out Python API (the CLI calls only this).

Audio is ``[channels, samples]`` or ``[samples]`` float with an explicit sample rate;
latents are ``[channels, dim, frames]``.
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from latentmorph.atomic import atomic_path, atomic_write_bytes
from latentmorph.audio import as_2d, check_wave, load
from latentmorph.codecs import Codec, get_codec
from latentmorph.codecs.fingerprint import check_fingerprint
from latentmorph.errors import AudioError, CodecError

__all__ = ["decode", "encode", "encode_file", "get_codec", "latents_path", "load_latents", "save_latents", "sidecar_path"]


#: Latent arrays with more channels than this are refused (audio allows 64).
MAX_LATENT_CHANNELS = 64
#: ... and arrays holding more values than this (about 4 h of stereo embedded latents).
MAX_LATENT_VALUES = 2**27


def encode(wave: np.ndarray, sr: int, codec: str | Codec | None = None) -> np.ndarray:
    """Encode audio at any sample rate.

    Args:
        wave: ``[samples]`` or ``[channels, samples]``.
        sr: its sample rate in Hz.
        codec: a codec spec (``"embedded"``, ``"music2latent"``...) or instance.

    Returns:
        float32 latents ``[channels, dim, frames]``.
    """
    c = get_codec(codec)
    wave = check_wave(as_2d(wave), sr, "audio")
    return c.encode_audio(wave, int(sr))


def decode(latents: np.ndarray, codec: str | Codec | None = None, sr: int | None = None) -> np.ndarray:
    """Decode ``[channels, dim, frames]`` latents to ``[channels, samples]`` at ``sr`` (default: codec rate)."""
    return get_codec(codec).decode_audio(np.asarray(latents, dtype=np.float32), sr)


def encode_file(path: str | os.PathLike, codec: str | Codec | None = None, *, max_seconds: float | None = None) -> np.ndarray:
    """Load an audio file (with the usual checks) and encode it."""
    c = get_codec(codec)
    wave, sr = load(path, max_seconds=max_seconds)
    return c.encode_audio(wave, sr)


def sidecar_path(path: str | os.PathLike) -> Path:
    """The ``.json`` sidecar that goes with a latents file: ``song.npy`` -> ``song.json``."""
    return Path(path).with_suffix(".json")


_meta_path = sidecar_path


def latents_path(path: str | os.PathLike) -> Path:
    """The file :func:`save_latents` writes for ``path`` (``.npy`` added when missing)."""
    path = Path(path)
    if path.suffix != ".npy":
        path = path.with_suffix(path.suffix + ".npy") if path.suffix else path.with_suffix(".npy")
    return path


def save_latents(path: str | os.PathLike, latents: np.ndarray, codec: Codec) -> Path:
    """Save latents as ``.npy`` plus a ``.json`` sidecar naming the codec (both atomic).

    The CLI checks both names with :func:`latentmorph.outputs.guard_outputs` first: the
    sidecar is an output too, so a user's own ``song.json`` is never replaced silently.
    """
    from latentmorph.outputs import write_errors

    path = latents_path(path)
    with write_errors(path), atomic_path(path) as tmp:
        np.save(tmp, np.asarray(latents, dtype=np.float32))
    meta = {
        "codec": codec.name,
        "fingerprint": codec.fingerprint,
        "sample_rate": codec.sample_rate,
        "hop": codec.hop,
        "shape": list(np.shape(latents)),
    }
    with write_errors(_meta_path(path)):
        atomic_write_bytes(_meta_path(path), json.dumps(meta, indent=2).encode())
    return path


def load_latents(path: str | os.PathLike, codec: Codec | None = None) -> np.ndarray:
    """Load ``.npy`` latents; refuse them when their sidecar names another codec."""
    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: file not found")
    if path.is_dir():
        raise AudioError(f"{path}: is a folder, expected a latent .npy file")
    try:
        latents = np.load(path, allow_pickle=False, mmap_mode="r")
    except (ValueError, OSError, EOFError, TypeError, OverflowError, MemoryError) as err:
        raise AudioError(f"{path}: not a latent .npy file ({str(err).splitlines()[0][:120] if str(err) else type(err).__name__})") from None
    if not isinstance(latents, np.ndarray) or latents.dtype.kind not in "fiu" or latents.dtype.itemsize > 8:
        raise AudioError(f"{path}: not a latent .npy file (expected a float array)")
    if latents.ndim == 2:
        latents = latents[None]
    if latents.ndim != 3:
        raise AudioError(f"{path}: latents must be [channels, dim, frames], got shape {list(latents.shape)}")
    if latents.size > MAX_LATENT_VALUES:
        raise AudioError(f"{path}: latents of shape {list(latents.shape)} are too large (over {MAX_LATENT_VALUES} values)")
    if not (1 <= latents.shape[0] <= MAX_LATENT_CHANNELS) or latents.shape[1] == 0 or latents.shape[2] == 0:
        raise AudioError(f"{path}: latents must be [channels 1..{MAX_LATENT_CHANNELS}, dim > 0, frames > 0], got shape {list(latents.shape)}")
    latents = np.array(latents, dtype=np.float32)
    if not np.isfinite(latents).all():
        raise AudioError(f"{path}: latents contain NaN/Inf")
    meta_file = _meta_path(path)
    if codec is not None and meta_file.is_file():
        try:
            meta = json.loads(meta_file.read_bytes())
        except (ValueError, OSError):
            meta = {}
        if not isinstance(meta, dict):
            meta = {}
        fp = meta.get("fingerprint")
        if not isinstance(fp, str):
            fp = None
        if fp:
            check_fingerprint(path, "latents", fp, codec.fingerprint, expected_spec=codec.name,
                              fix=f"decode with --codec {str(meta.get('codec', '?'))[:80]} and the same options")
    if codec is not None and latents.shape[1] != codec.dim:
        raise CodecError(f"{path}: latents have dim {latents.shape[1]}, codec {codec.name} expects {codec.dim}")
    return latents.astype(np.float32, copy=False)


# ---- re-exports: every feature's Python entry point, in one namespace ------------------
# Imported on first use (PEP 562 ``__getattr__``), so ``import latentmorph.api`` costs
# numpy + the embedded codec, and torch loads only when a name that needs it is used.
# ``name: (module, attribute)``; add a feature's entry point here and in the TYPE_CHECKING block.
_LAZY: dict[str, tuple[str, str]] = {
    # Corpus index (latentmorph.corpus)
    "BuildReport": ("latentmorph.corpus.build", "BuildReport"),
    "CorpusIndex": ("latentmorph.corpus.index", "CorpusIndex"),
    "build_index": ("latentmorph.corpus.build", "build_index"),
    "load_index": ("latentmorph.corpus.index", "load_index"),
    "index_info": ("latentmorph.corpus.info", "index_info"),
    "export_index": ("latentmorph.corpus.portable", "export_index"),
    "import_index": ("latentmorph.corpus.portable", "import_index"),
    "search": ("latentmorph.corpus.search", "search"),
    "build_index_distributed": ("latentmorph.corpus.distributed", "build_index_distributed"),  # dask lazily
    # Evaluation (latentmorph.evaluate)
    "continuity": ("latentmorph.evaluate.continuity", "continuity"),
    "jump_positions": ("latentmorph.evaluate.continuity", "jump_positions"),
    "evaluate": ("latentmorph.evaluate.report", "evaluate"),
    "format_report": ("latentmorph.evaluate.report", "format_report"),
    "evaluate_files": ("latentmorph.evaluate.files", "evaluate_files"),
    "load_output": ("latentmorph.evaluate.files", "load_output"),
    "save_json": ("latentmorph.evaluate.files", "save_json"),
    # Diffusion conditions (latentmorph.diffusion.features; CLAP imports transformers on first use)
    **{n: ("latentmorph.diffusion.features", n) for n in (
        "BeatTrack", "Note", "beat_phase", "estimate_bpm", "phase_from_bpm", "piano_roll", "read_midi",
        "tempo_adherence", "track_beats", "write_midi")},
    "ClapEmbedder": ("latentmorph.diffusion.features.clap", "ClapEmbedder"),
    "save_random_clap": ("latentmorph.diffusion.features.clap", "save_random_clap"),
    # Latent granular transfer (latentmorph.transfer)
    "TRANSFER_PRESETS": ("latentmorph.transfer.engine", "PRESETS"),
    "MemoryCorpus": ("latentmorph.transfer.corpus", "MemoryCorpus"),
    "TransferResult": ("latentmorph.transfer.engine", "TransferResult"),
    "transfer": ("latentmorph.transfer.engine", "transfer"),
    "plot_transfer": ("latentmorph.transfer.plot", "plot_transfer"),  # matplotlib lazily
    "transfer_report": ("latentmorph.transfer.report", "report_dict"),
    "write_transfer_report": ("latentmorph.transfer.report", "write_report"),
    # Music2Latent (build one with get_codec("music2latent", weights=PATH); these are for direct use)
    "native_bf16": ("latentmorph.codecs.m2l_fast", "native_bf16"),
    "find_music2latent_weights": ("latentmorph.codecs.m2l_weights", "find_weights"),
    "save_random_music2latent_checkpoint": ("latentmorph.codecs.m2l_weights", "save_random_checkpoint"),
    "Music2LatentCodec": ("latentmorph.codecs.music2latent", "Music2LatentCodec"),
    # More codecs: EnCodec/DAC (transformers, lazily), RAVE
    "DacCodec": ("latentmorph.codecs.dac", "DacCodec"),
    "EncodecCodec": ("latentmorph.codecs.encodec", "EncodecCodec"),
    "RaveCodec": ("latentmorph.codecs.rave", "RaveCodec"),
    "codec_for_weights": ("latentmorph.codecs.detect", "codec_for_weights"),
    # Latent diffusion (latentmorph.diffusion)
    **{n: ("latentmorph.diffusion", n) for n in (
        "train", "generate", "restyle", "timbre_map", "load_model", "DiffusionModel", "TimbreMap", "TrainReport")},
    # Real-time streaming and the nn~ export (latentmorph.stream)
    "Streamer": ("latentmorph.stream", "Streamer"),
    "transfer_causal": ("latentmorph.stream", "transfer_causal"),
    "export_stream_module": ("latentmorph.stream.export", "export_module"),
}
__all__ += list(_LAZY)

if TYPE_CHECKING:  # pragma: no cover
    from latentmorph.codecs.dac import DacCodec
    from latentmorph.codecs.detect import codec_for_weights
    from latentmorph.codecs.encodec import EncodecCodec
    from latentmorph.codecs.m2l_fast import native_bf16
    from latentmorph.codecs.m2l_weights import find_weights as find_music2latent_weights
    from latentmorph.codecs.m2l_weights import save_random_checkpoint as save_random_music2latent_checkpoint
    from latentmorph.codecs.music2latent import Music2LatentCodec
    from latentmorph.codecs.rave import RaveCodec
    from latentmorph.corpus.build import BuildReport, build_index
    from latentmorph.corpus.distributed import build_index_distributed
    from latentmorph.corpus.index import CorpusIndex, load_index
    from latentmorph.corpus.info import index_info
    from latentmorph.corpus.portable import export_index, import_index
    from latentmorph.corpus.search import search
    from latentmorph.diffusion import DiffusionModel, TimbreMap, TrainReport, generate, load_model, restyle, timbre_map, train
    from latentmorph.diffusion.features import (
        BeatTrack, Note, beat_phase, estimate_bpm, phase_from_bpm, piano_roll, read_midi, tempo_adherence, track_beats,
        write_midi,
    )
    from latentmorph.diffusion.features.clap import ClapEmbedder, save_random_clap
    from latentmorph.evaluate.continuity import continuity, jump_positions
    from latentmorph.evaluate.files import evaluate_files, load_output, save_json
    from latentmorph.evaluate.report import evaluate, format_report
    from latentmorph.stream import Streamer, transfer_causal
    from latentmorph.stream.export import export_module as export_stream_module
    from latentmorph.transfer.corpus import MemoryCorpus
    from latentmorph.transfer.engine import PRESETS as TRANSFER_PRESETS
    from latentmorph.transfer.engine import TransferResult, transfer
    from latentmorph.transfer.plot import plot_transfer
    from latentmorph.transfer.report import report_dict as transfer_report
    from latentmorph.transfer.report import write_report as write_transfer_report


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'latentmorph.api' has no attribute {name!r}")
    value = getattr(importlib.import_module(target[0]), target[1])
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
