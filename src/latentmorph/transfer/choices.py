"""What a matcher decides: which corpus grains play at each source frame, and how much.

A matcher returns :class:`Choices`, never audio; a renderer turns them into audio.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Grain id meaning "no corpus grain here: keep the source" (keep-source threshold).
KEEP_SOURCE = -1


@dataclass
class Choices:
    """Per-source-frame grain choices for one source channel.

    Attributes:
        ids: ``[frames, k]`` int64 corpus grain ids (rows of the index), ``KEEP_SOURCE``
            where the source itself is kept. Column 0 is the main choice.
        weights: ``[frames, k]`` float32 blend weights, each row sums to 1
            (nearest / Viterbi / sampling use one column with weight 1).
        distances: ``[frames]`` float32 distance of the main choice in the matching
            space (cosine: 1 - similarity; l2: Euclidean; dot: -dot product).
        amount: ``[frames]`` float32 in [0, 1]: how much of the matched grain replaces
            the source at that frame (``strength``). Where the source is kept the
            "matched grain" is the source's own frame, so the amount does not matter.
    """

    ids: np.ndarray
    weights: np.ndarray
    distances: np.ndarray
    amount: np.ndarray

    def __post_init__(self) -> None:
        self.ids = np.asarray(self.ids, dtype=np.int64)
        if self.ids.ndim == 1:
            self.ids = self.ids[:, None]
        self.weights = np.asarray(self.weights, dtype=np.float32).reshape(self.ids.shape)
        self.distances = np.asarray(self.distances, dtype=np.float32).reshape(-1)
        self.amount = np.asarray(self.amount, dtype=np.float32).reshape(-1)
        n = self.ids.shape[0]
        if not (self.distances.shape[0] == self.amount.shape[0] == n):
            raise ValueError("Choices: ids, distances and amount must have the same number of frames")

    @property
    def frames(self) -> int:
        return int(self.ids.shape[0])

    @property
    def kept(self) -> np.ndarray:
        """``[frames]`` bool: frames where the source is kept."""
        return self.ids[:, 0] == KEEP_SOURCE

    @classmethod
    def single(cls, ids: np.ndarray, distances: np.ndarray, strength: float = 1.0) -> "Choices":
        """One grain per frame with weight 1."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        amount = np.full(ids.shape[0], strength, np.float32)
        return cls(ids[:, None], np.ones((ids.shape[0], 1), np.float32), distances, amount)
