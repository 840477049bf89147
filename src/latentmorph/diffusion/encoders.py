"""Condition encoders trained with the model.

``TimbreEncoder``: a global timbre vector from latents of *another* crop of the same file
(so it cannot carry the structure of the crop being denoised): per-frame features,
attentive pooling over frames (softmax weights from a learned score), a few dimensions
squashed into [-1, 1] with tanh.

``StructureEncoder``: a time-varying low-dimensional sequence from the crop's own latents
(what happens when: onsets, loudness, pitch contour), squashed with tanh. Its small
width is the bottleneck that leaves the colour to the timbre vector.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class TimbreEncoder(nn.Module):
    """``[B, D, T] -> [B, out]`` in [-1, 1] (any ``T >= 1``; ``mask [B, T]`` optional)."""

    def __init__(self, dim: int, hidden: int, out: int) -> None:
        super().__init__()
        self.feat = nn.Sequential(nn.Conv1d(dim, hidden, 3, padding=1), nn.GELU(),
                                  nn.Conv1d(hidden, hidden, 1), nn.GELU())
        self.score = nn.Conv1d(hidden, 1, 1)
        self.head = nn.Linear(hidden, out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.feat(x)  # [B, H, T]
        w = torch.softmax(self.score(h), dim=-1)  # [B, 1, T]
        pooled = (h * w).sum(-1)  # [B, H]
        return torch.tanh(self.head(pooled))


class StructureEncoder(nn.Module):
    """``[B, D, T] -> [B, out, T]`` in [-1, 1], receptive field 7 frames."""

    def __init__(self, dim: int, hidden: int, out: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(dim, hidden, 3, padding=1)
        self.conv2 = nn.Conv1d(hidden, hidden, 3, padding=1)
        self.conv3 = nn.Conv1d(hidden, hidden, 3, padding=1)
        self.head = nn.Conv1d(hidden, out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.gelu(self.conv1(x))
        h = F.gelu(self.conv2(h))
        h = F.gelu(self.conv3(h))
        return torch.tanh(self.head(h))
