"""Music2Latent (Pasini et al. 2024, Sony CSL) as a latentmorph codec.

Uses the real ``music2latent`` package (``pip install 'latentmorph[music2latent]'``) for
the network (``UNet``) and its STFT front end, but never its ``EncoderDecoder`` (which
always tries to download and loads weights non-strictly): weights come from a local file
found by :mod:`latentmorph.codecs.m2l_weights`, and the CPU speed options live in
:mod:`latentmorph.codecs.m2l_fast`. Weights licence: CC BY-NC 4.0.

How frames map to samples (44.1 kHz):
    The package's STFT uses a 2048-sample Hann window, hop 512, no padding; the
    encoder turns every 8 STFT frames into one 64-dim latent frame. So the latent hop
    is 8 * 512 = 4096 samples (44100 / 4096 = 10.77 frames/s) and latent frame ``t``
    sees samples ``[4096 t, 4096 t + 5632)`` of the signal it is given, centred on
    ``4096 t + 2816``.

    ``align="center"`` (default): we pad 768 zeros in front, so frame ``t`` is centred on
    ``4096 t + 2048`` of *your* audio, i.e. it covers ``[t * hop, (t + 1) * hop)`` as
    latentmorph's convention says; the end is zero-padded so that ``S`` samples give
    ``ceil(S / 4096)`` frames (any length >= 1 sample works), and decoding ``T`` frames
    gives exactly ``T * 4096`` samples aligned with the input.

    ``align="package"``: exactly the package's cropping: ``S`` samples give
    ``(S - 1536) // 4096`` frames (the tail that does not fill a frame is dropped;
    inputs shorter than 5632 samples are refused), and decoding ``T`` frames gives
    ``T * 4096 + 1536`` samples starting at the input's first sample.

Long inputs are cut into chunks of ``max_waveform_length`` samples (rounded down to whole
latent frames), padded as the package does (with a copy of the start of the signal), run
``max_batch_size`` chunks at a time, and joined. Channels are a batch: each channel is
encoded exactly as if it were alone.

Decoding is a one-step consistency model: the UNet turns Gaussian noise (x ``sigma_max`` =
80) into a spectrogram conditioned on the latents. The noise comes from a generator seeded
with ``seed``, so decoding is deterministic; its influence on the output is small
(it enters with weight ~4e-5).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from latentmorph.audio.channels import as_2d
from latentmorph.codecs import m2l_alloc, m2l_cache
from latentmorph.codecs import m2l_weights as weights_mod
from latentmorph.codecs.base import Codec
from latentmorph.codecs.m2l_fast import UNetRunner, resolve_precision
from latentmorph.codecs.registry import CodecEntry, register
from latentmorph.errors import AudioError, CodecError
from latentmorph.progress import report

#: The package's constants (``music2latent/hparams*.py``), kept here so that frame
#: arithmetic needs no import of the package; checked against it when the model loads.
STFT_HOP = 512
STFT_WINDOW = 4 * STFT_HOP
DOWNSCALE = 8
HOP = STFT_HOP * DOWNSCALE  # 4096
CONTEXT = STFT_WINDOW - STFT_HOP  # 1536: samples one frame sees beyond its hop
CENTER_PAD = CONTEXT // 2  # 768
LATENT_DIM = 64
FEATURE_DIM = 8192  # pre-bottleneck features: 256 channels x 32 frequency rows
SIGMA_RESCALE = 0.06
SIGMA_MAX = 80.0


class Music2LatentCodec(Codec):
    """Music2Latent: 44.1 kHz audio <-> 64-dim latents at ~10.77 frames/s.

    Args:
        weights: path to ``music2latent.pt`` (else ``$LATENTMORPH_M2L_WEIGHTS``, the
            package folder, the latentmorph cache; nothing is ever downloaded).
        align: ``"center"`` (default) or ``"package"``; see the module docstring.
        max_waveform_length: longest chunk, in samples at 44.1 kHz, run through the
            network at once (package default: 60 s). Lower it to save memory.
        max_batch_size: chunks run together (package default 1). Higher uses more memory.
        extract_features: encode to the encoder's 8192-dim pre-bottleneck features
            instead of latents (for analysis; these cannot be decoded).
        denoising_steps: consistency steps when decoding (1 = the package default).
        seed: seed of the decoding noise.
        precision: ``"auto"`` (default), ``"fp32"`` or ``"bf16"``. ``auto`` uses bf16 only
            where the CPU has native bf16 *and* a cached probe measured it faster and
            within 25 dB SNR of fp32, and only for inputs of 16 frames or more (some short
            lengths were far off fp32 in bf16); see :mod:`latentmorph.codecs.m2l_precision`.
        compile: ``torch.compile`` the network (kernels cached on disk; eager fallback).
        threads: torch CPU threads (``None`` keeps torch's default).
        channels_last: run the UNet's convolutions on channels-last tensors (default; 2.4x
            faster encoding in bf16 on a Xeon with AMX, same values in fp32 within ~90 dB).
        latent_cache: keep the latents of every input of 16 frames or more in
            ``<cache>/m2l_latents`` and read them back when the same samples are encoded
            again with the same settings (see :mod:`latentmorph.codecs.m2l_cache`; also off
            with ``LATENTMORPH_M2L_LATENT_CACHE=off``).

    Shapes: ``encode([C, S]) -> [C, 64, T]``; ``decode([C, 64, T]) -> [C, T * 4096]``
    (``align="center"``).
    """

    name = "music2latent"
    sample_rate = 44100
    hop = HOP
    dim = LATENT_DIM
    # transfer declarations (codecs.base.Codec): decoded audio is aligned with its frames,
    # no latent dimension is a plain loudness, and it decodes unless extract_features
    latency_samples = 0
    loudness_dims: tuple[int, ...] = ()

    @property
    def default_render(self) -> str:
        return "decode" if self.can_decode else "grains"

    def __init__(
        self,
        weights: str | None = None,
        *,
        align: str = "center",
        max_waveform_length: int = 44100 * 60,
        max_batch_size: int = 1,
        extract_features: bool = False,
        denoising_steps: int = 1,
        seed: int = 0,
        precision: str = "auto",
        compile: bool = False,
        threads: int | None = None,
        channels_last: bool = True,
        latent_cache: bool = True,
    ) -> None:
        if not weights_mod.package_available():
            raise CodecError(f"music2latent codec needs the music2latent package; run: {weights_mod.INSTALL_HINT}")
        if align not in ("center", "package"):
            raise CodecError(f"music2latent: align must be 'center' or 'package', got {align!r}")
        if int(max_waveform_length) < HOP:
            raise CodecError(f"music2latent: max_waveform_length must be at least {HOP} samples, got {max_waveform_length}")
        if int(max_batch_size) < 1 or int(denoising_steps) < 1:
            raise CodecError("music2latent: max_batch_size and denoising_steps must be >= 1")
        self.weights_path = weights_mod.find_weights(weights)
        self.weights_sha = weights_mod.weights_hash(self.weights_path)
        self.align = align
        self.max_waveform_length = int(max_waveform_length)
        self.max_batch_size = int(max_batch_size)
        self.extract_features = bool(extract_features)
        self.denoising_steps = int(denoising_steps)
        self.seed = int(seed)
        self.precision = resolve_precision(precision)
        self.dim = FEATURE_DIM if self.extract_features else LATENT_DIM
        self.can_decode = not self.extract_features
        # the model is read (and checked) now, so a bad file fails at once with one line;
        # it is cheap (meta-device build, tensors assigned) and shared per weights file
        model = weights_mod.load_unet(self.weights_path)
        _check_package_constants()
        self.latent_cache = bool(latent_cache)
        #: where the last :meth:`encode` came from: "cache", "network", or None before any
        self.last_encode: str | None = None
        self.runner = UNetRunner(model, precision=self.precision, compile=compile, threads=threads, channels_last=channels_last)

    def config(self) -> dict[str, Any]:
        # Precision, compile and threads change latents only within the stated
        # tolerance, so they stay out of the fingerprint on purpose.
        return {
            "version": 1,
            "sample_rate": self.sample_rate,
            "hop": self.hop,
            "dim": self.dim,
            "align": self.align,
            "max_waveform_length": self.max_waveform_length,
            "extract_features": self.extract_features,
            "weights_sha256": self.weights_sha,
        }

    # ---- frame arithmetic -------------------------------------------------------------
    def num_frames(self, num_samples: int) -> int:
        """Frames :meth:`encode` returns for ``num_samples`` samples (see the module docstring)."""
        if self.align == "center":
            return max(1, -(-int(num_samples) // HOP))
        return max(0, (int(num_samples) - CONTEXT) // HOP)

    def _chunk_frames(self) -> int:
        """Latent frames per chunk (``max_waveform_length`` rounded down to whole frames)."""
        return max(1, (self.max_waveform_length // STFT_HOP) // DOWNSCALE)

    # ---- encode -----------------------------------------------------------------------
    def _prepare(self, wave: np.ndarray) -> tuple[torch.Tensor, int]:
        """Pad/crop ``[C, S]`` to ``T * 4096 + 1536`` samples; returns the tensor and ``T``."""
        x = torch.from_numpy(np.ascontiguousarray(as_2d(wave), dtype=np.float32))
        n = x.shape[-1]
        frames = self.num_frames(n)
        if frames < 1:
            raise AudioError(
                f"music2latent: audio is {n} samples; align='package' needs at least {HOP + CONTEXT} "
                f"({(HOP + CONTEXT) / self.sample_rate:.3f} s at 44.1 kHz)"
            )
        total = frames * HOP + CONTEXT
        if self.align == "center":
            x = torch.nn.functional.pad(x, (CENTER_PAD, total - CENTER_PAD - n))
        else:
            x = x[:, :total]
        return x, frames

    def encode(self, wave: np.ndarray) -> np.ndarray:
        """``[C, S]`` at 44.1 kHz -> ``[C, 64, T]`` latents (``[C, 8192, T]`` with ``extract_features``).

        With ``latent_cache`` (default), inputs of 16 frames or more already encoded with the
        same settings are read from the disk cache instead (identical values).
        """
        x, frames = self._prepare(wave)
        key = self._cache_key(x, frames)
        if key is not None:
            hit = m2l_cache.get(key, (x.shape[0], self.dim, frames))
            if hit is not None:
                self.last_encode = "cache"
                return hit
        latents = self._encode(x)
        self.last_encode = "network"
        if key is not None:
            m2l_cache.put(key, latents)
        return latents

    def _cache_key(self, x: torch.Tensor, frames: int) -> str | None:
        """The latent cache's key for the prepared input ``x`` ``[C, T*4096+1536]``, or None when not cached."""
        if not self.latent_cache or self.extract_features or frames < m2l_cache.MIN_FRAMES or not m2l_cache.enabled():
            return None
        runner = self.runner
        bf16 = runner.uses_bf16("encode", min(frames, self._chunk_frames()))  # what each chunk will run in
        tag = (f"{self.fingerprint}|{'bf16' if bf16 else 'fp32'}|"
               f"cl={runner.channels_last}|batch={self.max_batch_size}|compile={runner.compile}|"
               f"threads={torch.get_num_threads()}|torch {torch.__version__}")
        return m2l_cache.make_key(x.numpy(), tag)

    def _encode(self, x: torch.Tensor) -> np.ndarray:
        """The network's encoding of the prepared input ``x`` ``[C, T*4096+1536]``."""
        from music2latent.audio import to_representation_encoder

        channels = x.shape[0]
        runner = self.runner
        with m2l_alloc.reuse_freed_memory(), torch.inference_mode():
            spec = to_representation_encoder(x)  # [C, 2, 1024, 8T]
            chunk = self._chunk_frames() * DOWNSCALE
            spec, pad = _split_chunks(spec, chunk)  # [n*C, 2, 1024, <=chunk]
            parts = torch.split(spec, self.max_batch_size, dim=0)
            outs = []
            for part in parts:  # each batch of chunks is one report: a long encode moves the caller's bar
                outs.append(runner.encode(part, extract_features=self.extract_features))
                report(1, len(parts))
            latents = _join_chunks(torch.cat(outs, dim=0), channels)
        latents = latents[..., : latents.shape[-1] - pad // DOWNSCALE]
        if not self.extract_features:
            latents = latents / SIGMA_RESCALE
        return latents.numpy().astype(np.float32, copy=False)

    # ---- decode -----------------------------------------------------------------------
    def decode_spectrogram(self, latents: np.ndarray) -> torch.Tensor:
        """``[C, 64, T]`` -> the package's normalised STFT ``[C, 2, 1024, 8 T]`` (before the inverse STFT)."""
        if not self.can_decode:
            raise CodecError("music2latent: features made with extract_features=True cannot be decoded")
        lat = np.asarray(latents, dtype=np.float32)
        if lat.ndim == 2:
            lat = lat[None]
        if lat.ndim != 3 or lat.shape[1] != LATENT_DIM or lat.shape[-1] < 1:
            raise CodecError(f"music2latent: latents must be [channels, {LATENT_DIM}, frames>=1], got {list(lat.shape)}")
        channels = lat.shape[0]
        z = torch.from_numpy(np.ascontiguousarray(lat)) * SIGMA_RESCALE
        z, pad = _split_chunks(z, self._chunk_frames())
        gen = torch.Generator().manual_seed(self.seed)
        with m2l_alloc.reuse_freed_memory():
            parts = torch.split(z, self.max_batch_size, dim=0)
            outs = [self._denoise(part, gen, len(parts)) for part in parts]
        spec = _join_chunks(torch.cat(outs, dim=0), channels)
        return spec[..., : spec.shape[-1] - pad * DOWNSCALE]

    def _denoise(self, z: torch.Tensor, gen: torch.Generator, batches: int = 1) -> torch.Tensor:
        """The package's ``reverse_diffusion`` with our seeded generator; reports each of its
        steps as ``1 / (steps * batches)`` of the decode (:mod:`latentmorph.progress`)."""
        from music2latent.utils import get_sigma

        shape = (z.shape[0], 2, 2 * STFT_HOP, z.shape[-1] * DOWNSCALE)
        noisy = torch.randn(shape, generator=gen) * SIGMA_MAX
        steps = self.denoising_steps
        out = noisy
        for k in range(steps):
            sigma = get_sigma(steps + 1 - k, steps + 1)
            next_sigma = get_sigma(steps - k, steps + 1)
            out = self.runner.denoise(z, noisy, sigma)
            report(1, steps * batches)
            if k + 1 < steps:
                noisy = out + ((next_sigma**2 - 0.002**2) ** 0.5) * torch.randn(out.shape, generator=gen)
        return out

    def decode(self, latents: np.ndarray) -> np.ndarray:
        """``[C, 64, T]`` -> float32 ``[C, T * 4096]`` at 44.1 kHz (``T * 4096 + 1536`` with ``align="package"``)."""
        from music2latent.audio import to_waveform

        with m2l_alloc.reuse_freed_memory():
            spec = self.decode_spectrogram(latents)
            with torch.inference_mode():
                wave = to_waveform(spec)  # [C, 8T*512 + 1536]
        if self.align == "center":
            frames = spec.shape[-1] // DOWNSCALE
            wave = wave[:, CENTER_PAD : CENTER_PAD + frames * HOP]
        return wave.numpy().astype(np.float32, copy=False)

    def __repr__(self) -> str:
        return (
            f"Music2LatentCodec(weights={str(self.weights_path)!r}, align={self.align!r}, "
            f"precision={self.precision!r}, compile={self.runner.compile})"
        )


def _split_chunks(x: torch.Tensor, chunk: int) -> tuple[torch.Tensor, int]:
    """Cut the last axis into ``chunk``-long pieces stacked on the batch axis, as the package does.

    ``[C, ..., L]`` -> ``([n * C, ..., chunk], pad)``, piece-major (all channels of piece 0
    first). The last piece is filled with a copy of the start of the signal (the
    package's choice); ``pad`` says how much to cut off after joining.
    """
    length = x.shape[-1]
    if length <= chunk:
        return x, 0
    pad = chunk - length % chunk
    if pad == chunk:
        pad = 0
    if pad:
        reps = 1 + pad // length
        filler = torch.cat([x] * reps, dim=-1)[..., :pad]
        x = torch.cat([x, filler], dim=-1)
    return torch.cat(torch.split(x, chunk, dim=-1), dim=0), pad


def _join_chunks(x: torch.Tensor, channels: int) -> torch.Tensor:
    """Inverse of :func:`_split_chunks` (before cropping): ``[n * C, ..., l]`` -> ``[C, ..., n * l]``."""
    if x.shape[0] == channels:
        return x
    return torch.cat(torch.split(x, channels, dim=0), dim=-1)


def _check_package_constants() -> None:
    """Fail loudly if a future music2latent release changes the frame arithmetic we rely on."""
    from music2latent import hparams, hparams_inference

    got = (hparams.hop, 2 ** hparams.freq_downsample_list.count(0), hparams.bottleneck_channels, hparams_inference.sigma_rescale, hparams.sigma_max)
    want = (STFT_HOP, DOWNSCALE, LATENT_DIM, SIGMA_RESCALE, SIGMA_MAX)
    if got != want:
        raise CodecError(f"music2latent: installed package has hop/downscale/dim/sigma {got}, latentmorph expects {want}; pin music2latent==0.1.8")


def check() -> tuple[bool, str]:
    """For ``latentmorph codecs``: is the package importable, and where are the weights?"""
    if not weights_mod.package_available():
        return False, f"package music2latent not installed ({weights_mod.INSTALL_HINT})"
    broken = weights_mod.package_import_error()
    if broken:
        return False, f"package music2latent installed but cannot be imported ({broken})"
    try:
        path = weights_mod.find_weights(None)
    except CodecError as err:
        return False, f"package installed; {err}"
    return True, f"package installed; weights: {path}"


register(
    CodecEntry(
        name="music2latent",
        factory=Music2LatentCodec,
        description="Music2Latent neural codec (44.1 kHz, 10.77 frames/s x 64); needs local weights (CC BY-NC 4.0)",
        check=check,
        aliases=("m2l",),
    )
)
