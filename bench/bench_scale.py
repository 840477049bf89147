"""Scale benchmark: approximate search in transfer (--part search) and distributed indexing (--part index).

search: recall@k and time of exact vs FAISS IVF/HNSW search in transfer's matching space at
10 h and 100 h of grains, and evaluate() scores on the dev pairs with exact vs approximate
search. Synthetic grains are built from real latents: every corpus clip in ../shared/audio
(or tests/data) is encoded with the embedded codec and standardised as transfer does; copy
``c`` of those rows is ``rows * g_c + s_c + e`` with per-copy per-dimension gains
``g_c ~ N(1, 0.1)``, shifts ``s_c ~ N(0, 0.2)`` and per-row noise ``e ~ N(0, 0.2)`` (units of
one standard deviation), until the hours are reached (43.07 grains/s, mono). Queries are
the real dev sources, encoded and standardised by their own statistics.

index: indexing throughput with 1 and 2 Dask workers against a local build of the same
corpus, and the model ``time = per-file cost x files / workers + fixed`` checked against them.

    .venv/bin/python bench/bench_scale.py --part search --hours 10 100
    .venv/bin/python bench/bench_scale.py --part index --minutes 6
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

FRAMES_PER_S = 44100 / 1024


def _real_rows(codec, files, sr=44100):  # noqa: ANN001, ANN202
    from latentmorph import audio
    from latentmorph.transfer.space import MatchSpace, loudness_dims

    lats = []
    for f in files:
        w, _ = audio.load(f, sr=sr, mono=True)
        lats.append(codec.encode(w)[0].T)
    lat = np.concatenate(lats).astype(np.float32)
    space = MatchSpace.fit(lat, loudness_dims(codec), "both", 1.0)
    return space, space.corpus(lat)


def _synthetic(rows: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty((n, rows.shape[1]), np.float32)
    for a in range(0, n, rows.shape[0]):
        b = min(n, a + rows.shape[0])
        g = rng.normal(1.0, 0.1, rows.shape[1]).astype(np.float32)
        s = rng.normal(0.0, 0.2, rows.shape[1]).astype(np.float32)
        out[a:b] = rows[: b - a] * g + s + rng.normal(0.0, 0.2, (b - a, rows.shape[1])).astype(np.float32)
    return out


def _recall(approx: np.ndarray, exact: np.ndarray) -> float:
    """recall@k: share of the exact top-k that the approximate top-k also returns."""
    return float(np.mean([len(set(a) & set(e)) / len(e) for a, e in zip(approx, exact)]))


def part_search(hours: list[float], k: int, queries_n: int, hnsw_max_hours: float) -> dict:
    from latentmorph.codecs import get_codec
    from latentmorph.corpus import ann
    from latentmorph.corpus.search import ExactSearch
    from latentmorph.transfer import ann_search

    codec = get_codec("embedded")
    space, rows = _real_rows(codec, common.corpus_files())
    q_parts = []
    for f in common.source_files():
        from latentmorph import audio

        w, _ = audio.load(f, sr=44100, mono=True)
        lat = codec.encode(w)[0].T
        q_parts.append(space.source(lat, np.ones(lat.shape[0], bool)))
    queries = np.concatenate(q_parts).astype(np.float32)
    queries = queries[np.random.default_rng(1).choice(len(queries), min(queries_n, len(queries)), replace=False)]
    queries /= np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
    results = {"real_rows": int(rows.shape[0]), "queries": int(len(queries)), "k": k, "sizes": []}
    for h in hours:
        n = int(h * 3600 * FRAMES_PER_S)
        db = _synthetic(rows, n)
        db /= np.maximum(np.linalg.norm(db, axis=1, keepdims=True), 1e-12)  # in place: cosine = dot, no copies (100 h is 4 GB)
        entry = {"hours": h, "grains": n}
        t0 = time.perf_counter()
        ex = ExactSearch(db, "dot")
        entry["exact_build_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        _, exact_ids = ex.search(queries, k)
        entry["exact_search_s"] = time.perf_counter() - t0
        del ex
        gc.collect()
        entry["methods"] = []
        kinds = [("ivf", {"nprobe": p}) for p in (16, ann_search.IVF_NPROBE, 128)]
        if h <= hnsw_max_hours:
            kinds += [("hnsw", {"ef_search": e}) for e in (64, ann_search.HNSW_EF)]
        built = {}
        for kind, params in kinds:
            if kind not in built:
                t0 = time.perf_counter()
                built[kind] = ann.AnnIndex(db, "dot", kind=kind)
                build_s = time.perf_counter() - t0
            else:
                build_s = 0.0
            idx = built[kind]
            if kind == "ivf":
                idx.index.nprobe = params["nprobe"]
            else:
                idx.index.hnsw.efSearch = params["ef_search"]
            t0 = time.perf_counter()
            _, ids = idx.search(queries, k)
            dt = time.perf_counter() - t0
            row = {"kind": kind, **params, "build_s": build_s, "search_s": dt, "speedup": entry["exact_search_s"] / dt,
                   f"recall@{k}": _recall(ids, exact_ids), "recall@1": float(np.mean(ids[:, 0] == exact_ids[:, 0]))}
            entry["methods"].append(row)
            print(f"{h:>5} h {n:>9} grains  {kind} {params}: recall@{k} {row[f'recall@{k}']:.3f}, "
                  f"search {dt:.2f} s vs exact {entry['exact_search_s']:.2f} s ({row['speedup']:.1f}x), build {build_s:.1f} s", flush=True)
        del built, db
        gc.collect()
        results["sizes"].append(entry)
    return results


def part_quality(k: int) -> dict:
    """evaluate() scores of the dev pairs with exact vs approximate candidate search."""
    import tempfile

    from latentmorph import api, audio
    from latentmorph.evaluate import evaluate

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, src_path, corp_path in common.pairs():
            idx = Path(tmp) / f"{name}.lmindex"
            api.build_index([corp_path], idx, progress=False)
            src, sr = audio.load(src_path, max_seconds=3600)
            corp = audio.load(corp_path)
            scores = {}
            for search in ("exact", "ivf", "hnsw"):
                out, osr = api.transfer(src, sr, index=str(idx), search=search, k=k)[:2]
                r = evaluate(out, osr, src, sr, corpus=[corp])
                scores[search] = {"content": float(r["content"]["score"]),
                                  "style_ratio": float(r["style"]["ratio"]["value"]) if "ratio" in r["style"] else float("nan")}
            rows.append({"pair": name, **scores})
            print(name, scores, flush=True)
    return {"pairs": rows}


def part_index(minutes: float, workers: list[int]) -> dict:
    import tempfile

    from latentmorph import api
    from latentmorph.corpus.distributed import build_index_distributed

    out: dict = {"minutes": minutes, "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        files = common.write_corpus(Path(tmp) / "corpus", minutes, piece_s=30.0)
        t0 = time.perf_counter()
        api.build_index(files, Path(tmp) / "local.lmindex", progress=False)
        local = time.perf_counter() - t0
        out["local_s"] = local
        out["files"] = len(files)
        print(f"local build: {len(files)} files, {minutes} min of audio, {local:.1f} s", flush=True)
        for n in workers:
            rep = build_index_distributed(files, Path(tmp) / f"w{n}.lmindex", workers=n, progress=False)
            row = {"workers": n, "elapsed_s": rep.elapsed, "setup_s": rep.setup_seconds, "bytes_moved": rep.bytes_moved,
                   "worker_rss_mb": rep.worker_rss_mb, "speed_vs_local": local / rep.elapsed}
            out["runs"].append(row)
            print(f"{n} worker(s): {rep.elapsed:.1f} s (cluster start {rep.setup_seconds:.1f} s), {rep.bytes_moved / 1e6:.1f} MB moved, "
                  f"worker RSS {rep.worker_rss_mb:.0f} MB, {local / rep.elapsed:.2f}x local", flush=True)
    per_file = local / max(1, out["files"])
    out["model"] = {"per_file_s": per_file}
    for n, run in zip(workers, out["runs"]):
        run["model_s"] = per_file * out["files"] / n + run["setup_s"]
        print(f"model for {n} worker(s): {run['model_s']:.1f} s, measured {run['elapsed_s']:.1f} s", flush=True)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--part", choices=["search", "quality", "index", "all"], default="all")
    p.add_argument("--hours", type=float, nargs="+", default=[10.0, 100.0])
    p.add_argument("--hnsw-max-hours", type=float, default=10.0, help="skip HNSW above this size (its build is slow on 2 cores)")
    p.add_argument("--queries", type=int, default=500)
    p.add_argument("-k", type=int, default=8)
    p.add_argument("--minutes", type=float, default=6.0)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = p.parse_args()
    res: dict = {"machine": common.machine(), "load": os.getloadavg()}
    if args.part in ("search", "all"):
        res["search"] = part_search(args.hours, args.k, args.queries, args.hnsw_max_hours)
    if args.part in ("quality", "all"):
        res["quality"] = part_quality(args.k)
    if args.part in ("index", "all"):
        res["index"] = part_index(args.minutes, args.workers)
    res["load_after"] = os.getloadavg()
    print("written", common.write_json(f"scale_{args.part}", res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
