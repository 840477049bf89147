#!/usr/bin/env python3
"""Latent diffusion benchmark: speed, tempo adherence, restyle quality, timbre distance.

One command; every number is printed beside a baseline measured in the same run:

1. speed: training throughput (latent frames/s) per preset and thread count, generation
   real-time factor (seconds of audio per second of wall time) split into sampling and the
   codec's decoder (the baseline every generation pays), peak memory;
2. tempo adherence: a tempo model trained for a few minutes on the CC0 drum/texture loops of
   the training library; the beat-tracked tempo of 8 s generated at 90/120/150 BPM, without
   the condition (guidance 0: the baseline), plain conditional (1) and guided (3);
3. restyle: a timbre+structure model trained on loops, one-shots and ambiences; for each
   source -> target pair, `latentmorph.evaluate` content score (vs SOURCE) and style ratio
   (vs TARGET, 0 = sounds like the target) swept over S and T, beside the granular
   transfer `lm.transfer` on the same pairs;
4. timbre: the model's timbre-vector distance of each restyled output to the target,
   as d_target / (d_target + d_source) (0 = at the target, 1 = at the source).

Training audio: `bash ../shared/data/fetch_training_audio.sh bench/results/train_audio` (or
--audio DIR). Results: bench/results/diffusion.json. Runs take the machine's load into
account only by reporting `uptime`; the training runs are short (minutes), so the quality
numbers describe short-trained models, not what the presets reach.

usage: .venv/bin/python bench/bench_diffusion.py [--quick] [--audio DIR] [--minutes M] [--only speed tempo restyle]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from common import PeakMemory, machine, pairs, table, write_json  # noqa: E402


def load_avg() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def value(section: dict, key: str):  # noqa: ANN201
    item = section.get(key)
    return item.get("value") if isinstance(item, dict) else item


def speed(index, work: Path, quick: bool) -> list[list]:
    import latentmorph.diffusion as d

    rows = []
    plans = [("tiny", None), ("small", 1), ("small", 2)] + ([] if quick else [("base", 2)])
    for preset, threads in plans:
        steps = {"tiny": 40, "small": 8, "base": 3}[preset]
        out = work / f"speed_{preset}_{threads}.lmdiff"
        with PeakMemory() as mem:
            r = d.train([index], out, preset=preset, conditions=("tempo", "timbre", "structure"), steps=steps,
                        progress=False, plot=False, threads=threads, checkpoint_steps=10**9)
        t0 = time.perf_counter()
        _, sr, lat = d.generate(out, seconds=8.0, steps=20, seed=1, return_latents=True, threads=threads, bpm=120)
        total = time.perf_counter() - t0
        model = d.load_model(out)
        import torch

        from latentmorph.diffusion.conditions import Conds
        from latentmorph.diffusion.flow import euler_sample
        from latentmorph.diffusion.model_file import model_codec
        from latentmorph.diffusion.threads import torch_threads

        codec = model_codec(model)
        T = lat.shape[-1]
        both = Conds({"tempo": torch.rand(2, T)}, {"tempo": torch.tensor([1.0, 0.0])})
        with torch_threads(model.parameter_count(), threads), torch.no_grad():
            t1 = time.perf_counter()  # the sampling alone: 20 guided steps (two passes each), as generate does
            euler_sample(lambda x, a: model.velocity(torch.cat([x, x]), torch.cat([a, a]), both)[:1],
                         (1, model.config.dim, T), 20, torch.Generator().manual_seed(1))
            sampling = time.perf_counter() - t1
            t1 = time.perf_counter()
            codec.decode(lat)
            decode = time.perf_counter() - t1
        rows.append([preset, threads or 1, r.parameters / 1e6, r.frames_per_second, 8.0 / total,
                     8.0 / sampling, 8.0 / decode, mem.peak_mb])
        print(table(["preset", "threads", "M params", "train frames/s", "gen RTF", "sampling RTF", "decode RTF", "peak MB"],
                    [rows[-1]]), flush=True)
    return rows


def tempo_bench(loops: list[Path], work: Path, minutes: float) -> list[list]:
    import latentmorph.diffusion as d
    from latentmorph.diffusion.features.tempo import tempo_adherence, track_beats
    from latentmorph.audio import load

    model = work / "tempo.lmdiff"
    r = d.train(loops, model, preset="tiny", conditions=("tempo",), minutes=minutes, progress=False, plot=False,
                crop=64)
    print(f"tempo model: {r.summary()}", flush=True)
    found = [track_beats(*load(f)).bpm for f in loops]
    print(f"training loops: {sum(np.isfinite(found))}/{len(found)} with a beat, tempi {np.nanmin(found):.0f}-{np.nanmax(found):.0f} BPM",
          flush=True)
    rows = []
    for bpm in (90.0, 120.0, 150.0):
        for g in (0.0, 1.0, 3.0):
            errs, octs, est = [], [], []
            for seed in (1, 2, 3):
                wave, sr = d.generate(model, seconds=8.0, bpm=bpm, guidance=g, steps=20, seed=seed)
                a = tempo_adherence(wave, sr, bpm)
                errs.append(a["rel_error"]); octs.append(a["octave_error"]); est.append(a["bpm"])
            rows.append([bpm, g, float(np.nanmedian(est)), float(np.nanmean(errs)), float(np.nanmean(octs)),
                         float(np.mean(np.array(octs) < 0.04))])
    return rows


def restyle_bench(train_inputs: list[Path], work: Path, minutes: float, quick: bool,
                  sweep: list[tuple[float, float]] | None = None) -> tuple[list[list], list[list]]:
    import latentmorph as lm
    import latentmorph.diffusion as d
    from latentmorph.audio import load
    from latentmorph.diffusion.model_file import model_codec
    from latentmorph.diffusion.timbre import timbre_vector

    model_path = work / "restyle.lmdiff"
    r = d.train(train_inputs, model_path, preset="tiny", conditions=("timbre", "structure"), minutes=minutes,
                progress=False, plot=False, crop=64)
    print(f"restyle model: {r.summary()}", flush=True)
    model = d.load_model(model_path)
    codec = model_codec(model)
    sweep = sweep or ([(1.0, 1.0), (1.0, 3.0)] if quick else [(0.5, 1.0), (0.5, 3.0), (1.0, 1.0), (1.0, 3.0), (2.0, 1.0), (2.0, 3.0)])
    chosen = pairs()[: 2 if quick else 4]
    rows, trows = [], []
    for name, sp, tp in chosen:
        src, ssr = load(sp, duration=8.0)
        tgt, tsr = load(tp, duration=20.0)
        tv_s = timbre_vector(model, codec, src, ssr)
        tv_t = timbre_vector(model, codec, tgt, tsr)
        out, osr = lm.transfer(src, ssr, corpus=[(tgt, tsr)])
        e = lm.evaluate(out, osr, src, ssr, [(tgt, tsr)])
        tv_o = timbre_vector(model, codec, out, osr)
        ratio = np.linalg.norm(tv_o - tv_t) / (np.linalg.norm(tv_o - tv_t) + np.linalg.norm(tv_o - tv_s) + 1e-9)
        rows.append([name, "transfer", "-", "-", value(e["content"], "score"), value(e["style"], "ratio"), float(ratio)])
        print(table(["pair", "method", "S", "T", "content", "style ratio", "timbre ratio"], [rows[-1]]), flush=True)
        for s, t in sweep:
            out, osr = d.restyle(model, src, ssr, timbre_from=(tgt, tsr), guidance_structure=s, guidance_timbre=t,
                                 steps=20, seed=1)
            e = lm.evaluate(out, osr, src, ssr, [(tgt, tsr)])
            tv_o = timbre_vector(model, codec, out, osr)
            ratio = np.linalg.norm(tv_o - tv_t) / (np.linalg.norm(tv_o - tv_t) + np.linalg.norm(tv_o - tv_s) + 1e-9)
            rows.append([name, "restyle", s, t, value(e["content"], "score"), value(e["style"], "ratio"), float(ratio)])
            print(table(["pair", "method", "S", "T", "content", "style ratio", "timbre ratio"], [rows[-1]]), flush=True)
        trows.append([name, float(np.linalg.norm(tv_s - tv_t))])
    return rows, trows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1-minute trainings, fewer pairs and settings")
    ap.add_argument("--audio", default=str(common.TRAIN_AUDIO), help="training library (fetch_training_audio.sh; default $LATENTMORPH_TRAIN_AUDIO or bench/results/train_audio)")
    ap.add_argument("--minutes", type=float, help="training minutes per quality model (default 3, quick 1)")
    ap.add_argument("--only", nargs="+", choices=["speed", "tempo", "restyle"], default=["speed", "tempo", "restyle"],
                    help="run only these parts")
    ap.add_argument("--sweep", help="restyle settings S:T,S:T,... (default quick 1:1,1:3; full 0.5/1/2 x 1/3)")
    args = ap.parse_args()
    minutes = args.minutes or (1.0 if args.quick else 3.0)
    sweep = [tuple(float(v) for v in st.split(":")) for st in args.sweep.split(",")] if args.sweep else None
    lib = Path(args.audio)
    loops = sorted((lib / "loops").glob("*.flac"))
    if not loops:
        print(f"no training audio in {lib}: run bash {common.FETCH_TRAINING_AUDIO} {lib}", file=sys.stderr)
        return 2
    import torch

    from latentmorph.corpus import build_index

    result = {"machine": machine(), "load_start": load_avg(), "quick": args.quick, "minutes": minutes,
              "gpu": torch.cuda.is_available()}
    print(f"load average at start: {result['load_start']}; GPU: {'yes' if result['gpu'] else 'none'}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ.setdefault("LATENTMORPH_CACHE_DIR", str(work / "cache"))
        index = build_index(loops, work / "loops.lmindex", progress=False).index
        if "speed" in args.only:
            print("\n== speed (8 s generated, 20 Euler steps; train on the loops) ==", flush=True)
            result["speed"] = speed(index, work, args.quick)
        if "tempo" in args.only:
            print("\n== tempo adherence (tiny, trained on loops) ==", flush=True)
            result["tempo"] = tempo_bench(loops, work, minutes)
            print(table(["asked BPM", "guidance", "median est. BPM", "rel. error", "octave-aware error", "share within 4%"],
                        result["tempo"]))
        if "restyle" in args.only:
            print("\n== restyle and timbre (tiny, trained on loops + one-shots + ambiences) ==", flush=True)
            inputs = loops + sorted((lib / "samples").glob("*.flac")) + sorted((lib / "ambience").glob("*.ogg"))
            result["restyle"], result["timbre_pairs"] = restyle_bench(inputs, work, minutes, args.quick, sweep)
            print(table(["pair", "method", "S", "T", "content", "style ratio", "timbre ratio"], result["restyle"]))
    result["load_end"] = load_avg()
    print(f"\nload average at end: {result['load_end']}")
    print(f"results: {write_json('diffusion', result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
