"""Classifier-free guidance: single (one condition set) and dual (structure and timbre).

Every condition is dropped at random in training, so the same network predicts the
velocity with and without it; guidance extrapolates between those predictions.
"""

from __future__ import annotations

import torch


def cfg(dx_none: torch.Tensor, dx_cond: torch.Tensor, w: float) -> torch.Tensor:
    """Single guidance: ``dx_none + w (dx_cond - dx_none)``; ``w = 1`` is the plain conditional, 0 unconditional."""
    return dx_none + float(w) * (dx_cond - dx_none)


def dual_guidance(dx_none: torch.Tensor, dx_struct: torch.Tensor, dx_full: torch.Tensor,
                  structure: float, timbre: float) -> torch.Tensor:
    """Dual guidance for a structure weight ``S`` and a timbre weight ``T``::

        dx = dx_none + (S + T)/2 * [dx_struct + T / max(S, 0.1) * (dx_full - dx_struct) - dx_none]

    ``dx_none``: no structure, no timbre; ``dx_struct``: structure only; ``dx_full``: both.
    ``S = T = 1`` gives ``dx_full``. All tensors ``[B, D, T]``.
    """
    s, t = float(structure), float(timbre)
    inner = dx_struct + (t / max(s, 0.1)) * (dx_full - dx_struct) - dx_none
    return dx_none + 0.5 * (s + t) * inner
