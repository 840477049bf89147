"""The matching space: which latent dimensions are compared, and on what scale.

Raw cosine on embedded-codec cepstra is dominated by c0 (overall loudness), so a
quiet source frame would pick quiet corpus grains whatever their colour. The
matching space therefore (1) drops a codec's loudness dimensions (loudness following
restores the source's dynamics after rendering) and (2) standardises every remaining
dimension by the corpus's mean and spread, so each coefficient counts alike.
``normalize="both"`` also standardises the source by its own statistics, mapping
the source's range of colours onto the corpus's range (useful when source and
corpus live in very different regions, e.g. speech against rain).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Latent dimensions that carry loudness, per codec name (excluded from matching).
LOUDNESS_DIMS: dict[str, tuple[int, ...]] = {"embedded": (0,)}

NORMALIZE = ("corpus", "both", "none")


def loudness_dims(codec) -> tuple[int, ...]:  # noqa: ANN001
    """Dimensions of ``codec``'s latents that carry loudness (a ``loudness_dims`` attribute wins)."""
    dims = getattr(codec, "loudness_dims", None)
    if dims is not None:
        return tuple(int(d) for d in dims)
    return LOUDNESS_DIMS.get(getattr(codec, "name", ""), ())


@dataclass
class MatchSpace:
    """Maps latent frames ``[N, dim]`` to matching features ``[N, dim - dropped]``.

    Attributes:
        keep: indices of the dimensions compared.
        mean, scale: ``[len(keep)]`` corpus statistics (identity when ``normalize="none"``).
        normalize: ``"corpus"``, ``"both"`` or ``"none"``.
    """

    keep: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    normalize: str = "corpus"

    @classmethod
    def fit(cls, corpus_latents: np.ndarray, drop: tuple[int, ...] = (), normalize: str = "corpus") -> "MatchSpace":
        """Learn the space from corpus latents ``[N, dim]``."""
        if normalize not in NORMALIZE:
            raise ValueError(f"normalize must be one of {NORMALIZE}, got {normalize!r}")
        dim = corpus_latents.shape[1]
        keep = np.array([d for d in range(dim) if d not in set(drop)], dtype=np.int64)
        if keep.size == 0:
            keep = np.arange(dim)
        x = corpus_latents[:, keep].astype(np.float64)
        if normalize == "none":
            mean, scale = np.zeros(keep.size), np.ones(keep.size)
        else:
            mean, scale = x.mean(0), x.std(0)
            scale = np.where(scale > 1e-6 * max(float(scale.max()), 1e-12), scale, 1.0)
        return cls(keep, mean.astype(np.float32), scale.astype(np.float32), normalize)

    def corpus(self, latents: np.ndarray) -> np.ndarray:
        """Corpus frames ``[N, dim]`` -> features ``[N, D']``."""
        return ((latents[:, self.keep] - self.mean) / self.scale).astype(np.float32)

    def source(self, latents: np.ndarray) -> np.ndarray:
        """Source frames ``[T, dim]`` -> features ``[T, D']`` (own statistics when ``normalize='both'``)."""
        x = latents[:, self.keep].astype(np.float32)
        if self.normalize == "both" and x.shape[0] > 1:
            m, s = x.mean(0), x.std(0)
            s = np.where(s > 1e-6, s, 1.0)
            return ((x - m) / s).astype(np.float32)
        return ((x - self.mean) / self.scale).astype(np.float32)
