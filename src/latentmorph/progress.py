"""Progress inside long library calls, for whoever shows it.

A codec call on a long signal (a neural encoder or decoder run chunk by chunk) can take
minutes; the caller's progress bar should move while it runs. The code doing the work
calls :func:`report` after each part; a caller that wants to know wraps the call in
:func:`listen`. Nothing is reported when nobody listens, and the work never depends on
it. A context variable, so threads and nested calls each see their own listener.

    with listen(lambda part: bar.update(part * steps)):
        codec.decode(latents)   # run_chunked reports 1/n after each of its n chunks
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Callable, Iterator

_LISTENER: ContextVar[Callable[[float], None] | None] = ContextVar("latentmorph_progress", default=None)


@contextmanager
def listen(fn: Callable[[float], None]) -> Iterator[None]:
    """Call ``fn(part)`` for every :func:`report` made inside the block (``part`` in ``(0, 1]``:
    the share of the current call's work just finished)."""
    token = _LISTENER.set(fn)
    try:
        yield
    finally:
        _LISTENER.reset(token)


def report(done: int, total: int) -> None:
    """Say that ``done`` more of ``total`` equal parts of the current call are finished."""
    fn = _LISTENER.get()
    if fn is not None and total > 0 and done > 0:
        fn(min(1.0, done / total))


class Steps:
    """A listener that moves ``bar`` by at most ``steps`` over one call, and by the rest at :meth:`finish`.

    ``bar`` is anything with ``update(n)`` (a tqdm bar). Parts beyond the whole (a codec
    that runs its chunks once per channel) are clamped, so the bar never overshoots.
    """

    def __init__(self, bar: object, steps: float) -> None:
        self.bar, self.steps, self.done = bar, float(steps), 0.0

    def __call__(self, part: float) -> None:
        n = min(self.steps - self.done, part * self.steps)
        if n > 0:
            self.done += n
            self.bar.update(n)  # type: ignore[attr-defined]

    def finish(self) -> None:
        """Move the bar to the end of this call's steps."""
        self(1.0)


class QuietBar:
    """What :func:`bar` gives when nothing is shown: takes a bar's calls and does nothing."""

    def __init__(self, total: float | None = None) -> None:
        self.total, self.n = total, 0.0

    def update(self, n: float = 1) -> None:
        self.n += n

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        pass

    def close(self) -> None:
        pass


def bar(total: float | None, desc: str, enabled: bool, **options: Any) -> Any:
    """A tqdm bar on stderr when ``enabled`` and stderr is a terminal, else a :class:`QuietBar`.

    tqdm is imported only when a bar is shown (~0.1 s of a command's start-up otherwise:
    ``--quiet``, a pipe, a notebook cell with ``progress=False``). ``options`` go to tqdm.
    """
    if not enabled or not sys.stderr.isatty():
        return QuietBar(total)
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, file=sys.stderr, **options)


__all__ = ["QuietBar", "Steps", "bar", "listen", "report"]
