"""Timbre vectors of audio and the 2-D timbre map.

The map is the PCA plane of the training files' timbre vectors, stored in the model
(``timbre_mean``, ``timbre_axes``), so a point ``(X, Y)`` picked on a map maps back to
a timbre vector: ``clip(mean + X axis_0 + Y axis_1, -1, 1)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from latentmorph.audio import as_2d, check_wave, is_silent
from latentmorph.codecs import Codec
from latentmorph.diffusion.model import DiffusionModel
from latentmorph.diffusion.threads import with_model_threads
from latentmorph.errors import ConditionError


@dataclass
class TimbreMap:
    """Points of timbre vectors in the model's 2-D map.

    Attributes:
        points: ``[N, 2]`` float32 map coordinates.
        labels: one per point.
        vectors: ``[N, timbre_dim]`` the timbre vectors.
        mean: ``[timbre_dim]``; axes: ``[2, timbre_dim]`` (the model's projection).
    """

    points: np.ndarray
    labels: list[str]
    vectors: np.ndarray
    mean: np.ndarray
    axes: np.ndarray
    scale: np.ndarray = field(default_factory=lambda: np.ones(2, np.float32))

    def to_vector(self, xy: Sequence[float]) -> np.ndarray:
        """A map point ``(X, Y)`` -> timbre vector ``[timbre_dim]`` in [-1, 1]."""
        x, y = (float(v) for v in xy)
        return np.clip(self.mean + x * self.axes[0] + y * self.axes[1], -1.0, 1.0).astype(np.float32)

    def to_point(self, vectors: np.ndarray) -> np.ndarray:
        """Timbre vectors ``[N, timbre_dim]`` -> map points ``[N, 2]``."""
        return ((np.asarray(vectors, np.float32) - self.mean) @ self.axes.T).astype(np.float32)


def model_map(model: DiffusionModel) -> TimbreMap:
    """The model's (empty) map: its projection only."""
    return TimbreMap(np.zeros((0, 2), np.float32), [], np.zeros((0, model.config.timbre_dim), np.float32),
                     model.timbre_mean.numpy().copy(), model.timbre_axes.numpy().copy(), model.timbre_scale.numpy().copy())


def require(model: DiffusionModel, name: str, what: str) -> None:
    if name not in model.config.conditions:
        where = getattr(model, "source_path", "model")
        raise ConditionError(f"{where}: model was not trained with the {name} condition, so {what} cannot be used "
                             f"(it has: {', '.join(model.config.conditions) or 'none'})")


@torch.no_grad()
def timbre_vector(model: DiffusionModel, codec: Codec, wave: np.ndarray, sr: int, name: str = "timbre source") -> np.ndarray:
    """Timbre vector ``[timbre_dim]`` of audio ``[C, S]`` (channels' frames pooled together)."""
    require(model, "timbre", "a timbre input")
    wave = check_wave(as_2d(np.asarray(wave, np.float32)), int(sr), name, warn_silence=False)
    if is_silent(wave):
        raise ConditionError(f"{name}: is silent; a timbre needs sound")
    lat = codec.encode_audio(wave, int(sr))  # [C, D, T]
    z = model.normalize(torch.from_numpy(np.concatenate(list(lat), axis=1))[None])
    return model.encode_timbre(z)[0].numpy()


@with_model_threads
def timbre_map(model, waves: Sequence[tuple[np.ndarray, int]], *, labels: Sequence[str] | None = None,  # noqa: ANN001
               segment_seconds: float | None = None, threads: int | None = None) -> TimbreMap:
    """Map sounds into the model's 2-D timbre plane: one point per sound, or per segment.

    Args:
        model: a :class:`DiffusionModel` or a ``.lmdiff`` path.
        waves: ``[(wave [C, S] or [S], sr), ...]``.
        labels: a name per sound (default ``sound0``...); segments get ``name@12.0s``.
        segment_seconds: cut each sound into segments this long (silent ones skipped).
        threads: torch CPU threads (default: 1 for models under 10 M parameters: tiny, small).
    """
    from latentmorph.diffusion.sample import as_model
    from latentmorph.diffusion.model_file import model_codec

    m = as_model(model)
    codec = model_codec(m)
    base = model_map(m)
    names = list(labels) if labels is not None else [f"sound{i}" for i in range(len(waves))]
    if len(names) != len(waves):
        raise ConditionError("timbre map: give one label per sound")
    if segment_seconds is not None and not segment_seconds > 0:
        raise ConditionError(f"segment length {segment_seconds}: must be above 0 seconds")
    vecs, labs = [], []
    for (wave, sr), name in zip(waves, names):
        wave = as_2d(np.asarray(wave, np.float32))
        if segment_seconds is None:
            vecs.append(timbre_vector(m, codec, wave, sr, name)); labs.append(name)
            continue
        n = max(1, int(round(segment_seconds * sr)))
        for start in range(0, wave.shape[-1], n):
            seg = wave[:, start:start + n]
            if seg.shape[-1] < n // 4 or is_silent(seg):
                continue
            vecs.append(timbre_vector(m, codec, seg, sr, name)); labs.append(f"{name}@{start / sr:.1f}s")
    if not vecs:
        raise ConditionError(f"{names[0] if names else 'timbre map'}: no sound to map (silent)")
    v = np.stack(vecs).astype(np.float32)
    return TimbreMap(base.to_point(v), labs, v, base.mean, base.axes, base.scale)


def plot_timbre_map(path, tmap: TimbreMap, title: str = "timbre map"):  # noqa: ANN001, ANN201
    """Write a PNG scatter of the map's points with their labels (matplotlib, lazily)."""
    from pathlib import Path

    from latentmorph.atomic import atomic_path

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ConditionError("timbre map: drawing needs matplotlib: pip install 'latentmorph[plot]'") from None
    fig, ax = plt.subplots(figsize=(6, 6), dpi=100)
    p = tmap.points
    ax.scatter(p[:, 0], p[:, 1], s=24)
    for (x, y), lab in zip(p, tmap.labels):
        ax.annotate(lab, (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.axhline(0, lw=0.5, c="grey"); ax.axvline(0, lw=0.5, c="grey")
    ax.set_xlabel("X (timbre axis 1)"); ax.set_ylabel("Y (timbre axis 2)")
    ax.set_title(f"{title}\n(generate --timbre X,Y picks a point)", fontsize=9)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path
