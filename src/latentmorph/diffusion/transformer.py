"""A small causal transformer denoiser: frame ``t`` sees only frames ``<= t``.

This is the form real-time use needs (a stream can be denoised as frames arrive).
Input ``[B, C_in, T]`` and global embedding ``[B, E]`` as for the UNet; each block
applies adaptive layer norm (scale/shift from the global embedding), causal
self-attention, and an MLP. Positions are sinusoidal, so any length works.
"""

from __future__ import annotations

import math
from typing import cast

import torch
from torch import nn
from torch.nn import functional as F


def sinusoid(positions: torch.Tensor, size: int) -> torch.Tensor:
    """``[N]`` float positions -> ``[N, size]`` sin/cos features at geometric frequencies."""
    half = size // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / max(half, 1))
    angles = positions.float()[:, None] * freqs[None]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


class CausalBlock(nn.Module):
    """Pre-norm block: adaptive LayerNorm -> causal attention -> adaptive LayerNorm -> MLP."""

    def __init__(self, width: int, heads: int, emb: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(width, elementwise_affine=False)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.norm2 = nn.LayerNorm(width, elementwise_affine=False)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))
        self.film = nn.Linear(emb, 4 * width)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(cast(nn.Linear, self.mlp[2]).weight)

    def forward(self, h: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """``h [B, T, W]``, ``g [B, E]`` -> ``[B, T, W]``."""
        B, T, W = h.shape
        s1, b1, s2, b2 = self.film(g)[:, None].chunk(4, dim=-1)
        x = self.norm1(h) * (1 + s1) + b1
        q, k, v = self.qkv(x).view(B, T, 3, self.heads, W // self.heads).permute(2, 0, 3, 1, 4)
        att = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        h = h + self.proj(att.transpose(1, 2).reshape(B, T, W))
        x = self.norm2(h) * (1 + s2) + b2
        return h + self.mlp(x)


class CausalTransformer(nn.Module):
    """``layers`` causal blocks of ``width`` channels.

    Args:
        cin: input channels (latent dim + per-frame condition channels).
        dim: output channels (latent dim).
        width, layers, heads: transformer size (``width`` divisible by ``heads``).
        emb: size of the global embedding.
    """

    multiple = 1

    def __init__(self, cin: int, dim: int, width: int, layers: int, heads: int, emb: int) -> None:
        super().__init__()
        self.inp = nn.Linear(cin, width)
        self.blocks = nn.ModuleList(CausalBlock(width, heads, emb) for _ in range(layers))
        self.norm = nn.LayerNorm(width)
        self.out = nn.Linear(width, dim)
        self.width = width

    def forward(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """``x [B, cin, T]``, ``g [B, emb]`` -> ``[B, dim, T]``."""
        T = x.shape[-1]
        h = self.inp(x.transpose(1, 2)) + sinusoid(torch.arange(T), self.width)[None]
        for block in self.blocks:
            h = block(h, g)
        return self.out(self.norm(h)).transpose(1, 2)
