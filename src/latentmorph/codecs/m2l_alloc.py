"""Keep glibc from handing Music2Latent's big activation buffers back to the kernel.

Why: the UNet's activations are hundreds of MB each (a 30 s encode has 64 x 1024 x 2584
floats, 677 MB, after the first convolution). glibc serves every block above its mmap
threshold (128 KiB, raised dynamically to at most 32 MiB) with a fresh ``mmap`` and
``munmap``s it on free, so each layer's output is new memory: every 4 KiB page is faulted
in and zeroed by the kernel again. Measured: ~1.8 M minor faults and ~45 % of the CPU
time in the kernel for a 10 s encode. ``MALLOC_*`` tunables cannot move the mmap
threshold past 32 MiB, which is why they did not help.

What :func:`reuse_freed_memory` does, for the duration of a codec call: ``mallopt``
``M_MMAP_MAX = 0`` (no block comes from its own mmap: everything from the heap, where a
freed block is reused by the next layer) and a huge ``M_TRIM_THRESHOLD`` (freed memory
stays in the heap instead of being trimmed after each layer). On leaving the outermost
call it restores glibc's fixed defaults and ``malloc_trim(0)`` returns the free heap to
the system, so the process does not keep the peak after the codec is done.

Only on glibc (Linux); elsewhere (musl, macOS, Windows, or an LD_PRELOADed jemalloc /
tcmalloc, which cache by themselves) it does nothing. ``LATENTMORPH_M2L_MALLOC=system``
turns it off.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, Iterator

M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
#: glibc's defaults, put back when the outermost call ends
DEFAULT_TRIM_THRESHOLD = 128 * 1024
DEFAULT_MMAP_MAX = 65536
ENV = "LATENTMORPH_M2L_MALLOC"

_lock = threading.Lock()
_depth = 0


@lru_cache(maxsize=1)
def _glibc() -> Any | None:
    """The process's glibc (with ``mallopt`` and ``malloc_trim``), or ``None``."""
    try:
        libc = ctypes.CDLL(None)
        version = libc.gnu_get_libc_version
        version.restype = ctypes.c_char_p
        version()
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.mallopt.restype = ctypes.c_int
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        libc.malloc_trim.restype = ctypes.c_int
    except (OSError, AttributeError, TypeError):
        return None
    if "jemalloc" in os.environ.get("LD_PRELOAD", "") or "tcmalloc" in os.environ.get("LD_PRELOAD", ""):
        return None  # a caching allocator is already in charge
    return libc


def enabled() -> bool:
    """True when :func:`reuse_freed_memory` will change glibc's behaviour here."""
    return os.environ.get(ENV, "reuse").lower() != "system" and _glibc() is not None


@contextmanager
def reuse_freed_memory() -> Iterator[bool]:
    """Within the block, glibc reuses freed big blocks instead of unmapping them (see module doc).

    Nested and concurrent uses are counted: settings change on the first entry and are
    restored (with a ``malloc_trim``) when the last one leaves. Yields whether it is active.
    """
    global _depth
    libc = _glibc() if enabled() else None
    if libc is None:
        yield False
        return
    with _lock:
        if _depth == 0:
            libc.mallopt(M_MMAP_MAX, 0)
            libc.mallopt(M_TRIM_THRESHOLD, 2**31 - 1)
        _depth += 1
    try:
        yield True
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                libc.mallopt(M_TRIM_THRESHOLD, DEFAULT_TRIM_THRESHOLD)
                libc.mallopt(M_MMAP_MAX, DEFAULT_MMAP_MAX)
                libc.malloc_trim(0)
