"""Atomic file writes: write to a temporary file beside the target, then rename.

An interrupted run (Ctrl-C, kill -9, full disk) leaves either the old file or the new
one, never a half-written file. The temporary file is named
``.TARGET.lm<pid>.<random>.tmp<ext>``: recognisably ours, and naming the process that
writes it. A ``kill -9`` during the final write can still leave one behind; the next
write of the same target (or an index run, for its own folder) removes it, but only
when :func:`is_stale_temp` says so: the name is ours, the writer process is gone, and
the file is older than the process that cleans it.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Iterator

#: When this process started writing (temp files newer than this are never stale).
_STARTED = time.time()

_TEMP_RE = re.compile(r"\.(?P<target>.+)\.lm(?P<pid>\d+)\.[A-Za-z0-9_]{8}\.tmp(?:\.[A-Za-z0-9]+)?")


def temp_target(name: str) -> str | None:
    """The target name a temp file of ours was writing, or ``None`` if ``name`` is not ours."""
    m = _TEMP_RE.fullmatch(name)
    return m.group("target") if m else None


def _alive(pid: int) -> bool:
    if pid == os.getpid() or os.name != "posix":
        return True  # on Windows os.kill(pid, 0) would signal the process: never guess there
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists (another user's) or cannot tell: keep the file
    return True


def is_stale_temp(path: str | os.PathLike) -> bool:
    """A temp file we wrote whose writer died: our name, dead pid, older than this process."""
    p = Path(path)
    m = _TEMP_RE.fullmatch(p.name)
    if not m or _alive(int(m.group("pid"))):
        return False
    try:
        st = p.lstat()
    except OSError:
        return False
    return not p.is_symlink() and p.is_file() and st.st_mtime < _STARTED


def clean_stale_temps(folder: str | os.PathLike[str], target: str | None = None) -> list[Path]:
    """Delete stale temp files of ours in ``folder`` (only those for ``target`` when given)."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for e in entries:
        t = temp_target(e.name)
        if t is None or (target is not None and t != target):
            continue
        if is_stale_temp(e.path):
            with contextlib.suppress(OSError):
                os.unlink(e.path)
                removed.append(Path(e.path))
    return removed


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str | None = None, *, clean: bool = True) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it over ``target`` on success.

    The temporary file keeps the target's extension (or ``suffix``) so that libraries
    which infer the format from the name (soundfile, numpy) behave. On any exception
    the temporary file is removed and ``target`` is left untouched. With ``clean``
    (default) stale temp files of the same target left by a killed writer are removed
    first (this lists the folder; callers writing many files into one folder pass
    ``clean=False`` and call :func:`clean_stale_temps` once).
    """
    target = Path(target)
    folder = target.parent if str(target.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    if clean:
        clean_stale_temps(folder, target.name)
    ext = suffix if suffix is not None else "".join(target.suffixes[-1:])
    if not re.fullmatch(r"(\.[A-Za-z0-9]+)?", ext):
        ext = ""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.lm{os.getpid()}.", suffix=f".tmp{ext}", dir=folder)
    os.close(fd)
    tmp = Path(tmp_name)
    # mkstemp makes the file private (0600); give it the mode a plain open() would.
    os.chmod(tmp, 0o666 & ~_umask())
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, target)
        _fsync(folder)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(target: str | os.PathLike, data: bytes, *, clean: bool = True) -> None:
    """Write ``data`` to ``target`` atomically."""
    with atomic_path(target, clean=clean) as tmp:
        tmp.write_bytes(data)


def _fsync(path: Path) -> None:
    """Flush a file's (or a folder's entries') data to disk; best effort."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
