"""Running a frame-aligned network over long signals in chunks with context margins.

The EnCodec/DAC/RAVE networks map ``hop`` samples to one frame. Their activations for an
hour of audio do not fit in memory, so long inputs are cut into chunks of ``chunk`` frames;
each chunk is run with ``context`` extra frames of real signal on both sides (fewer at the
signal's edges) and only its own frames are kept. For a network whose receptive field is
shorter than the margin the result equals one pass over the whole signal; recurrent parts
(EnCodec's LSTM) make it a close approximation (measured in ``tests/test_neural_codecs.py``).
"""

from __future__ import annotations

from typing import Callable

import torch

from latentmorph.progress import report


def run_chunked(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    *,
    in_per_frame: int,
    out_per_frame: int,
    frames: int,
    chunk: int,
    context: int,
) -> torch.Tensor:
    """Apply ``fn`` to ``x [B, C, frames * in_per_frame]`` chunk by chunk.

    ``fn`` maps ``[B, C, n * in_per_frame]`` to ``[B, D, n * out_per_frame]``; the result is
    ``[B, D, frames * out_per_frame]``. Encoding: ``in_per_frame = hop``, ``out_per_frame = 1``;
    decoding the other way round. Reports each finished chunk to :mod:`latentmorph.progress`.
    """
    if frames <= chunk:
        return fn(x)
    outs = []
    count = -(-frames // chunk)
    for a in range(0, frames, chunk):
        b = min(frames, a + chunk)
        lo, hi = max(0, a - context), min(frames, b + context)
        y = fn(x[..., lo * in_per_frame : hi * in_per_frame])
        outs.append(y[..., (a - lo) * out_per_frame : (b - lo) * out_per_frame])
        report(1, count)
    return torch.cat(outs, dim=-1)
