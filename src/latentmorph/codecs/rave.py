"""RAVE (Caillon & Esling 2021, IRCAM) from a user's exported TorchScript file, as a latentmorph codec.

``rave:PATH.ts`` (or ``--weights PATH.ts``, ``$LATENTMORPH_RAVE_WEIGHTS``): the ``.ts`` file
RAVE's ``export`` script writes (the one nn~ loads). It is opened with ``torch.jit.load`` on
the CPU and used only through its ``encode(x [B, 1, S]) -> z [B, D, T]`` and
``decode(z) -> [B, 1, S]`` methods. A TorchScript file runs its own TorchScript code (not
arbitrary Python); load only files you trust.

Latents are what ``encode`` returns: for a RAVE v2 export the posterior of the VAE (its
mean, or a sample when the export adds noise; we seed torch's generator with ``seed``
before each call so that encoding and decoding are deterministic), before any
quantisation a discrete-latent variant may apply in ``decode``.

Checked when the file loads, each with a one-line error: both methods exist; the sample
rate is known (the export's ``sr`` attribute, or ``sr=`` in the spec; they must agree);
the compression ratio measured by encoding silence of two lengths is a whole number of
samples per frame and matches the export's ``encode_params`` when it has them; ``decode``
returns ``hop`` samples per frame and one channel (or as many as the export takes in).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from latentmorph.codecs.neural import NeuralCodec
from latentmorph.codecs.registry import CodecEntry, register
from latentmorph.codecs.weights_files import weights_digest
from latentmorph.errors import CodecError

ENV_WEIGHTS = "LATENTMORPH_RAVE_WEIGHTS"
HOW_TO_GET = (
    "export a trained RAVE model on a machine that has it (`rave export --run RUN --streaming false`) "
    "and pass rave:FILE.ts or --weights FILE.ts"
)
#: Probe length in frames (the second probe uses twice as many).
PROBE_FRAMES = 4


def find_file(weights: str | os.PathLike | None) -> Path:
    """The ``.ts`` file: ``weights`` or ``$LATENTMORPH_RAVE_WEIGHTS`` (there is no default model)."""
    value = weights or os.environ.get(ENV_WEIGHTS)
    if not value:
        raise CodecError(f"RAVE needs a TorchScript file (no --weights, no ${ENV_WEIGHTS}); {HOW_TO_GET}")
    path = Path(value).expanduser()
    if not path.is_file():
        what = "is a folder, not a .ts file" if path.is_dir() else "file not found"
        raise CodecError(f"{path}: {what}; {HOW_TO_GET}")
    return path.resolve()


def _load(path: Path) -> Any:
    try:
        return torch.jit.load(str(path), map_location="cpu").eval()
    except Exception as err:  # noqa: BLE001  (a damaged file can raise anything)
        text = str(err).strip().splitlines()[0][:120] if str(err).strip() else ""
        raise CodecError(f"{path}: not a readable TorchScript file ({type(err).__name__}: {text}); {HOW_TO_GET}") from None


class RaveCodec(NeuralCodec):
    """A RAVE export: audio at its own rate <-> its latents (``D`` dims, ``sr / ratio`` frames/s).

    Args:
        weights: path to the exported ``.ts`` file.
        sr: sample rate of the model, when the export does not carry an ``sr`` attribute.
        seed: seed of torch's generator around each encode/decode call (determinism).
        chunk_seconds, context_seconds: see :mod:`latentmorph.codecs.neural`.

    Shapes: ``encode([C, S]) -> [C, D, ceil(S / hop)]``; ``decode([C, D, T]) -> [C, T * hop]``.
    """

    name = "rave"
    # transfer declarations (codecs.base.Codec): decoded output is kept frame-aligned,
    # no loudness dimension, the decoder is the renderer
    latency_samples = 0
    loudness_dims: tuple[int, ...] = ()
    default_render = "decode"

    def __init__(self, weights: str | None = None, *, sr: int | None = None, seed: int = 0,
                 chunk_seconds: float = 30.0, context_seconds: float = 1.0) -> None:
        path = find_file(weights)
        self.model = _load(path)
        self.weights_path = path
        self.weights_sha = weights_digest(path)
        self.seed = int(seed)
        for method in ("encode", "decode"):
            if not hasattr(self.model, method):
                raise CodecError(f"{path}: TorchScript module has no {method}() method; not a RAVE export ({HOW_TO_GET})")
        own_sr = getattr(self.model, "sr", None)
        if own_sr is not None and sr is not None and int(own_sr) != int(sr):
            raise CodecError(f"{path}: export says sr={int(own_sr)}, spec says sr={int(sr)}; drop sr= from the spec")
        rate = own_sr if own_sr is not None else sr
        if rate is None:
            raise CodecError(f"{path}: export has no sr attribute; give the model's sample rate, e.g. rave:{path},sr=48000")
        self.sample_rate = int(rate)
        if not 8000 <= self.sample_rate <= 192000:
            raise CodecError(f"{path}: sample rate {self.sample_rate} Hz is outside 8-192 kHz")
        self.in_channels = self._input_channels(path)
        self.hop, self.dim = self._probe(path)
        self._init_chunks(chunk_seconds, context_seconds)

    def _input_channels(self, path: Path) -> int:
        params = getattr(self.model, "encode_params", None)
        if params is None:
            return 1
        values = [int(v) for v in torch.as_tensor(params).flatten().tolist()]
        if len(values) != 4 or min(values) < 1:
            raise CodecError(f"{path}: encode_params {values} is not [in_channels, ratio, latent_dim, 1]")
        return values[0]

    def _call(self, method: str, x: torch.Tensor) -> torch.Tensor:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            y = getattr(self.model, method)(x)
        if not isinstance(y, torch.Tensor) or y.ndim != 3:
            raise CodecError(f"{self.weights_path}: {method}() returned {type(y).__name__} {list(getattr(y, 'shape', []))}, expected a [B, D, T] tensor")
        return y

    def _try(self, method: str, x: torch.Tensor, what: str) -> torch.Tensor:
        try:
            return self._call(method, x)
        except CodecError:
            raise
        except Exception as err:  # noqa: BLE001  (the export's own code can raise anything)
            text = str(err).strip().splitlines()[0][:120] if str(err).strip() else ""
            raise CodecError(f"{self.weights_path}: {method}() failed on {what} ({type(err).__name__}: {text})") from None

    def _probe(self, path: Path) -> tuple[int, int]:
        """Measure ``(hop, dim)`` by encoding silence of two lengths and decoding it again."""
        params = getattr(self.model, "encode_params", None)
        stated = int(torch.as_tensor(params).flatten()[1]) if params is not None else None
        n = (stated or 4096) * PROBE_FRAMES
        with torch.inference_mode():
            z1 = self._try("encode", torch.zeros(1, self.in_channels, n), f"{n} samples of silence")
            z2 = self._try("encode", torch.zeros(1, self.in_channels, 2 * n), f"{2 * n} samples of silence")
        t1, t2 = z1.shape[-1], z2.shape[-1]
        if t1 < 1 or t2 != 2 * t1 or n % t1:
            raise CodecError(f"{path}: encode gave {t1} and {t2} frames for {n} and {2 * n} samples; not a fixed whole-sample ratio")
        hop = n // t1
        if stated is not None and stated != hop:
            raise CodecError(f"{path}: encode_params say ratio {stated}, measured {hop} samples per frame")
        if z2.shape[1] != z1.shape[1]:
            raise CodecError(f"{path}: latent size changes with input length ({z1.shape[1]} vs {z2.shape[1]})")
        with torch.inference_mode():
            y = self._try("decode", z1, f"{t1} frames")
        if y.shape[-1] != n or y.shape[1] not in (1, self.in_channels):
            raise CodecError(f"{path}: decode gave {list(y.shape)} for {t1} frames, expected [1, 1, {n}] (hop {hop})")
        return hop, int(z1.shape[1])

    def config(self) -> dict[str, Any]:
        return {"version": 1, "model_type": "rave", "seed": self.seed, **self.base_config()}

    def _encode_net(self, x: torch.Tensor) -> torch.Tensor:
        return self._call("encode", x)

    def _decode_net(self, z: torch.Tensor) -> torch.Tensor:
        return self._call("decode", z)


def check() -> tuple[bool, str]:
    """For ``latentmorph codecs``: RAVE needs only torch and a file."""
    try:
        path = find_file(None)
    except CodecError as err:
        return False, str(err)
    return True, f"TorchScript file: {path}"


register(
    CodecEntry(
        name="rave",
        factory=RaveCodec,
        description="RAVE from your exported TorchScript file (rave:PATH.ts; its encode/decode latents)",
        check=check,
    )
)
