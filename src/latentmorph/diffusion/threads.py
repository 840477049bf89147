"""How many CPU threads torch uses for a model.

Measured on the 2-core dev machine under load (8 users): one training step of the tiny
preset took 0.05 s on 1 thread and 1.9 s on 2 (the second thread spins waiting for a
busy core); the small preset (2.8 M parameters) trained at 1022 latent frames/s on 1
thread and 89 on 2. Models under :data:`SMALL_MODEL` parameters (tiny, small) therefore run
on one thread by default; larger ones (base, meant for a GPU) keep torch's setting. Encoding and decoding with the embedded codec
suffer the same way (decoding 2 s: 1.2 s on 1 thread, 7-9 s on 2), so the whole call runs
under the setting. ``threads=`` overrides either way.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any, Callable, Iterator, TypeVar

import torch

T = TypeVar("T")

#: Parameter count under which one thread is the default.
SMALL_MODEL = 10_000_000


def with_model_threads(func: Callable[..., T]) -> Callable[..., T]:
    """Run ``func(model, ...)`` (generate/restyle/timbre_map) with the thread count for that model.

    The model argument is loaded first (``as_model``) and passed on loaded; a ``threads=``
    keyword picks the count. Decoding and encoding inside run under the same setting.
    """

    @functools.wraps(func)
    def wrapper(model: Any, *args: Any, **kwargs: Any) -> T:
        from latentmorph.diffusion.sample import as_model

        m = as_model(model)
        with torch_threads(m.parameter_count(), kwargs.get("threads")):
            return func(m, *args, **kwargs)

    return wrapper


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
