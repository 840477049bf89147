"""Block-wise STFT processing with exact resynthesis, for the render stage's spectral edits.

``process(signals, sr, edit)`` frames every signal alike (periodic Hann, ~46 ms, 75 %
overlap), hands ``edit`` the spectra of a block of frames and overlap-adds what it returns,
normalised by the summed squared window: an ``edit`` that returns its first spectrum gives
that signal back to float precision. Blocks of :data:`~latentmorph.spectral.BLOCK_FRAMES`
frames keep the memory that of a block whatever the length. Analysis reuses
:mod:`latentmorph.spectral` (frames, window).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from latentmorph import parallel
from latentmorph.spectral import BLOCK_FRAMES, frames, hann

#: Analysis window length in seconds (rounded to a power of two in samples).
WINDOW_SECONDS = 0.046
#: Hops per window (75 % overlap: Hann analysis and synthesis windows sum to a constant).
OVERLAP = 4

#: ``edit(first_frame, spectra) -> spectrum``: ``spectra`` is one ``[F, n_fft // 2 + 1]``
#: complex array per input signal for frames ``first_frame .. first_frame + F``.
#: An edit must work frame by frame (the frames it is handed come in pieces of any size,
#: on several threads at once: :mod:`latentmorph.parallel`), and be safe to call from threads.
Edit = Callable[[int, list[np.ndarray]], np.ndarray]


def window_size(sr: int, window_s: float = WINDOW_SECONDS) -> int:
    """The STFT size for rate ``sr``: the power of two nearest ``window_s`` (>= 64)."""
    return int(max(64, 2 ** round(np.log2(window_s * sr))))


def layout(n: int, sr: int, window_s: float = WINDOW_SECONDS, overlap: int = OVERLAP) -> tuple[int, int, int, int]:
    """``(n_fft, hop, pad, count)`` for ``n`` samples at ``sr``: frame ``f`` starts at sample
    ``f * hop - pad`` and ``count`` frames cover every sample with ``overlap`` full frames."""
    n_fft = window_size(sr, window_s)
    hop = n_fft // overlap
    pad = n_fft - hop
    return n_fft, hop, pad, int(np.ceil((n + pad) / hop))


def _overlap_add(frames_: np.ndarray, hop: int, out: np.ndarray, start_frame: int) -> None:
    """Add ``frames_ [F, n_fft]`` (``n_fft = R * hop``; a broadcast view works, uncopied) into
    ``out [samples]`` from frame ``start_frame`` on."""
    F, n = frames_.shape
    R = n // hop
    chunks = frames_.reshape(F, R, hop)
    base = start_frame * hop
    view = out[base : base + (F + R - 1) * hop].reshape(F + R - 1, hop)
    for r in range(R):
        view[r : r + F] += chunks[:, r]  # (float32 frames add into the float64 sums as they are)


def process(signals: list[np.ndarray], sr: int, edit: Edit, *, window_s: float = WINDOW_SECONDS,
            overlap: int = OVERLAP) -> np.ndarray:
    """Run ``edit`` over the STFTs of ``signals`` (each ``[samples]``, equal lengths, at ``sr``;
    windows of ``window_s``, default :data:`WINDOW_SECONDS`, ``overlap`` hops per window).

    Returns:
        ``[samples]`` float32: the overlap-added inverse of what ``edit`` returned.
    """
    n = int(signals[0].shape[-1])
    if any(s.shape[-1] != n for s in signals):
        raise ValueError(f"signals differ in length ({[s.shape[-1] for s in signals]} samples)")
    n_fft, hop, pad, count = layout(n, sr, window_s, overlap)
    win = hann(n_fft).astype(np.float32)
    framed = [frames(np.asarray(s, np.float32), n_fft, hop, pad=(pad, 0), count=count) for s in signals]
    out = np.zeros((count - 1) * hop + n_fft, np.float64)
    norm = np.zeros_like(out)
    w2 = win.astype(np.float64) ** 2

    def synthesis(span: tuple[int, int]) -> np.ndarray:
        """Frames ``span`` edited and back in time, windowed: ``[frames, n_fft]``."""
        i, j = span
        spectra = [np.fft.rfft(f[i:j] * win, axis=-1) for f in framed]
        return np.fft.irfft(edit(i, spectra), n=n_fft, axis=-1) * win

    for a in range(0, count, BLOCK_FRAMES):
        # the block's frames in pieces on the parallel threads (an edit works frame by frame,
        # so any split gives the same frames), overlap-added block by block as before
        spans = [(a + i, a + j) for i, j in parallel.split(min(BLOCK_FRAMES, count - a))]
        pieces = parallel.map_blocks(synthesis, spans)
        z = pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
        _overlap_add(z, hop, out, a)
        _overlap_add(np.broadcast_to(w2, z.shape), hop, norm, a)  # the window's sum, not tiled
    return (out[pad : pad + n] / np.maximum(norm[pad : pad + n], 1e-9)).astype(np.float32)

