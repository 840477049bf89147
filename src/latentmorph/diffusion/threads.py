"""How many CPU threads torch uses for a model.

Measured on the 2-core dev machine under load (8 users): one training step of the tiny
preset took 0.05 s on 1 thread and 1.9 s on 2 (the second thread spins waiting for a
busy core). Models under :data:`SMALL_MODEL` parameters therefore run on one thread by
default; larger ones keep torch's setting. ``threads=`` overrides either way.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch

#: Parameter count under which one thread is the default.
SMALL_MODEL = 1_000_000


@contextlib.contextmanager
def torch_threads(parameters: int, threads: int | None = None) -> Iterator[int]:
    """Set torch's intra-op threads for the block, restore them afterwards; yields the count."""
    before = torch.get_num_threads()
    n = int(threads) if threads else (1 if parameters < SMALL_MODEL else before)
    torch.set_num_threads(max(1, n))
    try:
        yield max(1, n)
    finally:
        torch.set_num_threads(before)
