"""How many CPU threads torch uses for a diffusion call.

By default torch's own setting (all cores). Measured on the 2-core dev machine, quiet (load
0.8, 2026-12-01 07:16 UTC): training the small preset ran at 8,987 / 11,402 latent frames/s
on 1 thread against 16,312 / 13,209 on 2 (two interleaved pairs), and generating 8 s with the
demo model took 2.10 / 1.96 s on 1 thread against 1.34 / 1.38 s on 2. On a machine shared with
other busy processes one thread can be far faster (the second spins waiting for a busy core:
the small preset trained at 1022 frames/s on 1 thread and 89 on 2 at load 18), so ``threads=``
(``--threads``) sets it for the whole call, encoding and decoding included.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any, Callable, Iterator, TypeVar

import torch

T = TypeVar("T")



def with_model_threads(func: Callable[..., T]) -> Callable[..., T]:
    """Run ``func(model, ...)`` (generate/restyle/timbre_map) with the thread count for that model.

    The model argument is loaded first (``as_model``) and passed on loaded; a ``threads=``
    keyword picks the count. Decoding and encoding inside run under the same setting.
    """

    @functools.wraps(func)
    def wrapper(model: Any, *args: Any, **kwargs: Any) -> T:
        from latentmorph.diffusion.sample import as_model

        m = as_model(model)
        with torch_threads(kwargs.get("threads")):
            return func(m, *args, **kwargs)

    return wrapper


@contextlib.contextmanager
def torch_threads(threads: int | None = None) -> Iterator[int]:
    """Set torch's intra-op threads to ``threads`` for the block (``None``: leave them), restore them afterwards; yields the count."""
    before = torch.get_num_threads()
    n = int(threads) if threads else before
    torch.set_num_threads(max(1, n))
    try:
        yield max(1, n)
    finally:
        torch.set_num_threads(before)
