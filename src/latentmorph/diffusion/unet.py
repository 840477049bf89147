"""A 1-D UNet over latent frames with adaptive group norm for global conditions.

Input ``[B, C_in, T]`` (noisy latents with the per-frame conditions stacked on as extra
channels), global embedding ``[B, E]`` (flow time plus global conditions: timbre, CLAP);
output ``[B, D, T]`` velocity. ``T`` must be a multiple of ``2 ** (levels - 1)``
(:func:`pad_multiple`). Every residual block normalises with GroupNorm and then scales and
shifts by ``(1 + gamma(g), beta(g))`` (adaptive group norm).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def groups_for(channels: int) -> int:
    """Largest of 8, 4, 2, 1 that divides ``channels``."""
    return next(g for g in (8, 4, 2, 1) if channels % g == 0)


class AdaResBlock(nn.Module):
    """Two 3-tap convolutions with adaptive group norm, plus a residual path. ``[B, cin, T] -> [B, cout, T]``."""

    def __init__(self, cin: int, cout: int, emb: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(groups_for(cin), cin, affine=False)
        self.conv1 = nn.Conv1d(cin, cout, 3, padding=1)
        self.norm2 = nn.GroupNorm(groups_for(cout), cout, affine=False)
        self.conv2 = nn.Conv1d(cout, cout, 3, padding=1)
        self.film = nn.Linear(emb, 4 * cin if cin == cout else 2 * cin + 2 * cout)
        self.cin, self.cout = cin, cout
        self.skip = nn.Conv1d(cin, cout, 1) if cin != cout else nn.Identity()
        nn.init.zeros_(self.conv2.weight)
        assert self.conv2.bias is not None  # Conv1d(bias=True)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        s1, b1, s2, b2 = torch.split(self.film(g), [self.cin, self.cin, self.cout, self.cout], dim=1)
        h = self.norm1(x) * (1 + s1[..., None]) + b1[..., None]
        h = self.conv1(F.silu(h))
        h = self.norm2(h) * (1 + s2[..., None]) + b2[..., None]
        h = self.conv2(F.silu(h))
        return self.skip(x) + h


class UNet1d(nn.Module):
    """Encoder-decoder over frames with skips; ``levels`` resolutions, width doubling per level.

    Args:
        cin: input channels (latent dim + per-frame condition channels).
        dim: output channels (latent dim).
        channels: width at full resolution.
        levels: resolutions (each halves ``T``).
        emb: size of the global embedding.
    """

    def __init__(self, cin: int, dim: int, channels: int, levels: int, emb: int) -> None:
        super().__init__()
        widths = [channels * min(2 ** i, 4) for i in range(levels)]
        self.levels = levels
        self.inp = nn.Conv1d(cin, widths[0], 3, padding=1)
        self.down = nn.ModuleList()
        self.pool = nn.ModuleList()
        for i, w in enumerate(widths):
            self.down.append(AdaResBlock(widths[i - 1] if i else widths[0], w, emb))
            if i < levels - 1:
                self.pool.append(nn.Conv1d(w, w, 4, stride=2, padding=1))
        self.mid = AdaResBlock(widths[-1], widths[-1], emb)
        self.up = nn.ModuleList()
        for i in reversed(range(levels)):
            below = widths[-1] if i == levels - 1 else widths[i + 1]
            self.up.append(AdaResBlock(below + widths[i], widths[i], emb))
        self.out_norm = nn.GroupNorm(groups_for(widths[0]), widths[0])
        self.out = nn.Conv1d(widths[0], dim, 3, padding=1)

    @property
    def multiple(self) -> int:
        return 2 ** (self.levels - 1)

    def forward(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """``x [B, cin, T]``, ``g [B, emb]`` -> ``[B, dim, T]``."""
        h = self.inp(x)
        skips = []
        for i, block in enumerate(self.down):
            h = block(h, g)
            skips.append(h)
            if i < self.levels - 1:
                h = self.pool[i](h)
        h = self.mid(h, g)
        for block in self.up:
            skip = skips.pop()
            if h.shape[-1] != skip.shape[-1]:
                h = F.interpolate(h, size=skip.shape[-1], mode="nearest")
            h = block(torch.cat([h, skip], dim=1), g)
        return self.out(F.silu(self.out_norm(h)))
