"""Shared machinery of the torch network codecs (EnCodec, DAC, RAVE).

A subclass sets ``name``, ``sample_rate``, ``hop``, ``dim``, ``in_channels`` (what the
network takes: 1, or 2 for EnCodec 48 kHz) and implements :meth:`_encode_net` /
:meth:`_decode_net` on torch tensors. This class does the rest, the same way for all:

* channels are a batch: each channel of the user's audio is encoded alone (a network that
  takes stereo gets the channel on both inputs; its stereo output is averaged back);
* the end is zero-padded to whole frames, so ``S`` samples give ``ceil(S / hop)`` frames and
  decoding ``T`` frames gives ``T * hop`` samples;
* long signals run in chunks of ``chunk_seconds`` with ``context_seconds`` margins
  (:mod:`latentmorph.codecs.chunked`);
* everything runs under ``torch.inference_mode`` on the CPU.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import numpy as np
import torch

from latentmorph.audio.channels import as_2d
from latentmorph.codecs.base import Codec
from latentmorph.codecs.chunked import run_chunked
from latentmorph.errors import CodecError


class NeuralCodec(Codec):
    """Base of the network codecs; see the module docstring.

    Attributes set by subclasses: ``weights_path`` (absolute), ``weights_sha`` (16 hex digits)
    (both declared on :class:`Codec`), ``in_channels``; ``chunk_seconds`` / ``context_seconds``
    come from the constructor.
    """

    in_channels: int = 1

    def _init_chunks(self, chunk_seconds: float, context_seconds: float) -> None:
        if float(chunk_seconds) <= 0 or float(context_seconds) < 0:
            raise CodecError(f"{self.name}: chunk_seconds must be > 0 and context_seconds >= 0")
        self.chunk_seconds = float(chunk_seconds)
        self.context_seconds = float(context_seconds)
        self._chunk = max(1, round(self.chunk_seconds * self.frame_rate))
        self._context = round(self.context_seconds * self.frame_rate)

    def base_config(self) -> dict[str, Any]:
        """The part of :meth:`config` every network codec shares."""
        return {
            "sample_rate": int(self.sample_rate),
            "hop": int(self.hop),
            "dim": int(self.dim),
            "chunk_seconds": self.chunk_seconds,
            "context_seconds": self.context_seconds,
            "weights_sha256": self.weights_sha,
        }

    @abstractmethod
    def _encode_net(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, in_channels, n * hop]`` -> ``[B, dim, n]``."""

    @abstractmethod
    def _decode_net(self, z: torch.Tensor) -> torch.Tensor:
        """``[B, dim, n]`` -> ``[B, out_channels, n * hop]``."""

    def encode(self, wave: np.ndarray) -> np.ndarray:
        """``[C, S]`` at :attr:`sample_rate` -> float32 ``[C, dim, ceil(S / hop)]``."""
        x = torch.from_numpy(np.ascontiguousarray(as_2d(wave), dtype=np.float32))
        frames = self.num_frames(x.shape[-1])
        x = torch.nn.functional.pad(x, (0, frames * self.hop - x.shape[-1]))
        x = x[:, None, :].expand(-1, self.in_channels, -1).contiguous()  # [C, in_channels, T*hop]
        with torch.inference_mode():
            z = run_chunked(self._encode_net, x, in_per_frame=self.hop, out_per_frame=1,
                            frames=frames, chunk=self._chunk, context=self._context)
        if z.shape[1:] != (self.dim, frames):
            raise CodecError(f"{self.name}: network returned latents {list(z.shape)}, expected [C, {self.dim}, {frames}]")
        return z.float().numpy().astype(np.float32, copy=False)

    def decode(self, latents: np.ndarray) -> np.ndarray:
        """``[C, dim, T]`` -> float32 ``[C, T * hop]`` at :attr:`sample_rate`."""
        lat = np.asarray(latents, dtype=np.float32)
        if lat.ndim == 2:
            lat = lat[None]
        if lat.ndim != 3 or lat.shape[1] != self.dim or lat.shape[-1] < 1:
            raise CodecError(f"{self.name}: latents must be [channels, {self.dim}, frames>=1], got {list(lat.shape)}")
        if not np.isfinite(lat).all():
            raise CodecError(f"{self.name}: latents contain NaN or Inf")
        frames = lat.shape[-1]
        z = torch.from_numpy(np.ascontiguousarray(lat))
        with torch.inference_mode():
            y = run_chunked(self._decode_net, z, in_per_frame=1, out_per_frame=self.hop,
                            frames=frames, chunk=self._chunk, context=self._context)
        if y.shape[-1] != frames * self.hop:
            raise CodecError(f"{self.name}: network decoded {y.shape[-1]} samples for {frames} frames, expected {frames * self.hop}")
        return y.mean(dim=1).float().numpy().astype(np.float32, copy=False)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(weights={str(self.weights_path)!r}, sr={self.sample_rate}, hop={self.hop}, dim={self.dim})"
