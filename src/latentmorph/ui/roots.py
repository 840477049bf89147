"""Safe file access for the web studio: only files under the ``--root`` folders.

Every path that reaches the server from a page (a dropdown value, a text field, a
crafted API call) goes through :meth:`Roots.resolve`, which resolves symlinks and
``..`` first and then checks that the real path lies inside one of the real root
folders. A symlink inside a root that points outside it is therefore refused, as is an
absolute path elsewhere or a relative path that climbs out.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from latentmorph.audio import AUDIO_EXTENSIONS
from latentmorph.errors import LatentmorphError

#: Walking a root stops after this many entries, so a huge root cannot stall the page.
MAX_LISTED = 5000


class RootError(LatentmorphError):
    """A path that is not inside any served root folder."""


@dataclass(frozen=True)
class Roots:
    """The folders the studio may list and read.

    Attributes:
        folders: real (symlink-free, absolute) root folders, in the order given.
    """

    folders: tuple[Path, ...]

    @classmethod
    def of(cls, folders: Iterable[str | os.PathLike]) -> "Roots":
        """Resolve and check the ``--root`` folders (each must exist and be a folder)."""
        real = []
        for f in folders:
            p = Path(f).expanduser()
            if not p.is_dir():
                raise RootError(f"{p}: --root must be an existing folder")
            rp = p.resolve(strict=True)
            if rp not in real:
                real.append(rp)
        return cls(tuple(real))

    def contains(self, real: Path) -> bool:
        """Whether an already resolved path lies inside (or is) a root."""
        return any(real == r or real.is_relative_to(r) for r in self.folders)

    def resolve(self, path: str | os.PathLike, *, kind: str = "file") -> Path:
        """The real path of ``path`` if it is inside a root, else :class:`RootError`.

        A relative path is read against each root in turn (the first existing match wins);
        an absolute one must already point inside a root. ``kind`` is ``"file"``,
        ``"dir"`` or ``"any"``; the result exists and has that kind.
        """
        text = os.fspath(path)
        if not text or "\x00" in text:
            raise RootError("empty or invalid path")
        p = Path(text).expanduser()
        if ".." in p.parts:
            raise RootError(f"{text}: '..' is not allowed in paths")
        candidates = [p] if p.is_absolute() else [r / p for r in self.folders]
        for c in candidates:
            try:
                real = c.resolve(strict=True)
            except (OSError, RuntimeError):
                continue
            if not self.contains(real):
                raise RootError(f"{text}: outside the served folders")
            if kind == "file" and not real.is_file():
                raise RootError(f"{text}: not a file")
            if kind == "dir" and not real.is_dir():
                raise RootError(f"{text}: not a folder")
            return real
        raise RootError(f"{text}: not found under the served folders")

    def display(self, real: Path) -> str:
        """A short name for a path inside a root: ``ROOTNAME/relative/path``."""
        for r in self.folders:
            if real == r or real.is_relative_to(r):
                rel = real.relative_to(r)
                return str(Path(r.name) / rel) if len(self.folders) > 1 else (str(rel) if str(rel) != "." else r.name)
        raise RootError(f"{real}: outside the served folders")

    def walk(self, suffixes: Sequence[str], *, folders: bool = False) -> list[Path]:
        """Real paths under the roots whose name ends with one of ``suffixes``.

        Symlinks are followed only when their target stays inside a root; folders named
        like the suffix (``NAME.lmindex/``) are returned but not entered.
        """
        found: list[Path] = []
        seen: set[Path] = set()
        count = 0
        suffixes = tuple(s.lower() for s in suffixes)
        for root in self.folders:
            stack = [root]
            while stack and count < MAX_LISTED:
                folder = stack.pop()
                try:
                    entries = sorted(os.scandir(folder), key=lambda e: e.name)
                except OSError:
                    continue
                for e in entries:
                    count += 1
                    if e.name.startswith("."):
                        continue
                    try:
                        real = Path(e.path).resolve(strict=True)
                    except (OSError, RuntimeError):
                        continue
                    if not self.contains(real) or real in seen:
                        continue
                    match = e.name.lower().endswith(suffixes)
                    if real.is_dir():
                        seen.add(real)
                        if match and folders:
                            found.append(real)
                        elif not match:
                            stack.append(real)
                    elif match and not folders and real.is_file():
                        seen.add(real)
                        found.append(real)
        return sorted(found)

    def indexes(self) -> list[Path]:
        """Every ``NAME.lmindex`` folder under the roots."""
        return self.walk([".lmindex"], folders=True)

    def models(self) -> list[Path]:
        """Every ``.lmdiff`` diffusion model file under the roots."""
        return sorted(self.walk([".lmdiff"]) + self.walk([".lmdiff"], folders=True))

    def audio_files(self) -> list[Path]:
        """Every audio file under the roots."""
        return self.walk(sorted(AUDIO_EXTENSIONS))


__all__ = ["MAX_LISTED", "RootError", "Roots"]
