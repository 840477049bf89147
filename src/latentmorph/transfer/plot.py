"""Figure of a transfer: source, output and corpus-usage panels (matplotlib, optional)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from latentmorph import spectral
from latentmorph.atomic import atomic_path
from latentmorph.errors import LatentmorphError
from latentmorph.transfer.choices import KEEP_SOURCE


def _spectrogram_db(x: np.ndarray, sr: int, n_fft: int = 1024) -> tuple[np.ndarray, float]:
    x = np.asarray(x, dtype=np.float64).mean(0) if np.ndim(x) == 2 else np.asarray(x, dtype=np.float64)
    hop = n_fft // 4
    p = spectral.power_spectrum(spectral.frames(x, n_fft, hop), np.hanning(n_fft))
    db = 10 * np.log10(p + 1e-12)
    return np.maximum(db, db.max() - 80).T, hop / sr


def plot_transfer(path: str | os.PathLike, result, title: str | None = None) -> Path:  # noqa: ANN001
    """Draw source and output spectrograms and, below, which corpus file/time each frame
    played (one colour per corpus file; kept-source frames in grey). Writes a PNG atomically.

    Raises:
        LatentmorphError: matplotlib is not installed (``pip install 'latentmorph[plot]'``).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise LatentmorphError("--plot needs matplotlib: pip install 'latentmorph[plot]'") from None
    src, out = result.extra["source"], result.extra["output"]
    fig, axes = plt.subplots(3, 1, figsize=(11, 8), sharex=True, constrained_layout=True)
    for ax, (x, sr, name) in zip(axes[:2], [(src, result.source_sr, "source"), (out, result.out_sr, "output")]):
        spec, step = _spectrogram_db(x, sr)
        ax.imshow(spec, origin="lower", aspect="auto", cmap="magma",
                  extent=[0, spec.shape[1] * step, 0, sr / 2000])
        ax.set_ylabel("kHz")
        ax.set_title(name)
    ax = axes[2]
    corp, ch = result.corpus, result.choices[0]
    fsec = result.hop / result.codec_sr
    t = np.arange(ch.frames) * fsec
    ids = ch.ids[:, 0]
    kept = ids == KEEP_SOURCE
    g = corp.grains
    safe = np.maximum(ids, 0)
    file_time = np.asarray(g.start)[safe] / corp.sample_rate
    file_id = np.asarray(g.file_id)[safe]
    sc = ax.scatter(t[~kept], file_time[~kept], c=file_id[~kept], s=4, cmap="tab10", vmin=0, vmax=max(9, int(file_id.max())))
    if kept.any():
        ax.scatter(t[kept], np.zeros(kept.sum()), c="0.6", s=4, label="source kept")
        ax.legend(loc="upper right")
    ax.set_ylabel("corpus time (s)")
    ax.set_xlabel("output time (s)")
    ax.set_title(f"corpus usage ({len(corp.files)} file(s), colour = file)")
    del sc
    if title:
        fig.suptitle(title)
    path = Path(path)
    from latentmorph.outputs import write_errors

    with write_errors(path), atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
    return path
