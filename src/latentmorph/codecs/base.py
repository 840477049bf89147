"""The codec interface: audio ``[channels, samples]`` <-> latents ``[channels, dim, frames]``.

Every codec (the embedded DSP codec, Music2Latent, later EnCodec/DAC/RAVE) implements
:class:`Codec`. A codec knows nothing about corpora or matching.

Frame convention: latent frame ``t`` summarises the audio around samples
``[t * hop, (t + 1) * hop)`` at the codec's ``sample_rate``; a signal of ``S`` samples
gives ``ceil(S / hop)`` frames (Music2Latent with ``align="package"`` trims instead, see its module),
and decoding ``T`` frames gives about ``T * hop`` samples.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np

from latentmorph.audio.channels import as_2d
from latentmorph.audio.resample import resample


class Codec(ABC):
    """Base class of every codec.

    Subclasses set ``name``, ``sample_rate``, ``hop`` and ``dim`` and implement
    :meth:`encode`, :meth:`decode` and :meth:`config`.
    """

    #: Registry name, e.g. ``"embedded"`` or ``"music2latent"``.
    name: str = "codec"
    #: Sample rate the codec works at, in Hz.
    sample_rate: int = 44100
    #: Samples (at ``sample_rate``) per latent frame.
    hop: int = 1024
    #: Latent dimension.
    dim: int = 64
    #: Whether :meth:`decode` produces useful audio (a neural decoder or an inverse transform).
    can_decode: bool = True

    # ---- what the transfer engine reads (declared by each codec module) ---------------
    #: Samples (at ``sample_rate``) by which :meth:`decode`'s output lags the frames it
    #: decodes; the ``decode`` renderer cuts them so the result lines up with the source.
    latency_samples: int = 0
    #: Latent dimensions that carry overall loudness (the matching space weights them
    #: separately: ``transfer.space.MatchSpace``); ``()`` when no dimension does.
    loudness_dims: tuple[int, ...] = ()

    # ---- what an index stores to rebuild the codec (``corpus.codec_spec``) ------------
    #: The spec string this instance was built from (``"embedded:hop=512"``); set by
    #: :func:`latentmorph.codecs.get_codec`, ``None`` for an instance made directly (the index
    #: then rebuilds a spec from :meth:`config` and checks it against the fingerprint).
    spec: str | None = None
    #: The weights file or folder a network codec loaded (absolute), ``None`` for codecs
    #: without weights; with :attr:`weights_sha` an index finds them again if they move.
    weights_path: Path | None = None
    #: Content hash of :attr:`weights_path` (16 hex digits), ``""`` without weights.
    weights_sha: str = ""

    @property
    def default_render(self) -> str:
        """Renderer ``transfer()`` uses when none is given: ``"grains"`` or ``"decode"``.

        Codecs declare it; this fallback decodes when the codec can.
        """
        return "decode" if self.can_decode else "grains"

    def latent_level_db(self, latents: np.ndarray) -> np.ndarray | None:
        """Relative level in dB of each latent frame ``[N, dim] -> [N]``, or ``None`` when the
        latents do not say (then callers measure the audio)."""
        return None

    @property
    def frame_rate(self) -> float:
        """Latent frames per second."""
        return self.sample_rate / self.hop

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """Everything that changes the latents: hyper-parameters and a weights hash."""

    @property
    def fingerprint(self) -> str:
        """Stable id: ``name-<hash of config>``. Indexes store it to refuse foreign latents."""
        blob = json.dumps({"name": self.name, **self.config()}, sort_keys=True, default=str)
        return f"{self.name}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"

    @abstractmethod
    def encode(self, wave: np.ndarray) -> np.ndarray:
        """Encode audio at :attr:`sample_rate`.

        Args:
            wave: float ``[channels, samples]`` (or ``[samples]``) at ``sample_rate``.

        Returns:
            float32 latents ``[channels, dim, frames]``; channels are encoded independently.
        """

    @abstractmethod
    def decode(self, latents: np.ndarray) -> np.ndarray:
        """Decode latents ``[channels, dim, frames]`` to float32 audio ``[channels, samples]``."""

    def num_frames(self, num_samples: int) -> int:
        """Frames :meth:`encode` returns for ``num_samples`` samples at ``sample_rate``."""
        return max(1, -(-int(num_samples) // self.hop))

    def encode_audio(self, wave: np.ndarray, sr: int) -> np.ndarray:
        """Resample ``wave`` (any rate, ``[channels, samples]``) to the codec rate and encode it."""
        wave = as_2d(wave)
        return self.encode(resample(wave, int(sr), self.sample_rate))

    def decode_audio(self, latents: np.ndarray, sr: int | None = None) -> np.ndarray:
        """Decode and resample to ``sr`` (default: the codec rate)."""
        wave = self.decode(latents)
        return wave if sr is None else resample(wave, self.sample_rate, int(sr))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(sr={self.sample_rate}, hop={self.hop}, dim={self.dim})"
