"""Limits on what one request may cost, and the server's temporary files.

- :class:`Limits`: upload size, audio duration (``--max-seconds``), how many jobs run at
  once (the Gradio queue's concurrency limit) and how many may wait.
- :class:`TempSpace`: one private folder per server for uploads, indexes of uploaded
  corpora and outputs; files older than ``max_age`` are swept on each new job, and the
  whole folder is removed when the server closes.
- :func:`check_upload`: the checks every uploaded audio file passes before it is decoded.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from latentmorph.audio import info
from latentmorph.errors import AudioError

#: Marker file that says a folder is a latentmorph studio temp folder (only those are removed).
MARKER = ".latentmorph-ui"


@dataclass(frozen=True)
class Limits:
    """What the studio accepts.

    Attributes:
        max_seconds: longest audio accepted (source, corpus upload, diffusion length).
        max_upload_mb: largest uploaded file, in MiB (also Gradio's ``max_file_size``).
        concurrency: jobs (transfers, indexing, generation) running at once.
        queue_size: jobs allowed to wait; more are refused with a "busy" message.
        max_corpus_files: uploaded corpus files per request.
    """

    max_seconds: float = 120.0
    max_upload_mb: float = 50.0
    concurrency: int = 1
    queue_size: int = 16
    max_corpus_files: int = 32

    def __post_init__(self) -> None:
        if not self.max_seconds > 0:
            raise AudioError(f"--max-seconds must be above 0, got {self.max_seconds}")
        if not self.max_upload_mb > 0 or self.concurrency < 1 or self.queue_size < 1:
            raise AudioError("upload limit, concurrency and queue size must be positive")


def check_upload(path: str | os.PathLike, limits: Limits, what: str = "upload") -> tuple[int, int, int]:
    """Refuse an uploaded file that is too big, not audio, empty or too long.

    Returns:
        ``(sample_rate, channels, frames)`` from the file header (nothing decoded yet).

    Raises:
        AudioError: a one-line message naming the file by its base name.
    """
    p = Path(path)
    name = p.name
    try:
        size = p.stat().st_size
    except OSError:
        raise AudioError(f"{what} {name}: file is missing (upload again)") from None
    if size > limits.max_upload_mb * 1024 * 1024:
        raise AudioError(f"{what} {name}: {size / 2**20:.1f} MiB is over the {limits.max_upload_mb:g} MiB upload limit")
    try:
        sr, ch, frames = info(p)
    except AudioError:
        raise AudioError(f"{what} {name}: not a readable audio file (wav, flac, ogg, aiff, mp3)") from None
    if frames <= 0 or sr <= 0:
        raise AudioError(f"{what} {name}: contains no audio")
    if frames / sr > limits.max_seconds:
        raise AudioError(f"{what} {name}: {frames / sr:.1f} s is over the {limits.max_seconds:g} s limit (--max-seconds)")
    return sr, ch, frames


#: Name prefix of the temp folders.
PREFIX = "latentmorph-ui-"


def remove_stale(parent: str | os.PathLike | None = None) -> int:
    """Remove temp folders of studio servers that died without cleaning up (killed with -9):
    only folders named like ours, carrying our marker, whose recorded process is gone."""
    removed = 0
    for d in Path(parent or tempfile.gettempdir()).glob(PREFIX + "*"):
        try:
            first = (d / MARKER).read_text().split("\n", 1)[0]
            pid = int(first.split()[1]) if first.startswith("pid ") else None
        except (OSError, ValueError, IndexError):
            continue
        if pid is None or pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
            continue  # still running
        except ProcessLookupError:
            pass
        except PermissionError:
            continue  # another user's live process
        shutil.rmtree(d, ignore_errors=True)
        removed += 1
    return removed


class TempSpace:
    """A private temporary folder for one server (uploads, outputs, indexes of uploads).

    ``GRADIO_TEMP_DIR`` is pointed at :attr:`uploads` so that Gradio's own copies of
    uploaded files land here too and go away with the folder.
    """

    def __init__(self, parent: str | os.PathLike | None = None, *, max_age: float = 3600.0) -> None:
        remove_stale(parent)
        self.path = Path(tempfile.mkdtemp(prefix=PREFIX, dir=parent))
        (self.path / MARKER).write_text(f"pid {os.getpid()}\ntemporary files of one `latentmorph ui` server; "
                                        "removed when it stops\n")
        self.uploads = self.path / "gradio"
        self.jobs = self.path / "jobs"
        self.uploads.mkdir()
        self.jobs.mkdir()
        self.max_age = float(max_age)
        self._lock = threading.Lock()

    def job_dir(self) -> Path:
        """A new folder for one job's outputs (after sweeping old ones)."""
        self.sweep()
        d = self.jobs / f"{time.strftime('%H%M%S')}-{uuid.uuid4().hex[:8]}"
        d.mkdir()
        return d

    def sweep(self, now: float | None = None) -> int:
        """Remove job folders older than ``max_age`` seconds; returns how many went."""
        now = time.time() if now is None else now
        removed = 0
        with self._lock:
            for d in self.jobs.iterdir():
                try:
                    if now - d.stat().st_mtime > self.max_age:
                        shutil.rmtree(d, ignore_errors=True)
                        removed += 1
                except OSError:
                    continue
        return removed

    def close(self) -> None:
        """Remove the whole folder (only when it still carries our marker)."""
        if (self.path / MARKER).is_file():
            shutil.rmtree(self.path, ignore_errors=True)


__all__ = ["Limits", "MARKER", "PREFIX", "TempSpace", "check_upload", "remove_stale"]
