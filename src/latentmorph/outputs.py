"""Output-path safety: the one guard every command runs before it does any work.

A command lists what it will write (:class:`Output`: path, the flag that named it, the
kind of file) and what it reads (:class:`Input`: files, and folders whose contents are
off limits such as an index). :func:`guard_outputs` then refuses, with one line naming
the file and the flag:

- an output that is one of the inputs, or lies inside an input folder marked ``tree``;
- two outputs that are the same file;
- an existing file of another kind (audio replaced by JSON, a user's own JSON replaced by
  a report, a folder replaced by a file...), unless ``force``;
- an output whose folder cannot be written (read-only folder or file system), so long
  work never ends in a failed write.

"The same file" compares resolved paths (symlinks followed, ``..`` removed) *and*
``(st_dev, st_ino)``, so a symlink or a hard link to an input counts as that input.

:func:`write_errors` turns an ``OSError`` raised while writing (full disk, read-only
file system, permission) into a one-line :class:`OutputError` naming the file.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from latentmorph.errors import LatentmorphError

#: Kinds of file a command may write. ``audio`` covers every audio format we write.
KINDS = ("audio", "latents", "sidecar", "report", "scores", "png", "pack", "index", "model", "torchscript")

_DESCRIBE = {
    "audio": "an audio file",
    "latents": "a .npy array",
    "sidecar": "a latentmorph latents sidecar",
    "report": "a latentmorph transfer report",
    "scores": "a latentmorph evaluate result",
    "png": "a PNG image",
    "pack": "a latentmorph .lmpack",
    "index": "a latentmorph index",
    "model": "a PyTorch file (a .lmdiff model or checkpoint)",
    "torchscript": "a TorchScript module",
    "json": "a JSON file latentmorph did not write",
    "folder": "a folder",
    "other": "a file latentmorph did not write",
}


class OutputError(LatentmorphError):
    """An output that would overwrite an input or another file, or cannot be written."""


@dataclass(frozen=True)
class Output:
    """A file a command will write: ``path``, the ``flag`` that named it (``-o``), its ``kind``."""

    path: Path
    flag: str
    kind: str


@dataclass(frozen=True)
class Input:
    """A file or folder a command reads. ``tree=True``: nothing inside it may be written either."""

    path: Path
    tree: bool = False


def _stat(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except (OSError, ValueError):
        return None


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError, ValueError):
        return path.absolute()


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True when ``a`` and ``b`` name one file: equal resolved paths, or equal device + inode."""
    a, b = Path(a), Path(b)
    if _resolved(a) == _resolved(b):
        return True
    sa, sb = _stat(a), _stat(b)
    return bool(sa and sb and (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino))


def inside(path: str | os.PathLike, folder: str | os.PathLike) -> bool:
    """True when ``path`` is ``folder`` or lies under it (resolved, and by inode of each parent)."""
    path, folder = Path(path), Path(folder)
    rp, rf = _resolved(path), _resolved(folder)
    if rp == rf or rf in rp.parents:
        return True
    sf = _stat(folder)
    if sf is None:
        return False
    for parent in [path, *_resolved(path).parents]:
        sp = _stat(parent)
        if sp and (sp.st_dev, sp.st_ino) == (sf.st_dev, sf.st_ino):
            return True
    return False


_AUDIO_MAGIC = (b"RIFF", b"RF64", b"fLaC", b"OggS", b"FORM", b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2", b"caff", b"wvpk")


def existing_kind(path: str | os.PathLike) -> str | None:
    """What is at ``path`` now: ``None`` (nothing, or an empty file), a :data:`KINDS` name, ``json``, ``folder`` or ``other``.

    Decided from the content (magic bytes, JSON keys), not the name.
    """
    path = Path(path)
    st = _stat(path)
    if st is None:
        return None
    if path.is_dir():
        return "index" if (path / "manifest.json").is_file() else "folder"
    if st.st_size == 0:
        return None
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError:
        return "other"
    if head.startswith(_AUDIO_MAGIC):
        return "audio"
    if head.startswith(b"\x93NUMPY"):
        return "latents"
    if head.startswith(b"\x89PNG"):
        return "png"
    if head.startswith(b"PK"):
        with contextlib.suppress(OSError, zipfile.BadZipFile, ValueError):
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
                if "manifest.npy" in names:
                    return "pack"
                # torch.jit.save archives hold compiled code; torch.save archives only data.pkl + tensors
                if any(n.endswith("/constants.pkl") or "/code/" in n for n in names):
                    return "torchscript"
                if any(n.endswith("/data.pkl") for n in names):
                    return "model"
        return "other"
    if head.lstrip()[:1] in (b"{", b"["):
        return _json_kind(path, st.st_size)
    return "other"


def _json_kind(path: Path, size: int) -> str:
    if size > 256 * 2**20:
        return "json"
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return "json"
    if isinstance(data, dict):
        if {"codec", "fingerprint", "shape"} <= data.keys():
            return "sidecar"
        if {"channels", "settings", "corpus_files"} <= data.keys():
            return "report"
        if {"content", "style", "sanity"} <= data.keys():
            return "scores"
    return "json"


def _writable_folder(path: Path) -> Path | None:
    """The nearest existing folder above ``path`` when it cannot be written, else ``None``."""
    folder = path.parent if str(path.parent) else Path(".")
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        return folder
    return None if os.access(folder, os.W_OK | os.X_OK) else folder


def check_writable(output: Output) -> None:
    """Refuse an output whose folder is missing and cannot be made, or cannot be written."""
    bad = _writable_folder(output.path)
    if bad is not None:
        why = "is not a folder" if bad.exists() and not bad.is_dir() else "is read-only"
        raise OutputError(f"{output.path}: cannot write {output.flag} here: {bad} {why}")


def check_space(output: Output, need_bytes: int) -> None:
    """Refuse an output when its file system has less free space than ``need_bytes`` (an estimate).

    Commands call it before long work with the size the output will have, so a full disk
    is reported at the start, not after an hour of work.
    """
    folder = output.path.parent if str(output.path.parent) else Path(".")
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        st = os.statvfs(folder)
    except OSError:
        return
    free = st.f_bavail * st.f_frsize
    if free < need_bytes:
        raise OutputError(
            f"{output.path}: {output.flag} needs about {need_bytes / 2**20:.1f} MB and the disk has "
            f"{free / 2**20:.1f} MB free; free some space or write elsewhere"
        )


def guard_outputs(outputs: Sequence[Output], inputs: Sequence[Input | str | os.PathLike], *, force: bool = False,
                  force_flag: str = "--force") -> None:
    """Refuse outputs that are inputs, duplicates, existing files of another kind, or unwritable.

    Args:
        outputs: everything the command will write (``None`` paths are left out by the caller).
        inputs: everything it reads; plain paths are files.
        force: allow replacing an existing file of another kind (never an input).
        force_flag: the flag named in the message.

    Raises:
        OutputError: one line naming the file and the flag.
    """
    ins = [i if isinstance(i, Input) else Input(Path(i)) for i in inputs]
    for n, out in enumerate(outputs):
        for i in ins:
            if same_file(out.path, i.path):
                raise OutputError(f"{out.path}: {out.flag} is also an input ({i.path}); refusing to overwrite it, choose another name")
            if i.tree and inside(out.path, i.path):
                raise OutputError(f"{out.path}: {out.flag} lies inside the input {i.path}; write it somewhere else")
        for other in outputs[:n]:
            if same_file(out.path, other.path):
                raise OutputError(f"{out.path}: {out.flag} and {other.flag} name the same file; give them different names")
    for out in outputs:
        have = existing_kind(out.path)
        if have == "folder" or (have == "index" and out.kind != "index"):
            raise OutputError(f"{out.path}: {out.flag} is an existing folder, expected a file name")
        if have is not None and have != out.kind and not force:
            raise OutputError(
                f"{out.path}: {out.flag} exists and is {_DESCRIBE.get(have, have)}, not {_DESCRIBE[out.kind]}; "
                f"pass {force_flag} to replace it, or choose another name"
            )
        check_writable(out)


_ERRNO_TEXT = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOENT: "folder not found",
    errno.ENOTDIR: "a parent is not a folder",
    errno.EISDIR: "is a folder",
    errno.ENAMETOOLONG: "file name too long",
    errno.EIO: "input/output error",
}


def describe_oserror(err: OSError) -> str:
    """A short reason for an ``OSError`` (``no space left on the device``...)."""
    return _ERRNO_TEXT.get(err.errno or -1) or (err.strerror or type(err).__name__).lower()


@contextlib.contextmanager
def write_errors(path: str | os.PathLike) -> Iterator[None]:
    """Turn an ``OSError`` (or a libsndfile write error) inside the block into a one-line :class:`OutputError`.

    The atomic writer has already removed its temporary file and left ``path`` as it was.
    """
    try:
        yield
    except OSError as err:
        raise OutputError(f"{path}: cannot write ({describe_oserror(err)}); the file was left as it was") from None
    except RuntimeError as err:  # soundfile.LibsndfileError is a RuntimeError, and hides the errno
        if type(err).__name__ != "LibsndfileError":
            raise
        why = "no space left on the device" if _nearly_full(Path(path)) else str(err).strip().rstrip(".")
        raise OutputError(f"{path}: cannot write ({why}); the file was left as it was") from None


def _nearly_full(path: Path, margin: int = 1 << 20) -> bool:
    """True when the file system holding ``path``'s folder has under ``margin`` bytes free."""
    folder = path.parent if str(path.parent) else Path(".")
    try:
        st = os.statvfs(folder)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < margin


__all__ = [
    "Input", "KINDS", "Output", "OutputError", "check_space", "check_writable", "describe_oserror", "existing_kind",
    "guard_outputs", "inside", "same_file", "write_errors",
]
