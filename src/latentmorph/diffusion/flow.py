"""Rectified flow / IADB: the training objective and the Euler sampler.

A sample is blended from noise ``x0 ~ N(0, I)`` towards data ``x1`` along a straight line,
``x_a = (1 - a) x0 + a x1`` for ``a`` in [0, 1]; the network learns the constant velocity
``x1 - x0`` of that line (mean squared error). Sampling starts from fresh noise at ``a = 0``
and follows the predicted velocity with ``steps`` Euler steps to ``a = 1``.
"""

from __future__ import annotations

from typing import Callable

import torch

#: ``velocity(x_a [B, D, T], a [B]) -> dx [B, D, T]``
Velocity = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def blend(x0: torch.Tensor, x1: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """``x_a = (1 - a) x0 + a x1``; ``x0, x1 [B, D, T]``, ``a [B]``."""
    a = a.view(-1, *([1] * (x1.dim() - 1)))
    return (1.0 - a) * x0 + a * x1


def flow_loss(velocity: Velocity, x1: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Mean squared error of the predicted velocity against ``x1 - x0`` (a scalar).

    Args:
        velocity: the network, ``(x_a [B, D, T], a [B]) -> [B, D, T]``.
        x1: a batch of normalised data latents ``[B, D, T]``.
        generator: draws ``x0`` and ``a`` (training determinism).
    """
    x0 = torch.randn(x1.shape, generator=generator).to(x1.device)
    a = torch.rand(x1.shape[0], generator=generator).to(x1.device)
    pred = velocity(blend(x0, x1, a), a)
    return torch.mean((pred - (x1 - x0)) ** 2)


@torch.no_grad()
def euler_sample(velocity: Velocity, shape: tuple[int, ...], steps: int, generator: torch.Generator,
                 progress: Callable[[int], None] | None = None) -> torch.Tensor:
    """Integrate the flow from noise (``a = 0``) to data (``a = 1``) in ``steps`` equal Euler steps.

    Args:
        velocity: ``(x_a [B, D, T], a [B]) -> dx [B, D, T]`` (already guided, if wanted).
        shape: ``(B, D, T)`` of the result.
        steps: number of Euler steps (>= 1).
        generator: draws the starting noise; the same seed gives the same result.
        progress: called with the step index after each step.

    Returns:
        ``[B, D, T]`` float32 samples (normalised latent space).
    """
    if steps < 1:
        raise ValueError("steps must be at least 1")
    x = torch.randn(shape, generator=generator, dtype=torch.float32)
    da = 1.0 / steps
    for i in range(steps):
        a = torch.full((shape[0],), i * da, dtype=torch.float32)
        x = x + da * velocity(x, a)
        if progress is not None:
            progress(i)
    return x
