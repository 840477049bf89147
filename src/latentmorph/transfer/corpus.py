"""What the transfer engine needs from a corpus, and where it gets one.

:class:`TransferCorpus` is that need, typed: ``latents [N, dim]``, ``grains`` (a
:class:`~latentmorph.corpus.records.GrainTable`: ``file_id/channel/frame/start/aug``),
``hop``, ``sample_rate``, ``codec()``, ``path``, ``generation``, ``fingerprint``,
``files``, ``grain_levels`` (``[N]`` dB, or ``None`` for a corpus that cannot give them) and the audio,
``file_audio(file_id, aug)``. :class:`latentmorph.corpus.CorpusIndex` (on disk) and
:class:`MemoryCorpus` (sounds already in memory, no index written) both satisfy it;
:func:`open_corpus` turns the user's ``index=`` / ``corpus=`` arguments into one.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

from latentmorph.audio import as_2d, check_wave, resample
from latentmorph.codecs import Codec, get_codec
from latentmorph.codecs.fingerprint import check_fingerprint
from latentmorph.corpus.records import GrainTable
from latentmorph.corpus.validate import expected_grains
from latentmorph.errors import CorpusError
from latentmorph.cache import cache_dir


@runtime_checkable
class TransferCorpus(Protocol):
    """The corpus surface ``transfer()`` reads (an index on disk or in memory).

    Attributes:
        latents: ``[N, dim]`` float32, one row per grain.
        grains: :class:`GrainTable` of ``N`` rows (where each grain comes from).
        hop, sample_rate: samples per frame and the codec rate of the grains' audio.
        path: where the index lives (a folder, or a display name such as ``"<memory>"``).
        generation: id of this version of the latents (``None`` when there is none);
            caches built from the latents (FAISS) are keyed by it.
        fingerprint: the codec fingerprint the latents were made with.
        files: one record per corpus file, each with a ``path``.
        grain_levels: ``[N]`` float32 dB of each grain's audio when stored, else ``None``.
    """

    @property
    def latents(self) -> np.ndarray: ...

    @property
    def grains(self) -> GrainTable: ...

    @property
    def hop(self) -> int: ...

    @property
    def sample_rate(self) -> int: ...

    @property
    def path(self) -> Any: ...

    @property
    def fingerprint(self) -> str: ...

    @property
    def files(self) -> Sequence[Any]: ...

    @property
    def grain_levels(self) -> np.ndarray | None: ...

    @property
    def generation(self) -> str | None: ...

    def __len__(self) -> int: ...

    def codec(self) -> Codec:
        """The codec of the latents."""
        ...

    def file_audio(self, file_id: int, aug: int = 0) -> np.ndarray:
        """``[channels, samples]`` float32 at ``sample_rate`` of one (augmented) corpus file."""
        ...


@dataclass
class MemoryFile:
    """A corpus member held in memory; ``path`` is a display name."""

    path: str
    sample_rate: int
    channels: int
    frames: int


@dataclass(eq=False)  # compared and hashed by identity (per-corpus caches are keyed by it)
class MemoryCorpus:
    """An in-memory :class:`TransferCorpus` (see module docstring)."""

    codec_obj: Codec
    latents: np.ndarray
    grains: GrainTable
    files: list[MemoryFile]
    audio: list[np.ndarray] = field(repr=False)
    path: str = "<memory>"
    _levels: np.ndarray | None = field(default=None, init=False, repr=False)

    @property
    def grain_levels(self) -> np.ndarray:
        """``[N]`` float32 dB of each grain's audio, measured from the audio held here on first use."""
        if self._levels is None:
            from latentmorph.corpus.levels import corpus_levels

            self._levels = corpus_levels(self)
        return self._levels

    @property
    def generation(self) -> str | None:
        """In-memory latents have no stored generation."""
        return None

    @property
    def sample_rate(self) -> int:
        return self.codec_obj.sample_rate

    @property
    def hop(self) -> int:
        return self.codec_obj.hop

    @property
    def dim(self) -> int:
        return self.codec_obj.dim

    @property
    def codec_spec(self) -> str:
        return self.codec_obj.name

    @property
    def fingerprint(self) -> str:
        return self.codec_obj.fingerprint

    def __len__(self) -> int:
        return int(self.latents.shape[0])

    def codec(self) -> Codec:
        return self.codec_obj

    def file_audio(self, file_id: int, aug: int = 0) -> np.ndarray:
        """``[channels, samples]`` at :attr:`sample_rate`."""
        return self.audio[int(file_id)]

    @classmethod
    def from_audio(cls, sounds: Sequence[tuple[np.ndarray, int]], codec: str | Codec | None = None,
                   names: Sequence[str] | None = None) -> "MemoryCorpus":
        """Encode ``[(wave, sr), ...]`` (waves ``[samples]`` or ``[channels, samples]``)."""
        c = get_codec(codec)
        if not sounds:
            raise CorpusError("corpus: no sounds given")
        lat_rows: list[np.ndarray] = []
        records: list[Any] = []
        files: list[MemoryFile] = []
        audio: list[np.ndarray] = []
        for i, item in enumerate(sounds):
            try:
                wave, sr = item
            except (TypeError, ValueError):
                raise CorpusError(f"corpus item {i}: expected (wave, sample_rate) or a file path") from None
            name = names[i] if names else f"sound{i}"
            wave = check_wave(as_2d(wave), int(sr), name, warn_silence=False)
            at_codec = resample(wave, int(sr), c.sample_rate)
            lat = c.encode(at_codec)  # [C, D, T]
            C, D, T = lat.shape
            lat_rows.extend(lat[ch].T for ch in range(C))
            records.append({"channels": C, "frames": [T]})
            files.append(MemoryFile(name, int(sr), C, wave.shape[-1]))
            audio.append(at_codec)
        # the same grain-table layout an index on disk has (file, channel, frame; aug 0)
        grains = GrainTable(**expected_grains(records, 1, c.hop))
        return cls(c, np.concatenate(lat_rows).astype(np.float32), grains, files, audio)


def _is_path(x: Any) -> bool:
    return isinstance(x, (str, os.PathLike))


def cached_index_path(inputs: Sequence[str | os.PathLike], codec: Codec) -> Path:
    """Cache location for an index of ``inputs``: key = sorted absolute paths + codec fingerprint."""
    key = "\n".join(sorted(str(Path(p).resolve()) for p in inputs)) + "\n" + codec.fingerprint
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    return cache_dir() / "indexes" / f"{digest}.lmindex"


def open_corpus(index: Any = None, corpus: Any = None, codec: str | Codec | None = None, *,
                progress: bool = True, max_seconds: float | None = None) -> TransferCorpus:
    """Resolve the user's corpus arguments.

    Args:
        index: a loaded index / :class:`MemoryCorpus`, or a path to a ``.lmindex``.
        corpus: file/folder paths (an index is built or reused from the cache), or
            ``[(wave, sr), ...]`` arrays (encoded in memory).
        codec: the codec to use; ``None`` takes the index's.

    Returns:
        A :class:`TransferCorpus`.
    """
    if (index is None) == (corpus is None):
        raise CorpusError("give exactly one of index= (an index or .lmindex path) or corpus= (files or arrays)")
    if index is not None:
        if _is_path(index):
            from latentmorph.corpus import load_index

            return load_index(index, get_codec(codec)) if codec is not None else load_index(index)
        if isinstance(index, TransferCorpus):
            if codec is not None:
                c = get_codec(codec)
                if index.fingerprint:
                    check_fingerprint(index.path or "index", "index", index.fingerprint, c.fingerprint,
                                      expected_spec=c.name, fix="use the same codec or re-index", error=CorpusError)
            return index
        raise CorpusError(f"index: expected a corpus index or a .lmindex path, got {type(index).__name__}")
    if _is_path(corpus):
        corpus = [corpus]
    corpus = list(corpus)
    if not corpus:
        raise CorpusError("corpus: no files given")
    if all(_is_path(x) for x in corpus):
        from latentmorph.audio import find_audio_files
        from latentmorph.corpus import build_index
        from latentmorph.corpus.storage import NotAnIndex, remove_index
        from latentmorph.corpus.validate import IndexDamaged

        c = get_codec(codec)
        files = find_audio_files(corpus)
        if not files:
            raise CorpusError(f"{corpus[0]}: no audio files found in the corpus")
        target = cached_index_path(corpus, c)
        try:
            report = build_index(corpus, target, c, progress=progress, max_seconds=max_seconds)
        except (IndexDamaged, NotAnIndex) as err:
            # the cache is ours alone and derived from the corpus: a damaged one is rebuilt
            import warnings

            warnings.warn(f"{target}: cached corpus index unusable ({err}); rebuilding it", stacklevel=2)
            remove_index(target)
            report = build_index(corpus, target, c, progress=progress, max_seconds=max_seconds)
        return report.index
    return MemoryCorpus.from_audio(corpus, codec)
