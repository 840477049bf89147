"""Real-time benchmark: block time against block duration, latency, and what causality costs.

One command, three stages (``--stage timing|quality|headline``, default timing+quality):

* ``timing``: p50/p99/max time of ``process`` per block for blocks of 64/256/1024 samples
  and corpora of 1/10/60 minutes, through the Python engine (``Streamer``, eager PyTorch)
  and the exported TorchScript module (saved, then ``torch.jit.load``-ed), one torch
  thread. Ratios are p99 / block duration (under 100 % keeps up; the target is 50 % at
  256 samples with 10 minutes). The 1-minute corpus is a real 60 s recording; the 10- and
  60-minute corpora are synthetic: every grain of the ~5 minutes of real dev corpus
  recordings repeated with its matching features jittered (Gaussian, 5 % of a
  standardised dimension, re-normalised) so copies are not exact ties; the copies
  point at the same audio (the search cost grows with the grain count, rendering reads
  one hop whatever the corpus size).
* ``quality``: per dev pair, the offline transfer with its defaults against the causal
  streaming settings (aligned by the latency), scored by ``latentmorph.evaluate``; also
  the largest difference between ``Streamer`` (256-sample blocks) and ``transfer_causal``.
* ``headline``: the 256-sample / 10-minute cell again (run it last on a loaded machine).

The load average is printed next to every number.

    LATENTMORPH_SHARED_AUDIO=../shared/audio .venv/bin/python bench/bench_realtime.py   # ~10 min loaded
    .venv/bin/python bench/bench_realtime.py --stage headline
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

from latentmorph.audio import load  # noqa: E402
from latentmorph.stream import Streamer, transfer_causal  # noqa: E402
from latentmorph.stream.export import script_module  # noqa: E402
from latentmorph.stream.tables import CorpusTables, build_tables  # noqa: E402
from latentmorph.transfer.corpus import MemoryCorpus  # noqa: E402

SR = 44100
BLOCKS = (64, 256, 1024)
MINUTES = (1, 10, 60)


def load_avg() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def real_corpus(files: list[Path]) -> MemoryCorpus:
    sounds = [load(f, sr=SR, mono=True, warn_silence=False)[0] for f in files]
    return MemoryCorpus.from_audio([(w, SR) for w in sounds], names=[f.stem for f in files])


def tiled(tables: CorpusTables, grains: int, seed: int = 0) -> CorpusTables:
    """``tables`` repeated to ``grains`` rows, features jittered (see module docstring)."""
    n = len(tables)
    reps = -(-grains // n)
    rng = np.random.default_rng(seed)
    feats = np.concatenate([tables.feats] + [tables.feats + rng.normal(0, 0.05 / np.sqrt(tables.feats.shape[1]), tables.feats.shape).astype(np.float32)
                                             for _ in range(reps - 1)])[:grains]
    feats /= np.linalg.norm(feats, axis=1, keepdims=True)
    succ = np.concatenate([np.where(tables.succ >= 0, tables.succ + r * n, -1) for r in range(reps)])[:grains]
    succ = np.where(succ < grains, succ, -1)
    return replace(tables, feats=np.ascontiguousarray(feats), succ=succ, valid=np.tile(tables.valid, reps)[:grains],
                   offset=np.tile(tables.offset, reps)[:grains])


def corpora() -> dict[int, tuple[CorpusTables, object]]:
    files = common.corpus_files()
    one_minute = [f for f in files if abs(load(f, warn_silence=False)[0].shape[-1] / 44100 - 60) < 1] or files[:1]
    base = real_corpus(files)
    codec = base.codec()
    t_all = build_tables(base)
    out = {1: (build_tables(real_corpus(one_minute[:1])), codec)}
    frames_per_min = SR / base.hop * 60
    for m in MINUTES[1:]:
        out[m] = (tiled(t_all, int(m * frames_per_min)), codec)
    print(f"corpora: real {len(t_all)} grains ({len(t_all) / frames_per_min:.1f} min) from {len(files)} files; "
          + ", ".join(f"{m} min = {len(t)} grains" for m, (t, _) in out.items()), flush=True)
    return out


def source_audio(seconds: float) -> np.ndarray:
    return common.real_audio(seconds, SR, common.source_files(), seed=1)


def time_blocks(run, x: np.ndarray, block: int) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """Wall time and this thread's CPU time of ``run`` per block (CPU time leaves out the
    waits for a core that other processes cause on a loaded machine)."""
    wall, cpu = [], []
    for i in range(0, x.shape[-1] - block + 1, block):
        b = x[i:i + block]
        c0, t0 = time.thread_time(), time.perf_counter()
        run(b)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
    return np.array(wall), np.array(cpu)


def cell(tables_codec, block: int, x: np.ndarray, engine: str, tmp: Path) -> dict:
    s = Streamer(tables_codec, channels=1)
    if engine == "python":
        for i in range(0, 16 * 1024, block):
            s.process(x[i:i + block])
        s.reset()
        times, cpu = time_blocks(s.process, x, block)
    else:
        path = tmp / "bench.ts"
        torch.jit.save(script_module(s._make(1), SR), str(path))
        m = torch.jit.load(str(path))
        xt = torch.from_numpy(x)[None, None]

        def run(b: np.ndarray) -> None:
            with torch.no_grad():
                m(torch.from_numpy(b)[None, None])

        for i in range(0, 16 * 1024, block):  # the TorchScript executor specialises on its first calls
            run(x[i:i + block])
        m.reset()
        times, cpu = time_blocks(run, x, block)
        del xt
    dur = block / SR * 1e3
    ms = times * 1e3
    p50, p99 = np.percentile(ms, [50, 99])
    cpu99 = float(np.percentile(cpu * 1e3, 99))
    return dict(block=block, engine=engine, p50_ms=float(p50), p99_ms=float(p99), max_ms=float(ms.max()),
                cpu_p99_ms=cpu99, cpu_p99_ratio=cpu99 / dur,
                block_ms=dur, p99_ratio=float(p99 / dur), latency_ms=s.latency / SR * 1e3, load=load_avg())


def stage_timing(seconds: float, only: tuple[int, int] | None = None) -> list[dict]:
    torch.set_num_threads(1)
    cs = corpora()
    x = source_audio(seconds)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for minutes, tc in cs.items():
            for block in BLOCKS:
                if only and (minutes, block) != only:
                    continue
                for engine in ("python", "exported"):
                    r = cell(tc, block, x, engine, Path(tmp))
                    r.update(minutes=minutes, grains=len(tc[0]))
                    rows.append(r)
                    print(f"{minutes:>3} min {block:>5} {engine:<9} p50 {r['p50_ms']:.3f} ms  p99 {r['p99_ms']:.3f} ms "
                          f"({100 * r['p99_ratio']:.0f}% of {r['block_ms']:.2f} ms)  cpu p99 {r['cpu_p99_ms']:.3f} ({100 * r['cpu_p99_ratio']:.0f}%)  max {r['max_ms']:.2f}  load {r['load']}", flush=True)
    print(common.table(["corpus", "block", "engine", "p50 ms", "p99 ms", "p99/block", "cpu p99 ms", "cpu p99/block", "max ms", "load"],
                       [[f"{r['minutes']} min", r["block"], r["engine"], r["p50_ms"], r["p99_ms"], f"{100 * r['p99_ratio']:.0f}%",
                         r["cpu_p99_ms"], f"{100 * r['cpu_p99_ratio']:.0f}%", r["max_ms"], r["load"]] for r in rows], digits=3))
    return rows


def stage_quality() -> list[dict]:
    from latentmorph import api
    from latentmorph.evaluate import evaluate

    torch.set_num_threads(1)
    rows = []
    for name, src_path, corp_path in common.pairs():
        src, ssr = load(src_path, sr=SR, mono=True, warn_silence=False)
        corp = real_corpus([corp_path])
        cw = [(np.asarray(corp.file_audio(0)), SR)]
        t0 = time.perf_counter()
        off, _ = api.transfer(src, SR, index=corp)
        t_off = time.perf_counter() - t0
        variants = {"offline default": off}
        for lag, norm in ((1, "running"), (0, "running"), (1, "corpus")):
            y, _ = transfer_causal(src, SR, corp, lag=lag, normalize=norm)
            lat = (lag + 1) * corp.hop
            variants[f"stream lag {lag} {norm}"] = np.pad(y[:, lat:], ((0, 0), (0, lat)))
        s = Streamer(corp)
        blocks = [s.process(src[:, i:i + 256]) for i in range(0, src.shape[-1], 256)]
        diff = float(np.abs(np.concatenate(blocks, axis=1) - transfer_causal(src, SR, corp)[0]).max())
        for variant, y in variants.items():
            r = evaluate(y, SR, src, SR, cw)
            c, st, a = r["content"], r["style"], r["artefacts"]
            rows.append(dict(pair=name, variant=variant, loudness=c["loudness"]["value"], onsets=c["onsets"]["value"],
                             chroma=c["chroma"]["value"], content=c["score"], style=st["ratio"]["value"],
                             leakage=st["leakage"]["value"], click_ratio=a.get("click_ratio"),
                             stream_vs_reference_max_abs=diff, offline_s=t_off, load=load_avg()))
        print(f"{name}: stream vs transfer_causal max |diff| {diff:.2e}  load {load_avg()}", flush=True)
    print(common.table(["pair", "variant", "loud r", "onset", "chroma", "content", "style", "leak", "click x"],
                       [[r["pair"], r["variant"], r["loudness"], r["onsets"], r["chroma"], r["content"], r["style"],
                         r["leakage"], r["click_ratio"]] for r in rows], digits=3))
    for variant in dict.fromkeys(r["variant"] for r in rows):
        sel = [r for r in rows if r["variant"] == variant]
        print(f"mean {variant:<24} " + "  ".join(f"{k} {np.nanmean([float(r[k]) if r[k] is not None else np.nan for r in sel]):.3f}"
                                                for k in ("loudness", "onsets", "chroma", "content", "style", "leakage", "click_ratio")))
    return rows


def markdown(path: Path) -> str:
    """The tables of docs/realtime.md from a results JSON."""
    import json

    data = json.loads(Path(path).read_text())
    out = []
    rows = data.get("timing") or data.get("headline") or []
    if rows:
        out += ["| corpus | block | engine | p50 ms | p99 ms | p99 / block | CPU p99 ms | CPU p99 / block | load |",
                "|---|---|---|---|---|---|---|---|---|"]
        out += [f"| {r['minutes']} min ({r['grains']} grains) | {r['block']} ({r['block_ms']:.2f} ms) | {r['engine']} | "
                f"{r['p50_ms']:.3f} | {r['p99_ms']:.2f} | {100 * r['p99_ratio']:.0f} % | {r['cpu_p99_ms']:.2f} | "
                f"{100 * r['cpu_p99_ratio']:.0f} % | {r['load']} |" for r in rows]
    q = data.get("quality") or []
    if q:
        out += ["", "| pair | variant | loudness r | onsets | chroma | content | style ratio | leakage | click ratio |",
                "|---|---|---|---|---|---|---|---|---|"]
        f = lambda v: "n/a" if v is None else f"{float(v):.3f}"  # noqa: E731
        out += [f"| {r['pair']} | {r['variant']} | {f(r['loudness'])} | {f(r['onsets'])} | {f(r['chroma'])} | "
                f"{f(r['content'])} | {f(r['style'])} | {f(r['leakage'])} | {f(r['click_ratio'])} |" for r in q]
        for variant in dict.fromkeys(r["variant"] for r in q):
            sel = [r for r in q if r["variant"] == variant]
            mean = {k: np.nanmean([np.nan if r[k] is None else float(r[k]) for r in sel])
                    for k in ("loudness", "onsets", "chroma", "content", "style", "leakage", "click_ratio")}
            out.append(f"| **mean** | {variant} | " + " | ".join(f"{mean[k]:.3f}" for k in mean) + " |")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stage", choices=["timing", "quality", "headline", "all"], default="all")
    ap.add_argument("--seconds", type=float, default=20.0, help="source seconds streamed per timing cell")
    ap.add_argument("--markdown", metavar="RESULTS.json", help="print the docs tables of a results file and exit")
    args = ap.parse_args()
    if args.markdown:
        print(markdown(Path(args.markdown)))
        return 0
    print(f"load {load_avg()} on {os.cpu_count()} cpus, torch threads 1", flush=True)
    out: dict = {"machine": common.machine()}
    if args.stage in ("timing", "all"):
        out["timing"] = stage_timing(args.seconds)
    if args.stage in ("quality", "all"):
        out["quality"] = stage_quality()
    if args.stage == "headline":
        out["headline"] = stage_timing(args.seconds, only=(10, 256))
    print(f"wrote {common.write_json('realtime_' + args.stage, out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
