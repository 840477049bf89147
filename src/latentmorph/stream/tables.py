"""Corpus tables for streaming: everything the causal engine reads, as flat arrays.

A :class:`CorpusTables` is built once from an index (or any object with the index
read surface) and holds no Python objects, so it can become TorchScript buffers:

    feats   [N, D']  matching features of every grain, unit length (cosine)
    valid   [N]      grain may be matched (not a file edge, not near-silent)
    succ    [N]      the grain that plays on after it (-1 at a file end)
    offset  [N]      where the grain's hop of audio starts in ``audio``
    audio   [S]      every (file, augmentation, channel) of the corpus, one after the
                     other, each followed by ``gap`` zeros so that reading past a
                     file's end gives silence (as the offline renderer's padding does)

plus the affine map of the matching space (``keep``, ``mean``, ``scale``, ``weight``)
that turns one latent frame into a query.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from latentmorph.errors import CorpusError
from latentmorph.transfer.engine import LOUDNESS_WEIGHT
from latentmorph.transfer.render.low_band import DC_HZ, high_pass
from latentmorph.transfer.space import MatchSpace, audible, loudness_dims
from latentmorph.transfer.windows import corpus_windows, successors

#: Matching-space scalings that need no future source frames (see docs/realtime.md).
CAUSAL_NORMALIZE = ("running", "corpus", "none")


@dataclass
class CorpusTables:
    """Flat corpus arrays for the causal engine (see module docstring)."""

    feats: np.ndarray
    valid: np.ndarray
    succ: np.ndarray
    offset: np.ndarray
    audio: np.ndarray
    keep: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    weight: np.ndarray
    hop: int
    sample_rate: int

    def __len__(self) -> int:
        return int(self.feats.shape[0])

    def query(self, latents: np.ndarray) -> np.ndarray:
        """Latent frames ``[T, dim]`` -> unit query features ``[T, D']`` (float32)."""
        q = (latents[:, self.keep].astype(np.float32) - self.mean) / self.scale * self.weight
        return (q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def build_tables(corpus, *, normalize: str = "corpus", grain_filter: bool = True, gap: int | None = None) -> CorpusTables:  # noqa: ANN001
    """Flatten an index for streaming.

    Args:
        corpus: an index / ``MemoryCorpus`` (``latents``, ``grains``, ``file_audio``, ``codec()``).
        normalize: ``"running"`` (source standardised by its own statistics so far; the
            corpus tables are those of ``"corpus"``), ``"corpus"`` (by corpus statistics)
            or ``"none"``; the offline ``"both"``/``"center"`` look at the whole source.
        grain_filter: skip file-edge and near-silent grains, as the offline transfer does.
        gap: zeros after each file (default two hops: longer than any read past a grain).

    Returns:
        :class:`CorpusTables`.
    """
    if normalize not in CAUSAL_NORMALIZE:
        raise CorpusError(f"normalize {normalize!r} needs the whole source; streaming uses one of {', '.join(CAUSAL_NORMALIZE)}")
    n = len(corpus)
    if n == 0:
        raise CorpusError(f"{getattr(corpus, 'path', 'corpus')}: the corpus index holds no grains")
    codec = corpus.codec()
    hop = int(corpus.hop)
    gap = 2 * hop if gap is None else int(gap)
    latents = np.asarray(corpus.latents, dtype=np.float32)
    space = MatchSpace.fit(latents, loudness_dims(codec), "corpus" if normalize == "running" else normalize, LOUDNESS_WEIGHT)
    g = corpus.grains
    file_id, channel, aug, frame, start = (np.asarray(x) for x in (g.file_id, g.channel, g.aug, g.frame, g.start))
    succ = successors(file_id, channel, aug, frame)
    raw = space.corpus(latents)
    _, valid = corpus_windows(raw, succ, 1, skip_edges=grain_filter)
    if grain_filter:
        loud = audible(corpus, codec, read_audio=True)
        if (valid & loud).any():
            valid = valid & loud
    feats = raw / np.maximum(np.linalg.norm(raw, axis=1, keepdims=True), 1e-12)

    offset = np.zeros(n, np.int64)
    pieces: list[np.ndarray] = []
    base = 0
    sr = int(corpus.sample_rate)
    for f, a in sorted({(int(f), int(a)) for f, a in zip(file_id, aug)}):
        rows = np.flatnonzero((file_id == f) & (aug == a))
        audio = np.asarray(corpus.file_audio(f, a), dtype=np.float32)
        for ch in np.unique(channel[rows]):
            sel = rows[channel[rows] == ch]
            # no DC or rumble: block-wise loudness following would turn them into thumps shaped
            # like the source's envelope (transfer/render/low_band.py does the same offline)
            track = high_pass(audio[min(int(ch), audio.shape[0] - 1)][None], sr, DC_HZ)[0]
            offset[sel] = base + start[sel].astype(np.int64)
            pieces += [track, np.zeros(gap, np.float32)]
            base += track.shape[0] + gap
    return CorpusTables(
        feats=np.ascontiguousarray(feats, dtype=np.float32), valid=np.asarray(valid, bool), succ=succ.astype(np.int64),
        offset=offset, audio=np.concatenate(pieces).astype(np.float32),
        keep=space.keep.astype(np.int64), mean=space.mean.astype(np.float32), scale=space.scale.astype(np.float32),
        weight=space.weight.astype(np.float32), hop=hop, sample_rate=int(corpus.sample_rate),
    )
