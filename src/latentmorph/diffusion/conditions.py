"""The conditions fed to the denoiser, and their random dropout in training.

Per-frame conditions (stacked on the noisy latents as extra input channels):
``tempo`` (beat phase ``[B, T]`` in [0, 1), fed as sin/cos of ``2 pi phase``),
``structure`` (``[B, struct_dim, T]`` from the structure encoder) and ``midi``
(piano roll ``[B, 128, T]``, projected inside the model). Global conditions (added to
the flow-time embedding): ``timbre`` (``[B, timbre_dim]``) and ``clap`` (``[B, clap_dim]``).

Each condition has a ``keep`` weight ``[B]`` (1 = present, 0 = dropped); a dropped
condition is zeroed and its presence flag is 0 (the "null" condition), so one network
gives both the conditional and the unconditional velocity that guidance needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch

#: Per-frame conditions, then global ones.
FRAME_CONDITIONS = ("tempo", "structure", "midi")
GLOBAL_CONDITIONS = ("timbre", "clap")


@dataclass
class Conds:
    """Condition values (already encoded) and keep weights, batch ``B``.

    Attributes:
        values: name -> tensor (``tempo [B, T]``, ``structure [B, S, T]``, ``midi [B, 128, T]``,
            ``timbre [B, timbre_dim]``, ``clap [B, clap_dim]``).
        keep: name -> ``[B]`` float 1/0; a name absent from ``values`` is dropped everywhere.
    """

    values: dict[str, torch.Tensor] = field(default_factory=dict)
    keep: dict[str, torch.Tensor] = field(default_factory=dict)

    def weight(self, name: str, batch: int) -> torch.Tensor:
        """``[B]`` keep weight of ``name`` (zeros when absent)."""
        if name not in self.values:
            return torch.zeros(batch)
        return self.keep.get(name, torch.ones(batch))

    def keeping(self, names: tuple[str, ...] | set[str] | frozenset[str]) -> "Conds":
        """The same values with every condition outside ``names`` dropped (keep weight 0)."""
        b = self.batch_size()
        keep = {k: (self.weight(k, b) if k in names else torch.zeros(b)) for k in self.values}
        return Conds(dict(self.values), keep)

    def cat(self, *others: "Conds") -> "Conds":
        """Concatenate along the batch (every part must hold the same condition names)."""
        parts = (self, *others)
        names = list(self.values)
        if any(set(p.values) != set(names) for p in parts):
            raise ValueError("Conds.cat: parts hold different conditions")
        return Conds({n: torch.cat([p.values[n] for p in parts]) for n in names},
                     {n: torch.cat([p.weight(n, p.batch_size()) for p in parts]) for n in names})

    def batch_size(self) -> int:
        for v in self.values.values():
            return int(v.shape[0])
        return 1

    def repeat(self, n: int) -> "Conds":
        """Each batch item repeated ``n`` times (``repeat_interleave``)."""
        return Conds({k: v.repeat_interleave(n, 0) for k, v in self.values.items()},
                     {k: v.repeat_interleave(n, 0) for k, v in self.keep.items()})


def random_drop(conds: Conds, p: float, generator: torch.Generator) -> Conds:
    """Drop each condition of each example with probability ``p`` (training)."""
    keep = {}
    for name, v in conds.values.items():
        b = v.shape[0]
        draw = (torch.rand(b, generator=generator) >= p).float()
        keep[name] = conds.weight(name, b) * draw
    return replace(conds, keep=keep)
