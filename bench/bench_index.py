"""Benchmark of the corpus index (issue 3). One command:

    .venv/bin/python bench/bench_index.py            # full run (~25 min on 2 busy cores)
    .venv/bin/python bench/bench_index.py --quick    # smaller sizes, for a smoke test

Measures, each stage in its own child process so its peak memory (ru_maxrss) is its own:

* throughput: indexing speed per codec in x real time, and the index's overhead as a
  ratio to the bare ``codec.encode`` of the same audio (baseline measured in the run).
  Music2Latent is timed with randomly initialised weights (same compute as the real
  ones; no weights ship here), on a short excerpt because it runs near real time on CPU.
* incremental: full build of a 1,000-file folder vs re-running on it unchanged, and
  after touching 10 files.
* search: exact search of a whole 60 s source (every frame at once) against 1 h and
  10 h of corpus frames for the embedded codec (43 frames/s), 100 h extrapolated
  linearly from 10 h (4 GB of vectors and ~5 TFLOP per query batch are beyond this
  machine), and 100 h at Music2Latent's 10.77 frames/s (3.9M frames) measured; fp32
  vs bf16-with-re-ranking.
* ann: FAISS IVF at 100 h of Music2Latent frames (3.9M): recall@1 against exact
  search and speed-up, for a few ``nprobe``; HNSW at 1 h of embedded frames (its build
  is the slow part on 2 cores).

Corpus vectors beyond what real audio gives are synthetic: real embedded-codec latents
of ../shared/audio (or tests/data) plus Gaussian noise of 0.3x each dimension's
spread, so they keep the real latents' shape and clustering. Queries are real latents
of a 60 s source. Results: bench/results/index-<time>.json (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (bench/common.py: shared paths and helpers)
SHARED = common.SHARED
RESULTS = ROOT / "bench" / "results"
EMB_FPS = 44100 / 1024
M2L_FPS = 44100 / 4096


def corpus_files() -> list[Path]:
    if SHARED.is_dir():
        files = sorted(SHARED.glob("dev_corp_*.wav"))
        if files:
            return files
    return sorted((ROOT / "tests" / "data").glob("*.flac"))


def source_files() -> list[Path]:
    if SHARED.is_dir():
        files = sorted(SHARED.glob("dev_src_*.wav"))
        if files:
            return files
    return sorted((ROOT / "tests" / "data").glob("*.flac"))


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def timed(fn, repeat: int = 1):  # noqa: ANN001, ANN201
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


# ---- stages (each runs in a child process) ----------------------------------------------
def stage_throughput(quick: bool) -> dict:
    from latentmorph.audio import load, resample, save
    from latentmorph.codecs import get_codec
    from latentmorph.corpus import build_index

    out: dict = {}
    tmp = Path(tempfile.mkdtemp(prefix="lm-bench-"))
    try:
        files = corpus_files()[: 3 if quick else None]
        codec = get_codec("embedded")
        seconds = 0.0
        bare = 0.0
        for f in files:
            wave, sr = load(f)
            seconds += wave.shape[-1] / sr
            t = time.perf_counter()
            codec.encode(resample(wave, sr, codec.sample_rate))
            bare += time.perf_counter() - t
        t_build, _ = timed(lambda: build_index(files, tmp / "emb.lmindex", "embedded", progress=False))
        out["embedded"] = {
            "audio_s": seconds,
            "index_s": t_build,
            "x_realtime": seconds / t_build,
            "bare_encode_s": bare,
            "bare_x_realtime": seconds / bare,
            "overhead_ratio": t_build / bare,
        }
        try:
            from latentmorph.codecs.m2l_weights import package_available, save_random_checkpoint

            if not package_available():
                raise ImportError("music2latent package not installed")
            weights = save_random_checkpoint(tmp / "music2latent.pt")
            m2l = get_codec("music2latent", weights=str(weights))
            clip_s = 5.0 if quick else 15.0
            wave, sr = load(files[0], duration=clip_s)
            save(tmp / "m2l" / "clip.wav", wave, sr)
            x = resample(wave, sr, m2l.sample_rate)
            m2l.encode(x[:, : 44100 * 2])  # warm-up
            t_bare, _ = timed(lambda: m2l.encode(x))
            t_build, _ = timed(lambda: build_index([tmp / "m2l"], tmp / "m2l.lmindex", m2l, progress=False))
            out["music2latent"] = {
                "audio_s": clip_s,
                "index_s": t_build,
                "x_realtime": clip_s / t_build,
                "bare_encode_s": t_bare,
                "bare_x_realtime": clip_s / t_bare,
                "overhead_ratio": t_build / t_bare,
                "weights": "random init (timing only)",
            }
        except Exception as err:  # noqa: BLE001 - report, do not fail the bench
            out["music2latent"] = {"skipped": f"{type(err).__name__}: {err}"}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def stage_incremental(quick: bool) -> dict:
    from latentmorph.audio import load, resample, save
    from latentmorph.corpus import build_index

    n_files = 200 if quick else 1000
    tmp = Path(tempfile.mkdtemp(prefix="lm-bench-"))
    try:
        folder = tmp / "lib"
        wave, sr = load(corpus_files()[0])
        wave = resample(wave, sr, 22050)
        piece = 22050 // 4  # 0.25 s files: many files, little audio, so per-file costs dominate
        for i in range(n_files):
            s = (i * piece) % max(1, wave.shape[-1] - piece)
            save(folder / f"{i // 100:02d}" / f"clip{i:04d}.wav", wave[:, s : s + piece], 22050)
        out_idx = tmp / "lib.lmindex"
        t_full, _ = timed(lambda: build_index([folder], out_idx, "embedded", progress=False))
        t_same, r = timed(lambda: build_index([folder], out_idx, progress=False), repeat=3)
        assert r.unchanged == n_files and not r.changed
        for i in range(10):
            p = folder / f"{i // 100:02d}" / f"clip{i:04d}.wav"
            os.utime(p, ns=(time.time_ns(), time.time_ns() + 10**9))
        t_touch, r2 = timed(lambda: build_index([folder], out_idx, progress=False))
        shutil.copy(folder / "00" / "clip0000.wav", folder / "00" / "new.wav")
        save(folder / "00" / "new2.wav", wave[:, :piece] * 0.5, 22050)
        t_add, r3 = timed(lambda: build_index([folder], out_idx, progress=False))
        return {
            "files": n_files,
            "full_build_s": t_full,
            "unchanged_rerun_s": t_same,
            "unchanged_ratio_to_full": t_same / t_full,
            "touched_10_rerun_s": t_touch,
            "touched_hashed_not_encoded": r2.unchanged == n_files,
            "added_2_rerun_s": t_add,
            "added_2_counts": {"added": r3.added, "resumed_by_content": r3.resumed},
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def real_latents() -> tuple[np.ndarray, np.ndarray]:
    """(corpus seed vectors [n, 64], 60 s source queries [2584, 64]) from the embedded codec."""
    from latentmorph.audio import load
    from latentmorph.codecs import get_codec

    codec = get_codec("embedded")
    seeds = []
    for f in corpus_files():
        wave, sr = load(f, mono=True)
        seeds.append(codec.encode_audio(wave, sr)[0].T)
    srcs = []
    for f in source_files():
        wave, sr = load(f, mono=True)
        srcs.append(codec.encode_audio(wave, sr)[0].T)
    src = np.concatenate(srcs)
    n_q = int(round(60 * EMB_FPS))
    src = np.tile(src, (int(np.ceil(n_q / len(src))), 1))[:n_q]
    return np.concatenate(seeds).astype(np.float32), src.astype(np.float32)


def synthetic(seeds: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    spread = seeds.std(axis=0, keepdims=True).astype(np.float32) * 0.3
    out = np.empty((n, seeds.shape[1]), np.float32)
    step = 1 << 20
    for lo in range(0, n, step):
        hi = min(n, lo + step)
        out[lo:hi] = seeds[rng.integers(0, len(seeds), hi - lo)]
        out[lo:hi] += rng.standard_normal((hi - lo, seeds.shape[1]), dtype=np.float32) * spread
    return out


def stage_search(quick: bool, size_name: str) -> dict:
    import torch

    from latentmorph.corpus.search import ExactSearch

    hours = {"1h": 1, "10h": 10, "100h_m2l": 100}[size_name]
    fps = M2L_FPS if size_name.endswith("m2l") else EMB_FPS
    if quick:
        hours = hours / 10
    n = int(hours * 3600 * fps)
    seeds, queries = real_latents()
    if fps == M2L_FPS:
        queries = queries[: int(round(60 * M2L_FPS))]
    db = synthetic(seeds, n)
    out = {"grains": n, "hours": hours, "frames_per_s": fps, "queries": len(queries), "threads": torch.get_num_threads()}
    for metric in ("l2", "cosine"):
        ex = ExactSearch(db, metric)
        ex.search(queries[:64], 8)  # warm-up
        rep = 2 if n < 1_000_000 else 1
        t32, (_, i32) = timed(lambda ex=ex: ex.search(queries, 8), repeat=rep)
        t16, (_, i16) = timed(lambda ex=ex: ex.search(queries, 8, precision="bf16"), repeat=rep)
        out[metric] = {
            "fp32_s": t32,
            "fp32_queries_per_s": len(queries) / t32,
            "bf16_rerank_s": t16,
            "bf16_speedup": t32 / t16,
            "bf16_top1_agreement": float(np.mean(i16[:, 0] == i32[:, 0])),
        }
        del ex
    return out


def stage_ann(quick: bool, kind: str) -> dict:
    from latentmorph.corpus.ann import AnnIndex, recall_at_1
    from latentmorph.corpus.search import ExactSearch

    seeds, queries = real_latents()
    if kind == "ivf":
        n = int((10 if quick else 100) * 3600 * M2L_FPS)
        queries = queries[: int(round(60 * M2L_FPS))]
    else:
        n = int((0.1 if quick else 1) * 3600 * EMB_FPS)  # HNSW build is ~40 s per 155k vectors here
    db = synthetic(seeds, n, seed=1)
    ex = ExactSearch(db, "l2")
    t_exact, (_, exact_ids) = timed(lambda ex=ex: ex.search(queries, 8))
    del ex
    out = {"kind": kind, "grains": n, "queries": len(queries), "exact_l2_s": t_exact, "settings": []}
    if kind == "ivf":
        nlist = 1024 if quick else 2048
        t_build, ann = timed(lambda: AnnIndex(db, "l2", kind="ivf", nlist=nlist, train_size=64 * nlist))
        out["build_s"] = t_build
        out["nlist"] = nlist
        for nprobe in (8, 32, 128):
            ann.index.nprobe = nprobe
            t, (_, ids) = timed(lambda: ann.search(queries, 8), repeat=2)
            out["settings"].append({"nprobe": nprobe, "search_s": t, "speedup_vs_exact": t_exact / t, "recall_at_1": recall_at_1(ids, exact_ids)})
    else:
        t_build, ann = timed(lambda: AnnIndex(db, "l2", kind="hnsw", m=32))
        out["build_s"] = t_build
        for ef in (32, 128):
            ann.index.hnsw.efSearch = ef
            t, (_, ids) = timed(lambda: ann.search(queries, 8), repeat=2)
            out["settings"].append({"ef_search": ef, "search_s": t, "speedup_vs_exact": t_exact / t, "recall_at_1": recall_at_1(ids, exact_ids)})
    return out


STAGES = {
    "throughput": lambda q: stage_throughput(q),
    "incremental": lambda q: stage_incremental(q),
    "search_1h": lambda q: stage_search(q, "1h"),
    "search_10h": lambda q: stage_search(q, "10h"),
    "search_100h_m2l": lambda q: stage_search(q, "100h_m2l"),
    "ann_ivf_100h_m2l": lambda q: stage_ann(q, "ivf"),
    "ann_hnsw_1h": lambda q: stage_ann(q, "hnsw"),
}


def run_child(stage: str, quick: bool) -> dict:
    cmd = [sys.executable, __file__, "--stage", stage] + (["--quick"] if quick else [])
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"}
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["stage_wall_s"] = time.perf_counter() - t
    return res


def report(results: dict) -> None:
    def get(d: dict, *keys, fmt="{:.3g}"):  # noqa: ANN001, ANN202
        for k in keys:
            if not isinstance(d, dict) or k not in d:
                return "n/a"
            d = d[k]
        return fmt.format(d) if isinstance(d, (int, float)) else str(d)

    r = results["stages"]
    print("\n== corpus index benchmark ==")
    t = r.get("throughput", {})
    for c in ("embedded", "music2latent") if t else ():
        if "skipped" in t.get(c, {}):
            print(f"indexing {c}: skipped ({t[c]['skipped']})")
        else:
            print(f"indexing {c}: {get(t, c, 'x_realtime')}x real time ({get(t, c, 'audio_s')} s audio); "
                  f"bare encode {get(t, c, 'bare_x_realtime')}x; index/bare time ratio {get(t, c, 'overhead_ratio')}")
    i = r.get("incremental", {})
    if i:
        print(f"incremental, {get(i, 'files')} files: full build {get(i, 'full_build_s')} s, unchanged re-run {get(i, 'unchanged_rerun_s')} s "
          f"(ratio {get(i, 'unchanged_ratio_to_full')}), 10 touched {get(i, 'touched_10_rerun_s')} s, 2 added {get(i, 'added_2_rerun_s')} s")
    base = r.get("search_1h", {}).get("l2", {}).get("fp32_s")
    for name in ("search_1h", "search_10h", "search_100h_m2l"):
        if name not in r:
            continue
        s = r.get(name, {})
        for metric in ("l2", "cosine"):
            ratio = (s.get(metric, {}).get("fp32_s", float("nan")) / base) if base else float("nan")
            print(f"{name} ({get(s, 'grains')} grains, {get(s, 'queries')} queries) {metric}: fp32 {get(s, metric, 'fp32_s')} s "
                  f"({get(s, metric, 'fp32_queries_per_s')} q/s, {ratio:.3g}x the 1 h time), bf16+rerank speed-up {get(s, metric, 'bf16_speedup')}, "
                  f"top-1 agreement {get(s, metric, 'bf16_top1_agreement')}; peak {get(s, 'peak_rss_mb')} MB")
    if "extrapolated_100h_embedded" in results:
        e = results["extrapolated_100h_embedded"]
        print(f"search_100h embedded (extrapolated x10 from 10 h, {e['grains']} grains): l2 fp32 ~{e['l2_fp32_s']:.3g} s, ~{e['memory_gb']:.2g} GB of vectors")
    for name in ("ann_ivf_100h_m2l", "ann_hnsw_1h"):
        if name not in r:
            continue
        a = r.get(name, {})
        print(f"{name} ({get(a, 'grains')} grains): exact {get(a, 'exact_l2_s')} s, build {get(a, 'build_s')} s; peak {get(a, 'peak_rss_mb')} MB")
        for s in a.get("settings", []):
            knob = ", ".join(f"{k}={v}" for k, v in s.items() if k in ("nprobe", "ef_search"))
            print(f"   {knob}: recall@1 {s['recall_at_1']:.3f}, search {s['search_s']:.3g} s, speed-up {s['speedup_vs_exact']:.3g}x")
    for name, s in r.items():
        if "error" in s:
            print(f"{name}: FAILED: {s['error']}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller sizes (smoke test)")
    ap.add_argument("--stage", choices=sorted(STAGES), help=argparse.SUPPRESS)
    ap.add_argument("--only", nargs="+", choices=sorted(STAGES), help="run only these stages")
    args = ap.parse_args()
    if args.stage:
        res = STAGES[args.stage](args.quick)
        res["peak_rss_mb"] = peak_mb()
        print(json.dumps(res))
        return 0
    results = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "quick": args.quick, "cpus": os.cpu_count(), "stages": {}}
    for stage in args.only or list(STAGES):
        print(f"[bench] {stage} ...", file=sys.stderr, flush=True)
        results["stages"][stage] = run_child(stage, args.quick)
    s10 = results["stages"].get("search_10h", {})
    if "l2" in s10:
        results["extrapolated_100h_embedded"] = {
            "grains": int(100 * 3600 * EMB_FPS),
            "l2_fp32_s": s10["l2"]["fp32_s"] * 100 / s10["hours"],
            "memory_gb": 100 * 3600 * EMB_FPS * 64 * 4 / 1e9,
            "note": "linear in the number of grains (measured 1 h -> 10 h ratio shows it)",
        }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"index-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=1))
    report(results)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
