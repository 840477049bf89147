"""``DiffusionModel``: denoiser + condition encoders + latent statistics, one ``nn.Module``.

The model works in a normalised latent space: ``z = (latents - mean) / std`` per latent
dimension, with the statistics of the training latents stored as buffers. Its
:meth:`velocity` takes noisy normalised latents ``[B, D, T]``, flow time ``a [B]`` and
:class:`~latentmorph.diffusion.conditions.Conds`, and returns the predicted ``x1 - x0``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from latentmorph.diffusion.conditions import Conds
from latentmorph.diffusion.config import ModelConfig
from latentmorph.diffusion.encoders import StructureEncoder, TimbreEncoder
from latentmorph.diffusion.transformer import CausalTransformer, sinusoid
from latentmorph.diffusion.unet import UNet1d


def frame_channels(cfg: ModelConfig) -> int:
    """Extra input channels the per-frame conditions take (value channels + a presence flag each)."""
    n = 0
    if "tempo" in cfg.conditions:
        n += 3
    if "structure" in cfg.conditions:
        n += cfg.struct_dim + 1
    if "midi" in cfg.conditions:
        n += cfg.midi_dim + 1
    return n


class DiffusionModel(nn.Module):
    """A latent diffusion model (see module docstring).

    Attributes:
        config: its :class:`ModelConfig`.
        latent_mean, latent_std: ``[D]`` statistics of the training latents.
        timbre_mean ``[timbre_dim]``, timbre_axes ``[2, timbre_dim]``, timbre_scale ``[2]``:
            the 2-D timbre map (PCA of the training files' timbre vectors).
    """

    #: set by ``load_model``: the file it came from and its stored metadata
    source_path: Path
    meta: dict[str, Any]

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        config.check()
        self.config = config
        c = config
        # buffers, declared for type checkers (register_buffer sets them)
        self.latent_mean: torch.Tensor
        self.latent_std: torch.Tensor
        self.timbre_mean: torch.Tensor
        self.timbre_axes: torch.Tensor
        self.timbre_scale: torch.Tensor
        self.register_buffer("latent_mean", torch.zeros(c.dim))
        self.register_buffer("latent_std", torch.ones(c.dim))
        self.register_buffer("timbre_mean", torch.zeros(c.timbre_dim))
        self.register_buffer("timbre_axes", torch.eye(2, c.timbre_dim))
        self.register_buffer("timbre_scale", torch.ones(2))
        self.time_mlp = nn.Sequential(nn.Linear(c.emb, c.emb), nn.SiLU(), nn.Linear(c.emb, c.emb))
        cin = c.dim + frame_channels(c)
        if c.arch == "unet":
            self.denoiser: UNet1d | CausalTransformer = UNet1d(cin, c.dim, c.channels, c.levels, c.emb)
        else:
            self.denoiser = CausalTransformer(cin, c.dim, c.width, c.layers, c.heads, c.emb)
        if "timbre" in c.conditions:
            self.timbre_encoder = TimbreEncoder(c.dim, c.enc_hidden, c.timbre_dim)
            self.timbre_proj = nn.Linear(c.timbre_dim + 1, c.emb)
        if "structure" in c.conditions:
            self.structure_encoder = StructureEncoder(c.dim, c.enc_hidden, c.struct_dim)
        if "midi" in c.conditions:
            self.midi_proj = nn.Conv1d(128, c.midi_dim, 1)
        if "clap" in c.conditions:
            self.clap_proj = nn.Linear(c.clap_dim + 1, c.emb)

    # ---- latent space ------------------------------------------------------------------
    def normalize(self, latents: torch.Tensor) -> torch.Tensor:
        """``[B, D, T]`` codec latents -> normalised."""
        return (latents - self.latent_mean[:, None]) / self.latent_std[:, None]

    def denormalize(self, z: torch.Tensor) -> torch.Tensor:
        return z * self.latent_std[:, None] + self.latent_mean[:, None]

    def set_latent_stats(self, mean: np.ndarray, std: np.ndarray) -> None:
        self.latent_mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.latent_std.copy_(torch.as_tensor(np.maximum(std, 1e-4), dtype=torch.float32))

    # ---- encoders ------------------------------------------------------------------------
    def encode_timbre(self, z: torch.Tensor) -> torch.Tensor:
        """Normalised latents ``[B, D, T]`` -> timbre vectors ``[B, timbre_dim]`` in [-1, 1]."""
        return self.timbre_encoder(z)

    def encode_structure(self, z: torch.Tensor) -> torch.Tensor:
        """Normalised latents ``[B, D, T]`` -> structure ``[B, struct_dim, T]`` in [-1, 1]."""
        return self.structure_encoder(z)

    # ---- the network ------------------------------------------------------------------
    def _frame_inputs(self, conds: Conds, B: int, T: int) -> list[torch.Tensor]:
        cfg = self.config
        parts = []
        if "tempo" in cfg.conditions:
            k = conds.weight("tempo", B)[:, None, None]
            ph = conds.values.get("tempo", torch.zeros(B, T))[:, None, :T] * (2 * math.pi)
            parts += [torch.sin(ph) * k, torch.cos(ph) * k, k.expand(B, 1, T)]
        if "structure" in cfg.conditions:
            k = conds.weight("structure", B)[:, None, None]
            s = conds.values.get("structure", torch.zeros(B, cfg.struct_dim, T))[..., :T]
            parts += [s * k, k.expand(B, 1, T)]
        if "midi" in cfg.conditions:
            k = conds.weight("midi", B)[:, None, None]
            roll = conds.values.get("midi", torch.zeros(B, 128, T))[..., :T]
            parts += [self.midi_proj(roll) * k, k.expand(B, 1, T)]
        return parts

    def _global(self, a: torch.Tensor, conds: Conds, B: int) -> torch.Tensor:
        cfg = self.config
        g = self.time_mlp(sinusoid(a * 1000.0, cfg.emb))
        if "timbre" in cfg.conditions:
            k = conds.weight("timbre", B)[:, None]
            v = conds.values.get("timbre", torch.zeros(B, cfg.timbre_dim))
            g = g + self.timbre_proj(torch.cat([v * k, k], dim=1))
        if "clap" in cfg.conditions:
            k = conds.weight("clap", B)[:, None]
            v = conds.values.get("clap", torch.zeros(B, cfg.clap_dim))
            g = g + self.clap_proj(torch.cat([v * k, k], dim=1))
        return g

    def velocity(self, x: torch.Tensor, a: torch.Tensor, conds: Conds) -> torch.Tensor:
        """Predicted ``x1 - x0`` for noisy normalised latents.

        Args:
            x: ``[B, D, T]`` the blend ``(1 - a) x0 + a x1``.
            a: ``[B]`` flow time in [0, 1].
            conds: conditions with keep weights (per-frame ones at least ``T`` frames long).

        Returns:
            ``[B, D, T]``.
        """
        B, _, T = x.shape
        m = self.denoiser.multiple
        Tp = -(-T // m) * m
        h = torch.cat([x, *self._frame_inputs(conds, B, T)], dim=1)
        if Tp != T:
            h = F.pad(h, (0, Tp - T))
        return self.denoiser(h, self._global(a, conds, B))[..., :T]

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())
