"""What EnCodec and DAC share: a ``transformers`` model from a local folder, run on its
continuous pre-quantisation embeddings (encoder output in, decoder output out, no RVQ)."""

from __future__ import annotations

import os
from typing import Any

import torch

from latentmorph.codecs import hf_local
from latentmorph.codecs.neural import NeuralCodec
from latentmorph.codecs.weights_files import weights_digest
from latentmorph.errors import CodecError


class TransformersCodec(NeuralCodec):
    """Base of :class:`~latentmorph.codecs.encodec.EncodecCodec` and :class:`~latentmorph.codecs.dac.DacCodec`.

    Subclasses set ``name``, ``model_type`` (``config.json``'s), ``model_class`` (the
    ``transformers`` class name), ``how_to_get`` (one sentence) and implement :meth:`find_folder`.
    """

    model_type: str = ""
    model_class: str = ""
    how_to_get: str = ""
    # transfer declarations (codecs.base.Codec): EnCodec/DAC decode in place (no delay, the
    # output is cut to the frames), no loudness dimension, the decoder is the renderer
    latency_samples = 0
    loudness_dims: tuple[int, ...] = ()
    default_render = "decode"

    @classmethod
    def find_folder(cls, weights: str | os.PathLike | None) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def __init__(self, weights: str | None = None, *, chunk_seconds: float = 30.0, context_seconds: float = 1.0) -> None:
        hf_local.require_transformers(self.name)
        folder, _ = hf_local.check_folder(self.find_folder(weights), self.model_type, self.how_to_get)
        self.model = hf_local.load_model(self.model_class, folder, self.model_type, self.how_to_get)
        c = self.model.config
        self.weights_path = folder
        self.weights_sha = weights_digest(folder)
        self.sample_rate = int(c.sampling_rate)
        self.hop = int(c.hop_length)
        self.dim = int(c.hidden_size)
        self.in_channels = int(getattr(c, "audio_channels", 1))
        if self.in_channels not in (1, 2):
            raise CodecError(f"{folder}: {self.model_type} with {self.in_channels} audio channels is not supported (1 or 2)")
        self._init_chunks(chunk_seconds, context_seconds)

    def config(self) -> dict[str, Any]:
        return {"version": 1, "model_type": self.model_type, "audio_channels": self.in_channels, **self.base_config()}

    def _encode_net(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.encoder(x)

    def _decode_net(self, z: torch.Tensor) -> torch.Tensor:
        return self.model.decoder(z)

    @classmethod
    def check(cls) -> tuple[bool, str]:
        """For ``latentmorph codecs``: transformers importable and a default folder found."""
        return hf_local.usable(cls.model_type, cls.find_folder, cls.how_to_get)
