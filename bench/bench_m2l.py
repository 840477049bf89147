"""Music2Latent speed, before/after, paired in one run (issue 14).

    python bench/bench_m2l.py                          # 30 s encode, 10 s decode, 3 pairs, load timing
    python bench/bench_m2l.py --encode-seconds 10 --decode-seconds 3 --repeats 2   # shorter
    python bench/bench_m2l.py --transfer               # + the reference-workflow comparison (long)

Random weights of the real UNet (``m2l_weights.save_random_checkpoint``): the compute does
not depend on the values. Everything is measured in one process, A/B interleaved
(before, after, before, after, ...) because the machine is shared; each ratio is
before-time / after-time of one pair, reported as median and range, with ``uptime`` load.

- ``load``: building the codec and its model. *before* rebuilds what the code did until
  now (randomly initialise the UNet twice, once for the architecture check and once for
  the model, then copy the checkpoint in); *after* is ``load_unet`` (meta-device build,
  the checkpoint's tensors assigned). Both read the file with ``torch.load(weights_only=True)``.
- ``encode`` / ``decode``, three variants interleaved, the latent cache off: *before* = fp32,
  NCHW tensors, glibc's default allocator behaviour (``LATENTMORPH_M2L_MALLOC=system``);
  *prev* = the defaults until channels-last (``precision=auto``, NCHW, freed memory reused);
  *after* = the defaults now (``precision=auto``, channels-last, freed memory reused).
  Minor page faults and kernel CPU seconds per call come from ``getrusage``. Output
  tolerance: SNR of *prev* and *after* against *before* (fp32 eager).
- ``--transfer``: the same-codec comparison with the reference workflow (bench/reference.py,
  which has no cache) for a source of ``--source-seconds`` over a corpus of
  ``--corpus-seconds``: reference (re-encode corpus + source, nearest, decode), ours first
  run (index build + transfer), ours repeat (index already built) without and with the
  source-latent cache (a run of its own stores the latents first), with the ``grains`` and
  ``decode`` renderers; per-stage seconds of each.

Writes bench/results/m2l-<time>.json.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import common  # noqa: E402

SR = 44100


def _load_avg() -> str:
    try:
        return " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return "?"


def _usage() -> tuple[int, float, float]:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_minflt, r.ru_stime, time.perf_counter()


def _timed(fn):  # noqa: ANN001, ANN202
    f0, s0, t0 = _usage()
    out = fn()
    f1, s1, t1 = _usage()
    return out, {"s": t1 - t0, "faults": f1 - f0, "sys_s": s1 - s0}


def _snr(ref: np.ndarray, got: np.ndarray) -> float | None:
    e = float(np.linalg.norm((got - ref).ravel()) / max(np.linalg.norm(ref.ravel()), 1e-12))
    return None if e == 0 else round(-20 * float(np.log10(e)), 1)


def _summary(pairs: list[tuple[dict, dict]]) -> dict:
    ratios = [b["s"] / a["s"] for b, a in pairs]
    med = lambda key, i: statistics.median(p[i][key] for p in pairs)  # noqa: E731
    return {
        "speedup_median": round(statistics.median(ratios), 2),
        "speedup_min": round(min(ratios), 2),
        "speedup_max": round(max(ratios), 2),
        "before_s": round(med("s", 0), 2),
        "after_s": round(med("s", 1), 2),
        "before_faults": int(med("faults", 0)),
        "after_faults": int(med("faults", 1)),
        "before_sys_s": round(med("sys_s", 0), 2),
        "after_sys_s": round(med("sys_s", 1), 2),
    }


def _old_load(path: Path):  # noqa: ANN202
    """What loading cost until now: two random initialisations and a copy."""
    import torch

    from latentmorph.codecs import m2l_weights

    arch = {k: tuple(v.shape) for k, v in m2l_weights.build_unet().state_dict().items()}
    state = torch.load(path, map_location="cpu", weights_only=True)["gen_state_dict"]
    assert set(arch) == set(state)
    model = m2l_weights.build_unet()
    model.load_state_dict(state, strict=True)
    return model.eval()


def bench_load(ckpt: Path, repeats: int) -> dict:
    from latentmorph.codecs import m2l_weights

    def new_load():  # noqa: ANN202
        m2l_weights._MODELS.clear()
        m2l_weights._ARCH.clear()
        return m2l_weights.load_unet(ckpt)

    pairs = []
    for _ in range(repeats):
        _, a = _timed(lambda: _old_load(ckpt))
        _, b = _timed(new_load)
        pairs.append((a, b))
    return _summary(pairs)


def bench_codec(ckpt: Path, enc_s: float, dec_s: float, repeats: int) -> dict:
    """before / prev / after, interleaved; the latent cache off (every call runs the network)."""
    import shutil

    from latentmorph.codecs import m2l_fast, m2l_precision
    from latentmorph.codecs.music2latent import Music2LatentCodec

    # "before" and "prev" keep NCHW weights: a copy of the file gives them a model of their own
    nchw = ckpt.with_name("music2latent-nchw.pt")
    shutil.copyfile(ckpt, nchw)
    variants = {
        "before": Music2LatentCodec(weights=str(nchw), precision="fp32", channels_last=False, latent_cache=False),
        "prev": Music2LatentCodec(weights=str(nchw), channels_last=False, latent_cache=False),
        "after": Music2LatentCodec(weights=str(ckpt), latent_cache=False),  # the defaults, cache aside
    }
    after = variants["after"]
    t = time.perf_counter()
    choice = {op: m2l_fast.auto_bf16(after.runner.model, op, 10**6) for op in ("encode", "decode")}
    probe_s = time.perf_counter() - t
    prev_choice = {op: m2l_fast.auto_bf16(variants["prev"].runner.model, op, 10**6, channels_last=False) for op in ("encode", "decode")}
    x = common.real_audio(enc_s, SR, common.source_files(), seed=1)[None]

    def run(name, fn):  # noqa: ANN001, ANN202
        def call():  # noqa: ANN202
            if name == "before":
                os.environ["LATENTMORPH_M2L_MALLOC"] = "system"
            try:
                return fn()
            finally:
                os.environ.pop("LATENTMORPH_M2L_MALLOC", None)

        return call

    warm = x[:, : 20 * 4096]  # oneDNN primitives for every variant
    for c in variants.values():
        c.decode(c.encode(warm)[:, :, :16])
    times: dict = {op: {k: [] for k in variants} for op in ("encode", "decode")}
    outs: dict = {}
    lat = None
    for r in range(repeats):
        line = []
        for name, c in variants.items():
            z, m = _timed(run(name, lambda c=c: c.encode(x)))
            times["encode"][name].append(m)
            outs[("encode", name)] = z
            lat = z if lat is None else lat  # decode input: the fp32 latents of the first pair
        lat_d = lat[:, :, : max(1, int(round(dec_s * SR / 4096)))]
        for name, c in variants.items():
            y, m = _timed(run(name, lambda c=c: c.decode(lat_d)))
            times["decode"][name].append(m)
            outs[("decode", name)] = y
        for op in ("encode", "decode"):
            line.append(op + " " + " / ".join(f"{k} {times[op][k][-1]['s']:.1f}" for k in variants) + " s")
        print(f"  [{r + 1}/{repeats}] load {_load_avg()}  " + "; ".join(line), flush=True)
    res: dict = {}
    for op, secs in (("encode", enc_s), ("decode", dec_s)):
        d = _summary(list(zip(times[op]["before"], times[op]["after"])))
        d_prev = _summary(list(zip(times[op]["prev"], times[op]["after"])))
        d["seconds"] = secs
        d["prev_s"] = d_prev["before_s"]
        d["prev_speedup_median"] = d_prev["speedup_median"]
        d["prev_speedup_range"] = [d_prev["speedup_min"], d_prev["speedup_max"]]
        d["before_x_realtime"] = round(secs / d["before_s"], 3)
        d["prev_x_realtime"] = round(secs / d["prev_s"], 3)
        d["after_x_realtime"] = round(secs / d["after_s"], 3)
        d["after_snr_db"] = _snr(outs[(op, "before")], outs[(op, "after")])
        d["prev_snr_db"] = _snr(outs[(op, "before")], outs[(op, "prev")])
        res[op] = d
    entry = m2l_precision.cached_choice() or {}
    res.update({"auto_bf16": choice, "prev_auto_bf16": prev_choice, "probe_s_this_run": round(probe_s, 2),
                "probe": entry.get("stats"), "native_bf16": m2l_fast.native_bf16()})
    return res


def bench_transfer(ckpt: Path, source_s: float, corpus_s: float, renders: tuple[str, ...] = ("grains", "decode"),
                   cache_renders: tuple[str, ...] = ("grains", "decode")) -> dict:
    """Reference workflow vs ours (first run, repeat; repeat with the latent cache), both renderers."""
    import reference
    import transfer_adapter as ta

    from latentmorph.codecs import get_codec, m2l_cache

    if not ta.available():
        return {"skipped": ta.why_not()}
    work = Path(tempfile.mkdtemp(prefix="lm-bench-m2l-"))
    m2l_cache.folder = lambda: work / "latents"  # this run's own latent cache, empty at the start
    codec = get_codec("music2latent", weights=str(ckpt), latent_cache=False)
    corpus = common.write_corpus(work / "corpus", corpus_s / 60.0, SR, piece_s=min(60.0, corpus_s))
    source = common.real_audio(source_s, SR, common.source_files(), seed=1)[None]
    out: dict = {"source_s": source_s, "corpus_s": corpus_s, "load": _load_avg()}
    t = time.perf_counter()
    _, _, ref_info = reference.reference_transfer(source, SR, corpus, codec)  # no cache: a run of the reference program
    out["reference_s"] = time.perf_counter() - t
    out["reference_stages_s"] = {k: round(v, 2) for k, v in ref_info["times"].items()}
    print(f"  reference {out['reference_s']:.1f} s {out['reference_stages_s']} (load {_load_avg()})", flush=True)
    t = time.perf_counter()
    index = ta.build_index(corpus, work / "c.lmindex", codec)
    out["index_build_s"] = time.perf_counter() - t
    c = index.codec()
    for render in renders:
        for cached in (False, True) if render in cache_renders else (False,):
            c.latent_cache = cached
            if cached:  # one run stores the source's latents; the timed one reads them
                ta.run_transfer(source, SR, index, render=render)
            t = time.perf_counter()
            _, _, report = ta.run_transfer(source, SR, index, render=render)
            rep = time.perf_counter() - t
            tag = f"{render}{'_cached' if cached else ''}"
            out[f"{tag}_repeat_s"] = rep
            out[f"{tag}_stages_s"] = {k: round(v, 2) for k, v in (getattr(report, "extra", {}) or {}).get("timings", {}).items()}
            out[f"{tag}_encode_from"] = c.last_encode
            out[f"{tag}_repeat_x_realtime"] = source_s / rep
            out[f"{tag}_repeat_speedup_vs_reference"] = out["reference_s"] / rep
            if not cached:
                out[f"{render}_first_s"] = rep + out["index_build_s"]
                out[f"{render}_first_speedup_vs_reference"] = out["reference_s"] / out[f"{render}_first_s"]
            print(f"  transfer {tag}: repeat {rep:.1f} s ({source_s / rep:.2f}x real time, "
                  f"{out['reference_s'] / rep:.1f}x faster than the reference; encode from {c.last_encode}) "
                  f"stages {out[f'{tag}_stages_s']} (load {_load_avg()})", flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--encode-seconds", type=float, default=30.0)
    ap.add_argument("--decode-seconds", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--transfer", action="store_true", help="also the reference-workflow comparison (long)")
    ap.add_argument("--source-seconds", type=float, default=30.0)
    ap.add_argument("--corpus-seconds", type=float, default=92.0)
    ap.add_argument("--renders", default="grains,decode", help="transfer renderers to time (comma-separated)")
    ap.add_argument("--cache-renders", default="grains,decode",
                    help="renderers also timed with the source-latent cache (the cache saves the same encode for both)")
    args = ap.parse_args()
    import torch

    from latentmorph.codecs import m2l_weights

    warnings.simplefilter("ignore")
    res: dict = {"machine": common.machine(), "threads": torch.get_num_threads(), "load_start": _load_avg()}
    with tempfile.TemporaryDirectory(prefix="lm_bench_m2l_") as tmp:
        ckpt = m2l_weights.save_random_checkpoint(Path(tmp) / "music2latent.pt", seed=0)
        print(f"model load, {args.repeats} pairs (load {_load_avg()})", flush=True)
        res["load"] = bench_load(ckpt, args.repeats)
        print(f"  {res['load']}", flush=True)
        print(f"encode {args.encode_seconds:g} s / decode {args.decode_seconds:g} s, {args.repeats} pairs", flush=True)
        res["codec"] = bench_codec(ckpt, args.encode_seconds, args.decode_seconds, args.repeats)
        if args.transfer:
            split = lambda v: tuple(r for r in v.split(",") if r)  # noqa: E731
            res["transfer"] = bench_transfer(ckpt, args.source_seconds, args.corpus_seconds, split(args.renders),
                                             split(args.cache_renders))
    res["load_end"] = _load_avg()
    c = res["codec"]
    rows = [[what, c[what]["seconds"], c[what]["before_x_realtime"], c[what]["prev_x_realtime"], c[what]["after_x_realtime"],
             f"{c[what]['speedup_median']} ({c[what]['speedup_min']}-{c[what]['speedup_max']})",
             f"{c[what]['prev_speedup_median']} ({c[what]['prev_speedup_range'][0]}-{c[what]['prev_speedup_range'][1]})",
             c[what]["before_faults"], c[what]["after_faults"], c[what]["prev_snr_db"], c[what]["after_snr_db"]]
            for what in ("encode", "decode")]
    lo = res["load"]
    rows.append(["model load", "-", "-", "-", "-", f"{lo['speedup_median']} ({lo['speedup_min']}-{lo['speedup_max']})", "-",
                 lo["before_faults"], lo["after_faults"], "-", "-"])
    print(f"\nMusic2Latent before/prev/after (load {res['load_start']} -> {res['load_end']}; auto bf16 after: "
          f"{c['auto_bf16']}, prev: {c['prev_auto_bf16']})")
    print(common.table(["what", "audio s", "before xRT", "prev xRT", "after xRT", "before/after median (range)",
                        "prev/after median (range)", "faults before", "faults after", "prev SNR dB", "after SNR dB"], rows))
    print("wrote", common.write_json(f"m2l-{time.strftime('%Y%m%d-%H%M%S')}", res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
