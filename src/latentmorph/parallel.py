"""Independent numpy blocks spread over a few threads.

numpy's FFTs, elementwise loops and matrix products release the GIL, so blocks of STFT
frames (the embedded codec's encode, the K-weighting of the loudness stage) run on
several cores from plain threads. Each block is computed exactly as it would be alone,
and the results come back in order: the output does not depend on the thread count.

``LATENTMORPH_THREADS`` sets the number of threads (``1`` = everything in the calling
thread); the default is the CPU count, at most :data:`MAX_THREADS`.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Iterable, TypeVar

from latentmorph.errors import LatentmorphError

T = TypeVar("T")
R = TypeVar("R")

#: Most threads used by default (more rarely pays for blocks of a few MB).
MAX_THREADS = 4
#: The environment variable that sets the thread count.
ENV = "LATENTMORPH_THREADS"

_POOL: ThreadPoolExecutor | None = None
_POOL_SIZE = 0
_LOCK = threading.Lock()
_LOCAL = threading.local()


def threads() -> int:
    """Threads to use: ``LATENTMORPH_THREADS``, else ``min(cpu count, MAX_THREADS)``."""
    raw = os.environ.get(ENV, "").strip()
    if raw:
        try:
            n = int(raw)
        except ValueError:
            raise LatentmorphError(f"{ENV}={raw!r}: expected a whole number of threads (1 = no extra threads)") from None
        if n < 1:
            raise LatentmorphError(f"{ENV}={raw!r}: expected at least 1 thread")
        return n
    return max(1, min(os.cpu_count() or 1, MAX_THREADS))


def _forget_pool() -> None:
    """In a forked child: the parent's pool threads do not exist there, so start a new pool."""
    global _POOL, _POOL_SIZE, _LOCK
    _POOL, _POOL_SIZE, _LOCK = None, 0, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _pool(n: int) -> ThreadPoolExecutor:
    global _POOL, _POOL_SIZE
    with _LOCK:
        if _POOL is None or _POOL_SIZE != n:
            if _POOL is not None:
                _POOL.shutdown(wait=False)
            _POOL = ThreadPoolExecutor(max_workers=n, thread_name_prefix="latentmorph")
            _POOL_SIZE = n
        return _POOL


def _in_pool(fn: Callable[..., R], *args: Any) -> R:
    """``fn(*args)`` on a pool thread, marked as such: blocks it maps itself run inline, so the
    pool's threads never wait on the pool."""
    _LOCAL.inside = True
    try:
        return fn(*args)
    finally:
        _LOCAL.inside = False


def _inline() -> bool:
    """Whether work runs in the calling thread: one thread set, or the caller is a pool thread."""
    return threads() == 1 or getattr(_LOCAL, "inside", False)


def map_blocks(fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """``[fn(item) for item in items]``, the items spread over :func:`threads` threads.

    Runs in the calling thread when one thread is set, for a single item, and when called
    from one of the pool's own threads (no nested waiting on the same pool).
    """
    work = list(items)
    if len(work) < 2 or _inline():
        return [fn(item) for item in work]
    return list(_pool(threads()).map(lambda item: _in_pool(fn, item), work))


def split(count: int, parts: int | None = None, *, at_most: int | None = None) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` covering ``range(count)`` in about equal, ordered pieces: at least
    one per thread (``parts``, default :func:`threads`) and none longer than ``at_most``."""
    if count <= 0:
        return []
    n = max(1, int(parts or threads()))
    if at_most:
        n = max(n, -(-count // int(at_most)))
    n = min(n, count)
    edges = [count * i // n for i in range(n + 1)]
    return [(edges[i], edges[i + 1]) for i in range(n)]


def submit(fn: Callable[..., R], *args: Any) -> "Future[R]":
    """Run ``fn(*args)`` in the background (a pool thread); with one thread set, or from a pool
    thread, now, in the caller (the returned future is already done)."""
    if _inline():
        done: Future[R] = Future()
        try:
            done.set_result(fn(*args))
        except BaseException as err:  # noqa: BLE001 - handed to the caller through the future
            done.set_exception(err)
        return done
    return _pool(threads()).submit(_in_pool, fn, *args)
