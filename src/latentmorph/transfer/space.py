"""The matching space: which latent dimensions are compared, and on what scale.

Raw cosine on embedded-codec cepstra is dominated by c0 (overall loudness), so a
quiet source frame would pick quiet corpus grains whatever their colour. The
matching space therefore (1) drops a codec's loudness dimensions (loudness following
restores the source's dynamics after rendering) and (2) standardises every remaining
dimension by the corpus's mean and spread, so each coefficient counts alike.
``normalize="both"`` also standardises the source by its own statistics, mapping
the source's range of colours onto the corpus's range (useful when source and
corpus live in very different regions, e.g. speech against rain); ``"center"`` only
removes the source's average colour.
"""

from __future__ import annotations

from dataclasses import dataclass

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from latentmorph.codecs.base import Codec

NORMALIZE = ("corpus", "center", "both", "none")


def loudness_dims(codec: Codec) -> tuple[int, ...]:
    """Dimensions of ``codec``'s latents that carry loudness (its declared ``Codec.loudness_dims``)."""
    return tuple(int(d) for d in codec.loudness_dims)


@dataclass
class MatchSpace:
    """Maps latent frames ``[N, dim]`` to matching features ``[N, len(keep)]``.

    Attributes:
        keep: indices of the dimensions compared.
        mean, scale: ``[len(keep)]`` corpus statistics (identity when ``normalize="none"``).
        weight: ``[len(keep)]`` multiplier after scaling (1, or ``loudness_weight`` for
            loudness dimensions that are kept).
        normalize: ``"corpus"``, ``"center"``, ``"both"`` or ``"none"``.
    """

    keep: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    weight: np.ndarray
    normalize: str = "corpus"

    @classmethod
    def fit(cls, corpus_latents: np.ndarray, loudness: tuple[int, ...] = (), normalize: str = "corpus",
            loudness_weight: float = 0.0) -> "MatchSpace":
        """Learn the space from corpus latents ``[N, dim]``.

        ``loudness`` dimensions are left out when ``loudness_weight`` is 0, otherwise kept
        with that weight (relative to 1 for every other standardised dimension).
        """
        if normalize not in NORMALIZE:
            raise ValueError(f"normalize must be one of {NORMALIZE}, got {normalize!r}")
        dim = corpus_latents.shape[1]
        loud = set(loudness)
        keep = np.array([d for d in range(dim) if loudness_weight > 0 or d not in loud], dtype=np.int64)
        if keep.size == 0:
            keep = np.arange(dim)
        x = corpus_latents[:, keep].astype(np.float64)
        if normalize == "none":
            mean, scale = np.zeros(keep.size), np.ones(keep.size)
        else:
            mean, scale = x.mean(0), x.std(0)
            scale = np.where(scale > 1e-6 * max(float(scale.max()), 1e-12), scale, 1.0)
        weight = np.array([loudness_weight if d in loud else 1.0 for d in keep])
        return cls(keep, mean.astype(np.float32), scale.astype(np.float32), weight.astype(np.float32), normalize)

    def corpus(self, latents: np.ndarray) -> np.ndarray:
        """Corpus frames ``[N, dim]`` -> features ``[N, D']``."""
        return ((latents[:, self.keep] - self.mean) / self.scale * self.weight).astype(np.float32)

    def source(self, latents: np.ndarray, active: np.ndarray | None = None) -> np.ndarray:
        """Source frames ``[T, dim]`` -> features ``[T, D']``.

        With ``normalize="both"``/``"center"`` the source's own statistics are taken over
        its ``active`` frames (``[T]`` bool, e.g. not silent), so pauses do not skew them.
        """
        x = latents[:, self.keep].astype(np.float32)
        if self.normalize in ("both", "center") and x.shape[0] > 1:
            ref = x if active is None or np.count_nonzero(active) < 2 else x[active]
            m = ref.mean(0)
            if self.normalize == "center":
                return ((x - m) / self.scale * self.weight).astype(np.float32)
            s = ref.std(0)
            s = np.where(s > 1e-6, s, 1.0)
            return ((x - m) / s * self.weight).astype(np.float32)
        return ((x - self.mean) / self.scale * self.weight).astype(np.float32)


#: Corpus grains this far (dB) under the corpus's loud grains are not matched: they are
#: near-silence (gaps between bell strikes, fade-outs) that loudness following would
#: have to boost into noise.
QUIET_DB = 35.0
#: Grains under this absolute level (dBFS RMS) are never matched.
SILENT_DBFS = -80.0
#: Same idea on the embedded codec's c0 scale, which compresses level differences
#: (mel bands hit the log floor): used when the corpus audio is not read.
QUIET_C0_DB = 24.0


def grain_levels_db(corpus) -> np.ndarray:  # noqa: ANN001
    """``[N]`` RMS level (dBFS) of each grain's own hop of corpus audio: the corpus's
    ``grain_levels`` (an index stores them; a :class:`MemoryCorpus` measures its audio once),
    else, for a corpus of another kind that has none, measured from its audio now."""
    stored = corpus.grain_levels
    if stored is not None and len(stored) == len(corpus):
        return np.asarray(stored, dtype=np.float32)
    from latentmorph.corpus.levels import corpus_levels

    return corpus_levels(corpus)


def c0_level_db(latents: np.ndarray, codec: Codec) -> np.ndarray | None:
    """Relative level in dB of each latent frame ``[N, dim]`` as the codec reads it from its
    latents (``Codec.latent_level_db``; the embedded codec's c0), or ``None``."""
    return codec.latent_level_db(latents)


def audible(corpus, codec, *, read_audio: bool) -> np.ndarray:  # noqa: ANN001
    """``[N]`` bool: grains loud enough to be matched (all True when levels are unknown).

    With ``read_audio`` the grains' real RMS is measured (the ``grains`` renderer reads
    that audio anyway); otherwise the embedded codec's c0 is used.
    """
    n = len(corpus)
    if read_audio:
        level = grain_levels_db(corpus).astype(np.float64)
        ok = (level > np.percentile(level, 95) - QUIET_DB) & (level > SILENT_DBFS)
    else:
        c0 = c0_level_db(np.asarray(corpus.latents), codec)
        if c0 is None or c0.size == 0:
            return np.ones(n, dtype=bool)
        ok = c0 > np.percentile(c0, 95) - QUIET_C0_DB
    return ok if ok.any() else np.ones(n, dtype=bool)
