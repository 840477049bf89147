"""The loaded index: latents, grain table, file records, search and corpus audio."""

from __future__ import annotations

import os
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from latentmorph.codecs import Codec, get_codec
from latentmorph.codecs.fingerprint import check_fingerprint
from latentmorph.corpus import storage
from latentmorph.corpus.augment import describe
from latentmorph.corpus.records import FileRecord, GrainTable, SkippedFile
from latentmorph.corpus.search import ExactSearch, check_metric
from latentmorph.corpus.validate import LEVEL_KEY
from latentmorph.errors import AudioError, CodecError, CorpusError

#: Decoded corpus files :meth:`CorpusIndex.file_audio` always keeps (the most recently used,
#: whatever their size: a corpus of a few long files stays in memory as before) ...
AUDIO_CACHE_FILES = 16
#: ... and beyond them, more files up to this many bytes of decoded audio (float32), unless
#: ``$LATENTMORPH_AUDIO_CACHE_MB`` or :attr:`CorpusIndex.audio_cache_bytes` says otherwise:
#: 256 MB holds a 25 min mono corpus at 44.1 kHz, so repeated transfers against a loaded
#: index (notebooks, the studio, live use) decode its files once, not on every transfer.
AUDIO_CACHE_BYTES = 256 << 20
AUDIO_CACHE_ENV = "LATENTMORPH_AUDIO_CACHE_MB"


def _cache_bytes_default() -> int:
    """:data:`AUDIO_CACHE_BYTES`, or ``$LATENTMORPH_AUDIO_CACHE_MB`` megabytes (``0``: only the last few files)."""
    raw = os.environ.get(AUDIO_CACHE_ENV, "").strip()
    if not raw:
        return AUDIO_CACHE_BYTES
    try:
        mb = float(raw)
    except ValueError:
        raise CorpusError(f"${AUDIO_CACHE_ENV}={raw!r}: not a number of megabytes") from None
    if not mb >= 0 or mb == float("inf"):
        raise CorpusError(f"${AUDIO_CACHE_ENV}={raw!r}: use a number of megabytes >= 0")
    return int(mb * (1 << 20))


class CorpusIndex:
    """A corpus encoded once: one row per grain (a latent frame of one channel of one
    file, original or augmented).

    Attributes:
        path: the ``NAME.lmindex`` folder (``None`` for an in-memory index).
        codec_spec: spec string that rebuilds the codec (``"embedded"``, ``"embedded:hop=512"``).
        fingerprint: the codec fingerprint the latents were made with.
        sample_rate, hop, dim: the codec's rate (Hz), samples per frame, latent size.
        latents: ``[N, dim]`` float32.
        grains: :class:`GrainTable` with ``N`` rows (file_id, channel, frame, start, aug).
        files: :class:`FileRecord` per indexed file (``file_id`` indexes this list).
        augmentations: augmentation dicts; id 0 is ``{"kind": "original"}``.
        skipped: ``[(path, reason)]`` for corpus files that could not be indexed.
        grain_levels: ``[N]`` float32 dB level of each grain (see :mod:`latentmorph.corpus.levels`).
        has_stored_levels: whether the index file holds them (else measured on first use).
    """

    def __init__(
        self,
        *,
        path: Path | None,
        codec_spec: str,
        fingerprint: str,
        sample_rate: int,
        hop: int,
        dim: int,
        latents: np.ndarray,
        grains: GrainTable,
        files: list[FileRecord],
        augmentations: list[dict[str, Any]],
        skipped: list[tuple[str, str]] | None = None,
        codec: Codec | None = None,
        generation: str | None = None,
        grain_levels: np.ndarray | None = None,
    ) -> None:
        self.path = path
        self.codec_spec = codec_spec
        self.fingerprint = fingerprint
        self.sample_rate = int(sample_rate)
        self.hop = int(hop)
        self.dim = int(dim)
        self.latents = latents
        self.grains = grains
        self.files = files
        self.augmentations = augmentations
        self.skipped = list(skipped or [])
        self._codec = codec
        self._generation = generation
        self._searchers: dict[tuple[str, str], Any] = {}
        self._audio: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        self._audio_bytes = 0
        #: decoded audio :meth:`file_audio` keeps (bytes; least recently used files go first)
        self.audio_cache_bytes = _cache_bytes_default()
        self._levels = grain_levels
        self._stored_levels = grain_levels is not None
        self.audio_loads = 0  # corpus files read by :meth:`file_audio` (cache misses)

    # ---- loading -----------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike, codec: Codec | None = None, *, mmap: bool = False) -> "CorpusIndex":
        """Load an index folder; see :func:`load_index`."""
        path = Path(path)
        manifest = storage.read_manifest(path)
        if codec is not None:
            check_fingerprint(path, "index", manifest["fingerprint"], codec.fingerprint, made_spec=manifest["codec_spec"],
                              expected_spec=codec.name, fix="use the same codec or re-index", error=CorpusError)
        try:
            latents, cols = storage.read_arrays(path, manifest, mmap=mmap)
        except CorpusError:
            # a writer may have swapped generations between our two reads: read once more
            manifest = storage.read_manifest(path)
            latents, cols = storage.read_arrays(path, manifest, mmap=mmap)
        return cls.from_arrays(path, manifest, latents, cols, codec)

    @classmethod
    def from_arrays(cls, path: Path, manifest: dict[str, Any], latents: np.ndarray, cols: dict[str, np.ndarray],
                    codec: Codec | None = None) -> "CorpusIndex":
        """The index of a checked manifest and the arrays :func:`storage.read_arrays` returned for it."""
        cols = dict(cols)
        try:
            files = [FileRecord.from_dict(r) for r in manifest["files"]]
            skipped = [SkippedFile.from_dict(s) for s in manifest.get("skipped", [])]
            levels = cols.pop(LEVEL_KEY, None)
            grains = GrainTable(**cols)
        except (KeyError, TypeError, ValueError) as err:
            raise CorpusError(f"{path}: corrupt index manifest ({type(err).__name__}: {err})") from None
        return cls(
            path=path,
            codec_spec=str(manifest["codec_spec"]),
            fingerprint=str(manifest["fingerprint"]),
            sample_rate=int(manifest["sample_rate"]),
            hop=int(manifest["hop"]),
            dim=int(manifest["dim"]),
            latents=latents,
            grains=grains,
            files=files,
            augmentations=list(manifest["augmentations"]),
            skipped=[(s.path, s.reason) for s in skipped],
            codec=codec,
            generation=str(manifest["latents"]),
            grain_levels=levels,
        )

    # ---- basic facts --------------------------------------------------------------
    @property
    def generation(self) -> str | None:
        """Name of the latents file of the loaded generation (changes whenever the index does)."""
        return self._generation

    def __len__(self) -> int:
        return int(self.latents.shape[0])

    def __repr__(self) -> str:
        return f"CorpusIndex({self.path}, {len(self.files)} files, {len(self)} grains, codec={self.codec_spec})"

    @property
    def grain_levels(self) -> np.ndarray:
        """``[N]`` float32 level (dB) of each grain's own audio: stored in the index at build
        time; for an index written without them, measured from the corpus files once (cached)."""
        if self._levels is None:
            from latentmorph.corpus.levels import corpus_levels

            self._levels = corpus_levels(self)
        return self._levels

    @property
    def has_stored_levels(self) -> bool:
        return self._stored_levels

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop

    @property
    def duration_seconds(self) -> float:
        """Total length of the indexed (original) files, in seconds."""
        return float(sum(f.duration for f in self.files))

    def codec(self) -> Codec:
        """The codec that made the latents, built from ``codec_spec`` (cached).

        Raises:
            CorpusError: the spec no longer rebuilds a codec with the stored fingerprint
                (different weights or version): pass the codec to :func:`load_index`.
        """
        if self._codec is None:
            try:
                c = get_codec(self.codec_spec)
            except CodecError as err:
                raise CorpusError(f"{self.path}: cannot rebuild codec {self.codec_spec!r} ({err})") from None
            check_fingerprint(self.path or "index", "index", self.fingerprint, c.fingerprint, made_spec=self.codec_spec,
                              expected_spec=self.codec_spec, error=CorpusError,
                              fix="pass the original codec (same options and weights)")
            self._codec = c
        return self._codec

    # ---- search --------------------------------------------------------------------
    def search(
        self,
        queries: np.ndarray,
        k: int = 8,
        metric: str = "cosine",
        *,
        method: str = "exact",
        precision: str = "fp32",
    ) -> tuple[np.ndarray, np.ndarray]:
        """Nearest grains for each query vector.

        Args:
            queries: ``[M, dim]`` source latent frames (e.g. ``latents[c].T``).
            k: neighbours per query (clipped to ``len(self)``).
            metric: ``"cosine"`` (default), ``"l2"`` or ``"dot"``.
            method: ``"exact"`` (default), ``"ivf"`` or ``"hnsw"`` (FAISS, approximate,
                needs ``latentmorph[ann]``), or ``"auto"`` (exact below
                :data:`latentmorph.corpus.ann.AUTO_EXACT_LIMIT` grains, IVF above).
            precision: ``"fp32"`` or ``"bf16"`` (exact search only; bf16 scores, fp32 re-rank).

        Returns:
            ``(scores [M, k] float32, ids [M, k] int64)`` best first; higher = closer
            (cosine similarity, dot product, negative squared L2). ``ids`` index
            ``latents`` and ``grains``.
        """
        metric = check_metric(metric)
        q = np.asarray(queries, dtype=np.float32)
        if q.ndim == 1:
            q = q[None]
        if q.ndim != 2 or q.shape[1] != self.dim:
            raise CorpusError(f"{self.path}: queries must be [frames, {self.dim}], got shape {list(q.shape)}")
        from latentmorph.corpus import ann

        method = ann.choose_method(method, len(self))
        key = (metric, method)
        if key not in self._searchers:
            if method == "exact":
                self._searchers[key] = ExactSearch(np.asarray(self.latents), metric)
            else:
                self._searchers[key] = self._ann(metric, method)
        searcher = self._searchers[key]
        if method == "exact":
            return searcher.search(q, k, precision=precision)
        return searcher.search(q, k)

    def _ann(self, metric: str, method: str):  # noqa: ANN202
        """Build a FAISS index, or reload the one saved beside this generation of latents."""
        from latentmorph.corpus import ann

        cache = None
        if self.path is not None and self._generation:
            stem = Path(self._generation).stem.replace("latents-", "")
            cache = self.path / f"ann-{stem}-{metric}-{method}.faiss"
            if cache.exists():
                try:
                    loaded = ann.AnnIndex.load(cache, metric, method)
                    if len(loaded) == len(self) and int(loaded.index.d) == self.dim:
                        return loaded
                except Exception:  # noqa: BLE001 - a damaged cache is rebuilt
                    pass
        built = ann.AnnIndex(np.asarray(self.latents), metric, kind=method)
        if cache is not None:
            try:
                built.save(cache)
            except OSError:
                pass  # read-only index folder: search still works, just not cached
        return built

    # ---- corpus audio ---------------------------------------------------------------
    def file_audio(self, file_id: int, aug: int = 0) -> np.ndarray:
        """Audio of one indexed file as the codec saw it: ``[channels, samples]`` at
        ``sample_rate``, augmentation ``aug`` applied.

        Decoded files are kept (read-only arrays, shared by every caller): the
        :data:`AUDIO_CACHE_FILES` most recently used whatever their size, and more up to
        :attr:`audio_cache_bytes` in all (default :data:`AUDIO_CACHE_BYTES`, 256 MB, or
        ``$LATENTMORPH_AUDIO_CACHE_MB``); the least recently used go first.

        Raises:
            CorpusError: the file was moved, deleted or became unreadable since indexing.
        """
        from latentmorph.corpus.build import load_for_codec

        key = (int(file_id), int(aug))
        if key in self._audio:
            self._audio.move_to_end(key)
            return self._audio[key]
        if not 0 <= key[0] < len(self.files):
            raise IndexError(f"file_id {file_id} out of range (index has {len(self.files)} files)")
        if not 0 <= key[1] < len(self.augmentations):
            raise IndexError(f"aug {aug} out of range (index has {len(self.augmentations)} augmentations)")
        rec = self.files[key[0]]
        try:
            st = os.stat(rec.path)
        except OSError:
            raise CorpusError(f"{rec.path}: corpus file moved or deleted since indexing; re-run latentmorph index") from None
        if st.st_size != rec.size:
            warnings.warn(f"{rec.path}: changed since indexing; grains may not match their latents", stacklevel=2)
        try:
            wave, _, _ = load_for_codec(rec.path, self.sample_rate, self.augmentations[key[1]], max_seconds=0)
        except AudioError as err:
            raise CorpusError(f"{err}; re-run latentmorph index") from None
        self.audio_loads += 1
        wave.flags.writeable = False
        self._audio[key] = wave
        self._audio_bytes += wave.nbytes
        while len(self._audio) > max(1, AUDIO_CACHE_FILES) and self._audio_bytes > self.audio_cache_bytes:
            self._audio_bytes -= self._audio.popitem(last=False)[1].nbytes
        return wave

    def audio_cached(self, file_id: int, aug: int = 0) -> bool:
        """Whether :meth:`file_audio` holds this file's audio now (no read needed)."""
        return (int(file_id), int(aug)) in self._audio

    def grain_audio(self, ids: np.ndarray, length: int) -> np.ndarray:
        """Audio of grains: ``[len(ids), length]`` float32 at ``sample_rate``, each row the
        grain's own channel from its start, zero-padded past the end of the file."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        out = np.zeros((len(ids), int(length)), dtype=np.float32)
        g = self.grains
        order = np.lexsort((g.aug[ids], g.file_id[ids]))  # load each file once
        for row in order:
            i = ids[row]
            wave = self.file_audio(int(g.file_id[i]), int(g.aug[i]))
            ch = min(int(g.channel[i]), wave.shape[0] - 1)
            s = int(g.start[i])
            piece = wave[ch, s : s + length]
            out[row, : piece.shape[0]] = piece
        return out

    def describe_augmentation(self, aug: int) -> str:
        return describe(self.augmentations[aug])


def load_index(path: str | os.PathLike, codec: Codec | None = None, *, mmap: bool = False) -> CorpusIndex:
    """Load a ``NAME.lmindex`` folder written by :func:`build_index`.

    Args:
        path: the index folder.
        codec: when given, refuse an index made with a codec of another fingerprint.
        mmap: memory-map the latents instead of reading them (large corpora).

    Raises:
        CorpusError: one line naming the file when the index is missing, not an index,
            corrupt, or was built with another codec.
    """
    return CorpusIndex.open(path, codec=codec, mmap=mmap)
