"""An exclusive, process-wide lock on an index folder.

Two ``latentmorph index`` runs writing the same index are serialised: the second
waits (or gives up after ``timeout`` seconds with a :class:`CorpusError`). The lock
is an OS advisory lock (``flock``) on ``NAME.lmindex/.lock``, so it is released by
the kernel when its holder dies, even after ``kill -9``: a stale lock never blocks.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path
from typing import Iterator

from latentmorph.errors import CorpusError

LOCK_NAME = ".lock"

if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False

    def _unlock(fd: int) -> None:
        with contextlib.suppress(OSError):
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _same_file(fd: int, path: Path) -> bool:
    try:
        a, b = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _holder(path: Path) -> str:
    with contextlib.suppress(OSError, ValueError):
        text = path.read_text().strip()
        if text:
            return f" (held by pid {int(text)})"
    return ""


@contextlib.contextmanager
def index_lock(index_dir: str | os.PathLike, timeout: float | None = None, *, notify: bool = True) -> Iterator[Path]:
    """Hold the write lock of ``index_dir`` (created if needed) for the ``with`` block.

    Args:
        index_dir: the ``NAME.lmindex`` folder.
        timeout: seconds to wait for another writer; ``None`` waits as long as it takes,
            ``0`` fails at once.
        notify: print one line to stderr when we have to wait.

    Raises:
        CorpusError: the lock is still held after ``timeout`` seconds.
    """
    folder = Path(index_dir)
    lock_file = folder / LOCK_NAME
    deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
    told = False
    while True:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise CorpusError(f"{lock_file}: cannot create the index lock ({err.strerror})") from None
        while not _try_lock(fd):
            if deadline is not None and time.monotonic() >= deadline:
                os.close(fd)
                raise CorpusError(f"{folder}: index is locked by another latentmorph process{_holder(lock_file)}; try again when it finishes")
            if notify and not told:
                print(f"latentmorph: {folder}: waiting for another process writing this index{_holder(lock_file)}", file=sys.stderr)
                told = True
            time.sleep(0.05)
        if _same_file(fd, lock_file):
            break
        # the holder removed the folder (a failed first build cleaning up): start again
        _unlock(fd)
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        try:
            yield lock_file
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            _unlock(fd)
    finally:
        os.close(fd)
