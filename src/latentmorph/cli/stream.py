"""``latentmorph stream``: a file through the causal block engine, as a live input would go."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from latentmorph.cli.common import add_force_option, add_max_seconds_option, number

DESCRIPTION = """\
Stream a file through the real-time engine block by block, exactly as `latentmorph live`
would process a microphone: causal encoding (each ~23 ms frame from past audio only), a
matcher that looks --lag frames ahead, grain overlap-add and loudness following. Prints
the latency and the time each block took against its duration (p50/p99): under 100%
keeps up in real time.

The output is aligned with the source (the latency is cut off the front and the tail
flushed) unless --no-align, which writes what a live output would play.

examples:
  latentmorph stream voice.wav --index rain.lmindex -o voice_rain.wav
  latentmorph stream voice.wav --index rain.lmindex -o out.wav --block 64 --lag 0
  latentmorph stream drums.wav --index wind.lmindex -o out.wav --continuity 4 --wet 0.7
"""


def add_stream_options(p: argparse.ArgumentParser) -> None:
    """The engine options shared by ``stream``, ``live`` and ``export``."""
    p.add_argument("--index", required=True, metavar="NAME.lmindex", help="corpus index made by `latentmorph index` (embedded codec)")
    g = p.add_argument_group("engine")
    g.add_argument("--lag", type=number("lag"), default=1, metavar="L",
                   help="look-ahead frames of the matcher: latency = (L+1) x 1024 samples (default 1: 46 ms at 44.1 kHz)")
    g.add_argument("-k", "--k", type=number("k"), default=8, help="candidates per frame (default 8)")
    g.add_argument("--continuity", type=number("continuity"), default=2.0, help="cost of jumping instead of playing on through the corpus (default 2)")
    g.add_argument("--avoid-repeat", type=number("avoid_repeat"), default=8, metavar="FRAMES", help="do not reuse a grain within this many frames (default 8)")
    g.add_argument("--wet", type=number("wet"), default=1.0, help="0..1 dry/wet mix (default 1)")
    g.add_argument("--no-follow-loudness", dest="follow_loudness", action="store_false", help="keep the grains' own loudness")
    g.add_argument("--normalize", choices=["running", "corpus", "none"], default="running",
                   help="matching-space scaling: running (default) standardises the source by its own statistics so far, "
                        "mapping its colours onto the corpus's; corpus uses the corpus's statistics (nearer the source's timbre)")
    g.add_argument("--eager", action="store_true", help="run the engine as plain PyTorch (no TorchScript compile at start; slower blocks)")


def streamer_from_args(args: argparse.Namespace, channels: int | None = None):  # noqa: ANN201
    from latentmorph.stream import Streamer

    return Streamer(args.index, channels=channels, jit=not getattr(args, "eager", False), lag=args.lag, k=args.k, continuity=args.continuity,
                    avoid_repeat=args.avoid_repeat, wet=args.wet, follow_loudness=args.follow_loudness,
                    normalize=args.normalize)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("stream", help="stream a file through the real-time engine in blocks (latency, block timing)",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", metavar="SOURCE", help="the sound to transform (any rate: resampled to 44.1 kHz and back)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.wav", help="output audio file (.wav, .flac, .ogg, .aiff)")
    p.add_argument("--block", type=number("block"), default=256, metavar="N", help="samples per block (any size >= 1; default 256)")
    add_stream_options(p)
    p.add_argument("--no-align", dest="align", action="store_false", help="keep the latency at the front (what a live output plays)")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no summary")
    add_max_seconds_option(p)
    add_force_option(p)
    p.set_defaults(func=run)


def one_thread(fn, args: argparse.Namespace) -> int:  # noqa: ANN001
    """Run ``fn(args)`` with torch on one thread (restored after): the engine's per-frame
    operations are too small to share between threads."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return fn(args)
    finally:
        torch.set_num_threads(threads)


def run(args: argparse.Namespace) -> int:
    return one_thread(_run, args)


def _run(args: argparse.Namespace) -> int:
    import numpy as np
    from tqdm import tqdm

    from latentmorph.audio import check_output_path, load, resample, save
    from latentmorph.errors import AudioError

    from latentmorph.outputs import Input, Output, guard_outputs

    check_output_path(args.output)
    guard_outputs([Output(Path(args.output), "-o", "audio")], [Input(Path(args.source)), Input(Path(args.index), tree=True)],
                  force=args.force)
    if args.block < 1:
        raise AudioError(f"--block {args.block}: use 1 sample or more")
    wave, sr = load(args.source, max_seconds=args.max_seconds)
    s = streamer_from_args(args, channels=wave.shape[0])
    s.warm_up()  # first TorchScript calls specialise the code: keep them out of the timings
    x = resample(wave, sr, s.sample_rate).astype(np.float32)
    n_in = x.shape[-1]
    if args.align:
        x = np.pad(x, ((0, 0), (0, s.latency)))
    out, times = [], []
    bar = tqdm(total=x.shape[-1], unit="sample", unit_scale=True, desc="stream", disable=args.quiet)
    for i in range(0, x.shape[-1], args.block):
        block = x[:, i:i + args.block]
        t0 = time.perf_counter()
        out.append(s.process(block))
        times.append(time.perf_counter() - t0)
        bar.update(block.shape[-1])
    bar.close()
    y = np.concatenate(out, axis=1)
    y = y[:, s.latency:] if args.align else y[:, :n_in]
    y = resample(y, s.sample_rate, sr)[:, : wave.shape[-1]]
    save(args.output, y, sr)
    if not args.quiet:
        ms = np.array(times) * 1e3
        dur = args.block / s.sample_rate * 1e3
        p50, p99 = np.percentile(ms, [50, 99])
        print(f"latency {s.latency} samples = {s.latency / s.sample_rate * 1e3:.1f} ms at {s.sample_rate} Hz")
        print(f"block {args.block} samples = {dur:.2f} ms: p50 {p50:.3f} ms ({p50 / dur:.0%}), p99 {p99:.3f} ms "
              f"({p99 / dur:.0%}), max {ms.max():.3f} ms over {len(ms)} blocks")
        print(f"{args.output}: {y.shape[-1] / sr:.2f} s, {y.shape[0]} channel(s), {sr} Hz")
    return 0


__all__ = ["add_parser", "add_stream_options", "one_thread", "run", "streamer_from_args"]
