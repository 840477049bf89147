"""The numpy-in / numpy-out Python API (the CLI calls only this).

Audio is ``[channels, samples]`` or ``[samples]`` float with an explicit sample rate;
latents are ``[channels, dim, frames]``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from latentmorph.atomic import atomic_path, atomic_write_bytes
from latentmorph.audio import as_2d, check_wave, load
from latentmorph.codecs import Codec, get_codec
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
        if fp and fp != codec.fingerprint:
            raise CodecError(
                f"{path}: latents were made by codec {fp}, not {codec.fingerprint}; "
                f"decode with --codec {str(meta.get('codec', '?'))[:80]} and the same options"
            )
    if codec is not None and latents.shape[1] != codec.dim:
        raise CodecError(f"{path}: latents have dim {latents.shape[1]}, codec {codec.name} expects {codec.dim}")
    return latents.astype(np.float32, copy=False)


# ---- re-exports: every feature's Python entry point, in one namespace ------------------
# Corpus index (latentmorph.corpus)
from latentmorph.corpus import BuildReport, CorpusIndex, build_index, load_index  # noqa: E402
from latentmorph.corpus.info import index_info  # noqa: E402
from latentmorph.corpus.portable import export_index, import_index  # noqa: E402
from latentmorph.corpus.search import search  # noqa: E402

# Evaluation (latentmorph.evaluate)
from latentmorph.evaluate import continuity, evaluate, format_report, jump_positions  # noqa: E402
from latentmorph.evaluate.files import evaluate_files, load_output, save_json  # noqa: E402

# Diffusion conditions (latentmorph.diffusion.features; CLAP imports transformers on first use)
from latentmorph.diffusion.features import BeatTrack, Note, beat_phase, estimate_bpm, phase_from_bpm  # noqa: E402
from latentmorph.diffusion.features import piano_roll, read_midi, tempo_adherence, track_beats, write_midi  # noqa: E402
from latentmorph.diffusion.features.clap import ClapEmbedder, save_random_clap  # noqa: E402

__all__ += [
    "BeatTrack", "Note", "beat_phase", "estimate_bpm", "phase_from_bpm", "piano_roll", "read_midi",
    "tempo_adherence", "track_beats", "write_midi", "ClapEmbedder", "save_random_clap",
]

# Latent granular transfer (latentmorph.transfer)
from latentmorph.transfer import PRESETS as TRANSFER_PRESETS  # noqa: E402
from latentmorph.transfer import MemoryCorpus, TransferResult, transfer  # noqa: E402
from latentmorph.transfer.plot import plot_transfer  # noqa: E402  (matplotlib imported lazily inside)
from latentmorph.transfer.report import report_dict as transfer_report  # noqa: E402
from latentmorph.transfer.report import write_report as write_transfer_report  # noqa: E402

# Music2Latent (build one with get_codec("music2latent", weights=PATH); these are for direct use)
from latentmorph.codecs.m2l_fast import native_bf16  # noqa: E402
from latentmorph.codecs.m2l_weights import find_weights as find_music2latent_weights  # noqa: E402
from latentmorph.codecs.m2l_weights import save_random_checkpoint as save_random_music2latent_checkpoint  # noqa: E402
from latentmorph.codecs.music2latent import Music2LatentCodec  # noqa: E402

# Scale and more codecs: distributed indexing (dask imported lazily), EnCodec/DAC (transformers, lazily), RAVE
from latentmorph.codecs.dac import DacCodec  # noqa: E402
from latentmorph.codecs.detect import codec_for_weights  # noqa: E402
from latentmorph.codecs.encodec import EncodecCodec  # noqa: E402
from latentmorph.codecs.rave import RaveCodec  # noqa: E402
from latentmorph.corpus.distributed import build_index_distributed  # noqa: E402

__all__ += ["DacCodec", "EncodecCodec", "RaveCodec", "codec_for_weights", "build_index_distributed"]

__all__ += [
    "BuildReport", "CorpusIndex", "build_index", "load_index", "index_info", "export_index",
    "import_index", "search",
    "continuity", "evaluate", "format_report", "jump_positions", "evaluate_files", "load_output",
    "save_json",
    "TRANSFER_PRESETS", "MemoryCorpus", "TransferResult", "transfer", "plot_transfer",
    "transfer_report", "write_transfer_report",
    "Music2LatentCodec", "find_music2latent_weights", "save_random_music2latent_checkpoint",
    "native_bf16",
]

# Latent diffusion (latentmorph.diffusion): imported on first use, so `import latentmorph.api`
# does not build the diffusion package (see latentmorph/diffusion/__init__.py).
_DIFFUSION = ("train", "generate", "restyle", "timbre_map", "load_model", "DiffusionModel", "TimbreMap", "TrainReport")
__all__ += list(_DIFFUSION)


def __getattr__(name: str):  # noqa: ANN202
    if name in _DIFFUSION:
        import importlib

        return getattr(importlib.import_module("latentmorph.diffusion"), name)
    raise AttributeError(f"module 'latentmorph.api' has no attribute {name!r}")
# Real-time streaming and the nn~ export (latentmorph.stream)
from latentmorph.stream import Streamer, transfer_causal  # noqa: E402
from latentmorph.stream.export import export_module as export_stream_module  # noqa: E402

__all__ += ["Streamer", "transfer_causal", "export_stream_module"]
