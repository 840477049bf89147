"""Biquad cascades: the block-matrix filter against the overlap-save FFT it replaced, and scipy.

One command (``python bench/bench_biquads.py``, ``--seconds 60``). For each filter the
transfer runs (the BS.1770 K-weighting, two sections; the 20 Hz high-pass of
``transfer/render/low_band.py``) on real audio (``../shared/audio``, tests/data when
absent), mono and stereo at 44.1 kHz, best of ``--repeats``:

- ``blocks``: :func:`latentmorph.audio.biquads.filter_biquads` (what the transfer uses);
- ``overlap-save``: the FFT filter it replaced (:func:`overlap_save`), frames of 8 times the
  impulse response kept: 4,096 samples for the K-weighting (``loudness.TAIL_SECONDS``, what
  ``refilter`` still patches with), 20 time constants of the slowest pole for the high-pass
  (16,384 samples at 20 Hz);
- ``scipy``: ``scipy.signal.sosfilt`` in float64 (compiled C, the reference; the transfer
  does not import scipy.signal, ~1.2 s);

with ``x`` = overlap-save time / blocks time and the largest error against scipy, relative
to the output's peak. Measured in this run, on this machine, with ``uptime`` load.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

SR = 44100


def best_of(fn: Callable[[], np.ndarray], repeats: int) -> tuple[float, np.ndarray]:
    best, out = float("inf"), np.zeros(0)
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def overlap_save(x: np.ndarray, sections: tuple, tail_s: float) -> np.ndarray:
    """The filter before the block matrices: overlap-save frames of ``8 x tail`` samples
    keeping ``tail`` (``tail_s`` rounded up to a power of two) of impulse response, one FFT
    product with the cascade's response per frame, frames on the ``parallel`` threads."""
    from numpy.lib.stride_tricks import sliding_window_view

    from latentmorph import parallel
    from latentmorph.transfer.render.loudness import FRAME_TAILS, _response

    tail = 1 << max(4, int(np.ceil(np.log2(max(16.0, tail_s * SR)))))
    size = FRAME_TAILS * tail
    hop = size - tail
    C, n = x.shape
    count = -(-n // hop)
    padded = np.zeros((C, tail + count * hop), np.float32)
    padded[:, tail : tail + n] = x
    h = _response(size, tuple((tuple(b), tuple(a)) for b, a in sections))
    view = sliding_window_view(padded, size, axis=-1)
    starts = np.arange(count) * hop
    out = np.empty((C, count, hop), np.float32)

    def piece(span: tuple[int, int]) -> None:
        i, j = span
        spec = np.fft.rfft(view[:, starts[i:j]], axis=-1)
        spec *= h
        out[:, i:j] = np.fft.irfft(spec, size, axis=-1)[..., tail:]

    parallel.map_blocks(piece, parallel.split(count, at_most=max(1, (1 << 21) // size)))
    return out.reshape(C, -1)[:, :n]


def tail_seconds(sections: tuple) -> float:
    """The impulse response the overlap-save filter kept: 20 time constants of the slowest pole."""
    radius = max(float(np.max(np.abs(np.roots(np.asarray(a, np.float64))))) for _, a in sections)
    return 20.0 / max(-np.log(radius), 1e-9) / SR


def run(seconds: float, repeats: int) -> dict:
    from scipy.signal import sosfilt

    from latentmorph.audio.biquads import filter_biquads
    from latentmorph.transfer.render.loudness import TAIL_SECONDS, k_weighting
    from latentmorph.transfer.render.low_band import DC_HZ, high_pass_section

    mono = common.real_audio(seconds, SR, common.source_files(), seed=1)[None].astype(np.float32)
    stereo = np.concatenate([mono, common.real_audio(seconds, SR, common.source_files(), seed=2)[None]]).astype(np.float32)
    filters = {"K-weighting": k_weighting(SR), f"high-pass {DC_HZ:.0f} Hz": (high_pass_section(SR, DC_HZ),)}
    rows, out = [], {"load_before": common.load_average(), "seconds": seconds, "rows": []}
    for name, sections in filters.items():
        sos = np.array([np.concatenate([np.asarray(b) / a[0], np.asarray(a) / a[0]]) for b, a in sections])
        for label, x in (("mono", mono), ("stereo", stereo)):
            t_new, y_new = best_of(lambda: filter_biquads(x, sections), repeats)
            t_ref, y_ref = best_of(lambda: sosfilt(sos, x.astype(np.float64), axis=-1), repeats)
            peak = float(np.abs(y_ref).max()) or 1.0
            row = {"filter": name, "channels": label, "blocks_s": t_new, "scipy_s": t_ref,
                   "blocks_error": float(np.abs(y_new - y_ref).max()) / peak}
            tail_s = TAIL_SECONDS if name == "K-weighting" else tail_seconds(sections)
            t_old, y_old = best_of(lambda: overlap_save(x, sections, tail_s), repeats)
            row.update(overlap_save_s=t_old, overlap_save_error=float(np.abs(y_old - y_ref).max()) / peak,
                       x=t_old / t_new)
            out["rows"].append(row)
            rows.append([name, label, t_new, row.get("overlap_save_s", "-"), row.get("x", "-"), t_ref,
                         f"{row['blocks_error']:.1e}",
                         f"{row['overlap_save_error']:.1e}" if "overlap_save_error" in row else "-"])
    out["load_after"] = common.load_average()
    print(f"\nBiquad cascades, {seconds:.0f} s at {SR} Hz, best of {repeats} (load {out['load_before']} before, "
          f"{out['load_after']} after)")
    print(common.table(["filter", "channels", "blocks s", "overlap-save s", "x", "scipy s", "blocks error",
                        "overlap-save error"], rows, 4))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="biquad filter benchmark (see the module docstring)")
    p.add_argument("--seconds", type=float, default=60.0, help="signal length (default 60)")
    p.add_argument("--repeats", type=int, default=5, help="best of this many runs (default 5)")
    a = p.parse_args(argv)
    res = run(a.seconds, a.repeats)
    res["machine"] = common.machine()
    print("wrote", common.write_json("biquads", res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
