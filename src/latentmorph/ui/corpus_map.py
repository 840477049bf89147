"""The corpus map: every grain of a corpus as a point in 2-D, coloured by file.

- :func:`project` turns latents ``[N, dim]`` into map coordinates ``[N, 2]`` (PCA by
  default, plain numpy; UMAP when ``umap-learn`` is installed and asked for).
- :class:`CorpusMap` holds the projection, draws it as an RGB image (numpy only), maps a
  click on the image back to the nearest grain, and draws the path an output took
  through the corpus (which grain each output frame used, from the transfer result).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from latentmorph.errors import LatentmorphError

#: Map image size in pixels (width, height) and the margin kept free around the points.
SIZE = (640, 480)
MARGIN = 16

#: Seconds of corpus audio played when a point is clicked (one grain is ~23 ms: too short to hear).
LISTEN_SECONDS = 0.5

#: Maps with fewer points than this (timbre maps of a few sounds) draw big dots away from the edges.
FEW = 50

#: Distinct colours (RGB) for files, cycled when a corpus has more files.
PALETTE = np.array([
    [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189], [140, 86, 75],
    [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207], [57, 59, 121], [173, 73, 74],
], dtype=np.uint8)


def pca_2d(x: np.ndarray) -> np.ndarray:
    """Project ``[N, dim]`` onto its two principal axes: float32 ``[N, 2]``.

    The sign of each axis is fixed (largest loading positive) so a map is stable across runs.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise LatentmorphError("corpus map: no grains to draw")
    xc = x - x.mean(axis=0)
    if x.shape[0] < 2:
        return np.zeros((x.shape[0], 2), np.float32)
    # the covariance is dim x dim: cheap even for millions of grains
    cov = xc.T @ xc / max(1, x.shape[0] - 1)
    vals, vecs = np.linalg.eigh(cov)
    axes = vecs[:, np.argsort(vals)[::-1][:2]]
    if axes.shape[1] < 2:
        axes = np.pad(axes, ((0, 0), (0, 2 - axes.shape[1])))
    signs = np.sign(axes[np.argmax(np.abs(axes), axis=0), np.arange(2)])
    axes = axes * np.where(signs == 0, 1.0, signs)
    return (xc @ axes).astype(np.float32)


def project(latents: np.ndarray, method: str = "pca", *, seed: int = 0) -> np.ndarray:
    """Map coordinates ``[N, 2]`` of grains ``[N, dim]``; ``method`` is ``"pca"`` or ``"umap"``."""
    if method == "pca":
        return pca_2d(latents)
    if method == "umap":
        try:
            import umap  # noqa: PLC0415
        except ImportError:
            raise LatentmorphError("the UMAP map needs umap-learn: pip install 'latentmorph[umap]'") from None
        n = int(np.shape(latents)[0])
        reducer = umap.UMAP(n_components=2, n_neighbors=max(2, min(15, n - 1)), random_state=seed)
        return np.asarray(reducer.fit_transform(np.asarray(latents, np.float32)), np.float32)
    raise LatentmorphError(f"corpus map: unknown projection {method!r}; use pca or umap")


def _disc(img: np.ndarray, xs: np.ndarray, ys: np.ndarray, colours: np.ndarray, radius: int) -> None:
    """Stamp filled discs of ``radius`` pixels at integer pixel positions (in place)."""
    h, w, _ = img.shape
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            if dx * dx + dy * dy > radius * radius + radius:
                continue
            px, py = xs + dx, ys + dy
            ok = (px >= 0) & (px < w) & (py >= 0) & (py < h)
            img[py[ok], px[ok]] = colours[ok]


def _line(img: np.ndarray, a: np.ndarray, b: np.ndarray, colour: np.ndarray, alpha: float = 0.5) -> None:
    """Blend a 1-pixel line from pixel ``a`` to pixel ``b`` into ``img`` (in place)."""
    n = int(max(abs(b[0] - a[0]), abs(b[1] - a[1]), 1))
    t = np.linspace(0.0, 1.0, n + 1)
    xs = np.round(a[0] + (b[0] - a[0]) * t).astype(int)
    ys = np.round(a[1] + (b[1] - a[1]) * t).astype(int)
    h, w, _ = img.shape
    ok = (xs >= 0) & (xs < w) & (ys >= 0) & (ys < h)
    xs, ys = xs[ok], ys[ok]
    img[ys, xs] = np.round((1 - alpha) * img[ys, xs] + alpha * colour).astype(np.uint8)


@dataclass
class CorpusMap:
    """A drawn corpus map.

    Attributes:
        points: float32 ``[N, 2]`` map coordinates (one per grain, index order).
        file_id: int ``[N]`` file of each grain (colours).
        names: display name per file.
        pixels: int ``[N, 2]`` (x, y) pixel position of each grain in the image.
    """

    points: np.ndarray
    file_id: np.ndarray
    names: list[str]
    size: tuple[int, int] = SIZE
    pixels: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        p = np.asarray(self.points, np.float64)
        lo, hi = self._view()
        span = hi - lo
        w, h = self.size
        x = MARGIN + (p[:, 0] - lo[0]) / span[0] * (w - 2 * MARGIN)
        y = (h - MARGIN) - (p[:, 1] - lo[1]) / span[1] * (h - 2 * MARGIN)  # up is up
        x = np.clip(x, MARGIN // 2, w - 1 - MARGIN // 2)   # the few outliers sit on the edge
        y = np.clip(y, MARGIN // 2, h - 1 - MARGIN // 2)
        self.pixels = np.stack([np.round(x), np.round(y)], axis=1).astype(np.int64)

    def _view(self) -> tuple[np.ndarray, np.ndarray]:
        """The drawn range per axis: the middle 99% of the grains (a few outliers would
        otherwise squeeze the rest into a corner); all of them when there are few."""
        p = np.asarray(self.points, np.float64)
        q = 0.5 if len(p) >= 200 else 0.0
        lo, hi = np.percentile(p, q, axis=0), np.percentile(p, 100 - q, axis=0)
        hi = np.where(hi - lo > 1e-12, hi, lo + 1.0)
        if len(p) < FEW:  # a handful of sounds (a timbre map): keep them off the edges
            pad = 0.15 * (hi - lo)
            lo, hi = lo - pad, hi + pad
        return lo, hi

    @classmethod
    def of_index(cls, index, names: list[str], method: str = "pca") -> "CorpusMap":  # noqa: ANN001
        """The map of a :class:`~latentmorph.corpus.CorpusIndex` (or any corpus with ``latents`` and ``grains``)."""
        return cls(project(np.asarray(index.latents), method), np.asarray(index.grains.file_id), list(names))

    def colour(self, file_id: int) -> tuple[int, int, int]:
        c = PALETTE[int(file_id) % len(PALETTE)]
        return int(c[0]), int(c[1]), int(c[2])

    def image(self, path: np.ndarray | None = None, highlight: int | None = None,
              marker: tuple[float, float] | None = None) -> np.ndarray:
        """uint8 RGB ``[H, W, 3]``: grains coloured by file; optional output ``path``
        (grain ids over time, ``-1`` = kept source, drawn as gaps) from dark to bright;
        an optional ``highlight`` grain ringed in black; an optional ``marker`` (a clicked
        pixel) drawn as a black cross."""
        w, h = self.size
        img = np.full((h, w, 3), 250, np.uint8)
        colours = PALETTE[self.file_id % len(PALETTE)]
        n = len(self.points)
        radius = 7 if n < FEW else 2 if n < 5000 else 1
        _disc(img, self.pixels[:, 0], self.pixels[:, 1], colours, radius)
        if path is not None:
            ids = np.asarray(path, np.int64)
            n = len(ids)
            for t in range(1, n):
                if ids[t - 1] < 0 or ids[t] < 0:
                    continue
                shade = 60 + 195 * t / max(1, n - 1)
                _line(img, self.pixels[ids[t - 1]], self.pixels[ids[t]], np.array([shade, 0, 0]), alpha=0.45)
            ok = ids[ids >= 0]
            if ok.size:
                for gid, col in ((ok[0], (0, 160, 0)), (ok[-1], (0, 0, 0))):
                    _disc(img, self.pixels[[gid], 0], self.pixels[[gid], 1], np.array([col], np.uint8), 5)
        if marker is not None:
            mx, my = int(round(marker[0])), int(round(marker[1]))
            black = np.array([0, 0, 0], np.float64)
            _line(img, np.array([mx - 8, my]), np.array([mx + 8, my]), black, alpha=1.0)
            _line(img, np.array([mx, my - 8]), np.array([mx, my + 8]), black, alpha=1.0)
        if highlight is not None:
            px = self.pixels[int(highlight)]
            for r, col in ((7, (0, 0, 0)), (4, (255, 255, 255))):
                _disc(img, np.array([px[0]]), np.array([px[1]]), np.array([col], np.uint8), r)
        return img

    def nearest(self, x: float, y: float) -> int:
        """The grain drawn nearest to pixel ``(x, y)`` of :meth:`image`."""
        d = (self.pixels[:, 0] - float(x)) ** 2 + (self.pixels[:, 1] - float(y)) ** 2
        return int(np.argmin(d))

    def to_point(self, x: float, y: float) -> tuple[float, float]:
        """Map coordinates of pixel ``(x, y)`` of :meth:`image` (the inverse of the drawing)."""
        lo, hi = self._view()
        span = hi - lo
        w, h = self.size
        px = lo[0] + (float(x) - MARGIN) / (w - 2 * MARGIN) * span[0]
        py = lo[1] + ((h - MARGIN) - float(y)) / (h - 2 * MARGIN) * span[1]
        return float(px), float(py)

    def legend_html(self) -> str:
        """A small HTML legend: one coloured swatch per file."""
        import html

        items = []
        for i, name in enumerate(self.names):
            r, g, b = self.colour(i)
            items.append(f'<span style="white-space:nowrap;margin-right:12px"><span style="display:inline-block;'
                         f'width:10px;height:10px;background:rgb({r},{g},{b});margin-right:4px"></span>'
                         f'{html.escape(name)}</span>')
        return "<div>" + " ".join(items) + "</div>"


def output_path(result) -> np.ndarray:  # noqa: ANN001
    """Grain id per output frame (first channel, best-weighted grain; ``-1`` = source kept)
    from a :class:`~latentmorph.transfer.TransferResult`: int64 ``[T]``."""
    ch = result.choices[0]
    return np.asarray(ch.ids[:, 0], np.int64)


def listen(index, grain: int, seconds: float = LISTEN_SECONDS) -> tuple[np.ndarray, int]:  # noqa: ANN001
    """Audio of one grain with what follows it: float32 ``[samples]`` at the corpus rate,
    faded in and out (5 ms) so a click on the map never clicks in the ear."""
    n = int(seconds * index.sample_rate)
    x = index.grain_audio(np.array([int(grain)]), n)[0]
    f = max(1, int(0.005 * index.sample_rate))
    ramp = np.linspace(0.0, 1.0, f, dtype=np.float32)
    x[:f] *= ramp
    x[-f:] *= ramp[::-1]
    return x, int(index.sample_rate)


__all__ = ["FEW", "CorpusMap", "LISTEN_SECONDS", "PALETTE", "listen", "output_path", "pca_2d", "project"]
