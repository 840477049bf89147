"""What the page's buttons do, without the page: corpora, transfers, grain playback.

:class:`Studio` holds the server-wide pieces (roots, limits, temp space, caches of
loaded corpora and their maps) and offers plain methods that take paths and numbers
and return numpy arrays, images and dicts. ``app.py`` wires them to Gradio controls;
tests and the benchmark can call them directly. Every path from a request goes through
:class:`~latentmorph.ui.roots.Roots`; every upload through
:func:`~latentmorph.ui.jobs.check_upload`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from latentmorph.errors import CorpusError, LatentmorphError
from latentmorph.ui.corpus_map import CorpusMap, listen, output_path
from latentmorph.ui.jobs import Limits, TempSpace, check_upload
from latentmorph.ui.roots import RootError, Roots

#: Prefix of corpus keys that name an uploaded (not served) corpus.
UPLOAD_PREFIX = "upload:"

#: Loaded corpora (and their maps) kept in memory.
CACHED_CORPORA = 4

#: Seconds of corpus audio given to the style metric (the first files, cut to this total).
EVAL_CORPUS_SECONDS = 60.0


@dataclass
class LoadedCorpus:
    """A corpus ready for transfers: the index, display names of its files, its map (lazy)."""

    key: str
    index: Any
    names: list[str]
    _map: CorpusMap | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def corpus_map(self) -> CorpusMap:
        with self._lock:
            if self._map is None:
                self._map = CorpusMap.of_index(self.index, self.names)
            return self._map


@dataclass
class TransferOutput:
    """One finished transfer: audio, its report, path through the map, scores."""

    out: np.ndarray          # [C, S] or [S] at out_sr
    out_sr: int
    source: np.ndarray       # [C, S] at source_sr
    source_sr: int
    report: dict
    path: np.ndarray         # [T] grain id per output frame (-1 = source kept)
    scores: dict | None
    corpus_key: str


class Studio:
    """Server-wide state of one ``latentmorph ui``."""

    def __init__(self, roots: Roots, limits: Limits | None = None, temp: TempSpace | None = None,
                 model: str | None = None) -> None:
        self.roots = roots
        self.limits = limits or Limits()
        self.temp = temp or TempSpace()
        self.model = model
        self.clap: str | None = None  # a local CLAP folder for the Diffusion tab's text prompts
        self._corpora: OrderedDict[str, LoadedCorpus] = OrderedDict()
        self._lock = threading.Lock()

    # ---- what the roots hold ---------------------------------------------------------
    def index_choices(self) -> list[tuple[str, str]]:
        """``(label, value)`` for every ``.lmindex`` under the roots (value = the name shown)."""
        names = [self.roots.display(p) for p in self.roots.indexes()]
        return [(n, n) for n in names]

    def audio_choices(self) -> list[str]:
        """Display names of the audio files under the roots."""
        return [self.roots.display(p) for p in self.roots.audio_files()]

    def model_choices(self) -> list[str]:
        found = [self.roots.display(p) for p in self.roots.models()]
        return ([self.model] if self.model else []) + [f for f in found if f != self.model]

    # ---- sources -----------------------------------------------------------------------
    def uploaded(self, path: str | os.PathLike, what: str) -> Path:
        """An uploaded file's real path, which must lie in this server's temp folder (where
        Gradio stores uploads): a crafted request naming any other file gets nothing."""
        try:
            real = Path(path).resolve(strict=True)
        except (OSError, RuntimeError):
            raise RootError(f"{what} {Path(path).name}: upload is missing (upload again)") from None
        if not real.is_relative_to(self.temp.path.resolve()):
            raise RootError(f"{what} {Path(path).name}: not an upload of this server")
        return real

    def load_source(self, upload: str | None, picked: str | None, what: str = "source") -> tuple[np.ndarray, int, str]:
        """The source as ``([C, S] float32, sr, name)``: an uploaded/recorded file, else a file under the roots."""
        from latentmorph.audio import load

        if upload:
            path, name = self.uploaded(upload, what), Path(upload).name
            check_upload(path, self.limits, what)
        elif picked:
            path = self.roots.resolve(picked)
            name = self.roots.display(path)
            check_upload(path, self.limits, what)
        else:
            raise LatentmorphError(f"no {what}: upload or record one, or pick a file under the served folders")
        try:
            wave, sr = load(path, max_seconds=self.limits.max_seconds, warn_silence=False)
        except LatentmorphError as err:
            raise type(err)(str(err).replace(str(path), f"{what} {name}")) from None
        return wave, sr, name

    # ---- corpora -----------------------------------------------------------------------
    def _remember(self, loaded: LoadedCorpus) -> LoadedCorpus:
        with self._lock:
            self._corpora[loaded.key] = loaded
            self._corpora.move_to_end(loaded.key)
            while len(self._corpora) > CACHED_CORPORA:
                self._corpora.popitem(last=False)
        return loaded

    def open_index(self, choice: str) -> LoadedCorpus:
        """A served ``.lmindex`` (by its display name), checked to read only files under the roots."""
        from latentmorph.api import load_index

        real = self.roots.resolve(choice, kind="dir")
        if real.suffix != ".lmindex":
            raise RootError(f"{choice}: not a .lmindex folder")
        key = str(real)
        with self._lock:
            if key in self._corpora:
                self._corpora.move_to_end(key)
                return self._corpora[key]
        index = load_index(real)
        names = []
        for rec in index.files:
            p = Path(rec.path)
            p = p if p.is_absolute() else (real.parent / p)
            try:
                rp = p.resolve()
            except (OSError, RuntimeError):
                rp = p
            if not self.roots.contains(rp):
                raise CorpusError(f"{choice}: its corpus file {p.name} lies outside the served folders; "
                                  "serve that folder with --root too")
            names.append(self.roots.display(rp) if rp.exists() else p.name)
        return self._remember(LoadedCorpus(key, index, names))

    def index_uploads(self, files: Sequence[str | Path], progress: Callable[[int, int, str], None] | None = None) -> LoadedCorpus:
        """Index uploaded corpus files (checked, copied into the temp space) into a private index.

        The same set of files (by content) is indexed once per server.
        """
        from latentmorph.api import build_index

        files = [self.uploaded(f, "corpus file") for f in (files or []) if f]
        if not files:
            raise CorpusError("no corpus: pick an index or upload corpus files")
        if len(files) > self.limits.max_corpus_files:
            raise CorpusError(f"{len(files)} corpus files: at most {self.limits.max_corpus_files} per upload")
        digest = hashlib.sha256()
        for f in files:
            check_upload(f, self.limits, "corpus file")
            digest.update(Path(f).name.encode() + b"\0")
            with open(f, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
        key = UPLOAD_PREFIX + digest.hexdigest()[:16]
        with self._lock:
            if key in self._corpora:
                self._corpora.move_to_end(key)
                return self._corpora[key]
        folder = self.temp.path / "corpora" / key[len(UPLOAD_PREFIX):]
        if folder.exists():
            shutil.rmtree(folder)
        (folder / "files").mkdir(parents=True)
        copies = []
        for i, f in enumerate(files):
            dst = folder / "files" / f"{i:02d}-{Path(f).name}"
            shutil.copyfile(f, dst)
            copies.append(dst)
        done = [0]

        def on_file(_path: str) -> None:
            done[0] += 1
            if progress:
                progress(done[0], len(copies), Path(_path).name)

        report = build_index(copies, folder / "uploads.lmindex", progress=False,
                             max_seconds=self.limits.max_seconds, on_file=on_file)
        index = report.index
        names = [Path(r.path).name.split("-", 1)[-1] for r in index.files]
        return self._remember(LoadedCorpus(key, index, names))

    def corpus(self, choice: str | None, uploads: Sequence[str] | None,
               progress: Callable[[int, int, str], None] | None = None) -> LoadedCorpus:
        """Uploaded corpus files win over a picked index."""
        if uploads:
            return self.index_uploads(uploads, progress)
        if choice:
            if choice.startswith(UPLOAD_PREFIX):
                with self._lock:
                    if choice in self._corpora:
                        return self._corpora[choice]
                raise CorpusError("that uploaded corpus is no longer loaded: upload its files again")
            return self.open_index(choice)
        raise CorpusError("no corpus: pick an index under the served folders or upload corpus files")

    def corpus_by_key(self, key: str) -> LoadedCorpus:
        """A corpus this server loaded before (map clicks); served indexes are re-checked."""
        with self._lock:
            if key in self._corpora:
                return self._corpora[key]
        if key.startswith(UPLOAD_PREFIX):
            raise CorpusError("that uploaded corpus is no longer loaded: upload its files again")
        return self.open_index(key)

    # ---- transfer ----------------------------------------------------------------------
    def run_transfer(self, wave: np.ndarray, sr: int, corpus: LoadedCorpus, settings: dict, *,
                     source_name: str = "source", score: bool = True) -> TransferOutput:
        """Run ``lm.transfer`` on a loaded corpus, with its report, map path and scores."""
        from latentmorph import api

        out, out_sr, result = api.transfer(wave, sr, index=corpus.index, return_report=True, **settings)
        report = api.transfer_report(result, source_name=source_name)
        scores = self.scores(out, out_sr, wave, sr, corpus) if score else None
        return TransferOutput(out, out_sr, wave, sr, report, output_path(result), scores, corpus.key)

    def scores(self, out: np.ndarray, out_sr: int, wave: np.ndarray, sr: int, corpus: LoadedCorpus) -> dict:
        """``lm.evaluate`` of the output against its source and (up to a minute of) the corpus."""
        from latentmorph import api

        items, total = [], 0.0
        for fid in range(len(corpus.index.files)):
            try:
                audio = corpus.index.file_audio(fid)
            except (LatentmorphError, IndexError):
                continue
            left = EVAL_CORPUS_SECONDS - total
            n = min(audio.shape[-1], int(left * corpus.index.sample_rate))
            if n <= 0:
                break
            items.append((audio[:, :n], corpus.index.sample_rate))
            total += n / corpus.index.sample_rate
        return api.evaluate(out, out_sr, wave, sr, corpus=items or None)

    def grain(self, key: str, grain: int) -> tuple[np.ndarray, int, str]:
        """Half a second of corpus audio from ``grain`` on, and a line saying where it is from."""
        corpus = self.corpus_by_key(key)
        n = len(corpus.index)
        if not 0 <= int(grain) < n:
            raise CorpusError(f"grain {grain}: the corpus has grains 0..{n - 1}")
        g = corpus.index.grains
        fid = int(g.file_id[int(grain)])
        t = int(g.start[int(grain)]) / corpus.index.sample_rate
        audio, sr = listen(corpus.index, int(grain))
        return audio, sr, f"grain {int(grain)}: {corpus.names[fid]} at {t:.2f} s"

    def close(self) -> None:
        with self._lock:
            self._corpora.clear()
        self.temp.close()


__all__ = ["CACHED_CORPORA", "LoadedCorpus", "Studio", "TransferOutput", "UPLOAD_PREFIX"]
