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
- ``encode`` / ``decode``: *before* = fp32 with glibc's default allocator behaviour
  (``LATENTMORPH_M2L_MALLOC=system``); *after* = the defaults now (``precision=auto``,
  freed memory reused). Minor page faults and kernel CPU seconds per call come from
  ``getrusage``. Output tolerance: SNR of *after* against *before* (fp32 eager).
- ``--transfer``: the same-codec comparison with the reference workflow (bench/reference.py)
  for a source of ``--source-seconds`` over a corpus of ``--corpus-seconds``: reference
  (re-encode corpus + source, nearest, decode), ours first run (index build + transfer)
  and ours repeat (index already built), with the ``grains`` and ``decode`` renderers.

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
    from latentmorph.codecs import m2l_fast, m2l_precision
    from latentmorph.codecs.music2latent import Music2LatentCodec

    before = Music2LatentCodec(weights=str(ckpt), precision="fp32")
    after = Music2LatentCodec(weights=str(ckpt))  # the defaults
    t = time.perf_counter()
    choice = m2l_fast.auto_bf16(after.runner.model, "encode", 10**6), m2l_fast.auto_bf16(after.runner.model, "decode", 10**6)
    probe_s = time.perf_counter() - t
    x = common.real_audio(enc_s, SR, common.source_files(), seed=1)[None]

    def as_before(fn):  # noqa: ANN001, ANN202
        def call():  # noqa: ANN202
            os.environ["LATENTMORPH_M2L_MALLOC"] = "system"
            try:
                return fn()
            finally:
                os.environ.pop("LATENTMORPH_M2L_MALLOC", None)

        return call

    # warm-up: oneDNN primitives for both precisions
    warm = x[:, : 20 * 4096]
    for c in (before, after):
        c.decode(c.encode(warm)[:, :, :16])
    enc_pairs, dec_pairs, z_ref, outs = [], [], None, {}
    for r in range(repeats):
        za, a = _timed(as_before(lambda: before.encode(x)))
        zb, b = _timed(lambda: after.encode(x))
        enc_pairs.append((a, b))
        z_ref = za if z_ref is None else z_ref
        lat = z_ref[:, :, : max(1, int(round(dec_s * SR / 4096)))]
        ya, a2 = _timed(as_before(lambda: before.decode(lat)))
        yb, b2 = _timed(lambda: after.decode(lat))
        dec_pairs.append((a2, b2))
        outs = {"za": za, "zb": zb, "ya": ya, "yb": yb}
        print(f"  [{r + 1}/{repeats}] load {_load_avg()}  encode before {a['s']:.1f} s after {b['s']:.1f} s;"
              f" decode before {a2['s']:.1f} s after {b2['s']:.1f} s", flush=True)
    enc, dec = _summary(enc_pairs), _summary(dec_pairs)
    for d, secs in ((enc, enc_s), (dec, dec_s)):
        d["seconds"] = secs
        d["before_x_realtime"] = round(secs / d["before_s"], 3)
        d["after_x_realtime"] = round(secs / d["after_s"], 3)
    enc["after_snr_db"] = _snr(outs["za"], outs["zb"])
    dec["after_snr_db"] = _snr(outs["ya"], outs["yb"])
    entry = m2l_precision.cached_choice() or {}
    return {"encode": enc, "decode": dec, "auto_bf16": {"encode": choice[0], "decode": choice[1]},
            "probe_s_this_run": round(probe_s, 2), "probe": entry.get("stats"), "native_bf16": m2l_fast.native_bf16()}


def bench_transfer(ckpt: Path, source_s: float, corpus_s: float) -> dict:
    import reference
    import transfer_adapter as ta

    from latentmorph.codecs import get_codec

    if not ta.available():
        return {"skipped": ta.why_not()}
    work = Path(tempfile.mkdtemp(prefix="lm-bench-m2l-"))
    codec = get_codec("music2latent", weights=str(ckpt))
    corpus = common.write_corpus(work / "corpus", corpus_s / 60.0, SR, piece_s=min(60.0, corpus_s))
    source = common.real_audio(source_s, SR, common.source_files(), seed=1)[None]
    out: dict = {"source_s": source_s, "corpus_s": corpus_s, "load": _load_avg()}
    t = time.perf_counter()
    reference.reference_transfer(source, SR, corpus, codec)
    out["reference_s"] = time.perf_counter() - t
    t = time.perf_counter()
    index = ta.build_index(corpus, work / "c.lmindex", codec)
    out["index_build_s"] = time.perf_counter() - t
    for render in ("grains", "decode"):
        t = time.perf_counter()
        ta.run_transfer(source, SR, index, render=render)
        rep = time.perf_counter() - t
        out[f"{render}_repeat_s"] = rep
        out[f"{render}_first_s"] = rep + out["index_build_s"]
        out[f"{render}_repeat_x_realtime"] = source_s / rep
        out[f"{render}_repeat_speedup_vs_reference"] = out["reference_s"] / rep
        out[f"{render}_first_speedup_vs_reference"] = out["reference_s"] / out[f"{render}_first_s"]
        print(f"  transfer {render}: repeat {rep:.1f} s ({source_s / rep:.2f}x real time), first run "
              f"{out[f'{render}_first_s']:.1f} s; reference {out['reference_s']:.1f} s", flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--encode-seconds", type=float, default=30.0)
    ap.add_argument("--decode-seconds", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--transfer", action="store_true", help="also the reference-workflow comparison (long)")
    ap.add_argument("--source-seconds", type=float, default=30.0)
    ap.add_argument("--corpus-seconds", type=float, default=92.0)
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
            res["transfer"] = bench_transfer(ckpt, args.source_seconds, args.corpus_seconds)
    res["load_end"] = _load_avg()
    c = res["codec"]
    rows = [[what, c[what]["seconds"], c[what]["before_x_realtime"], c[what]["after_x_realtime"],
             f"{c[what]['speedup_median']} ({c[what]['speedup_min']}-{c[what]['speedup_max']})",
             c[what]["before_faults"], c[what]["after_faults"], c[what]["before_sys_s"], c[what]["after_sys_s"],
             c[what]["after_snr_db"]] for what in ("encode", "decode")]
    lo = res["load"]
    rows.append(["model load", "-", "-", "-", f"{lo['speedup_median']} ({lo['speedup_min']}-{lo['speedup_max']})",
                 lo["before_faults"], lo["after_faults"], lo["before_sys_s"], lo["after_sys_s"], "-"])
    print(f"\nMusic2Latent before/after (load {res['load_start']} -> {res['load_end']}; auto bf16: {c['auto_bf16']})")
    print(common.table(["what", "audio s", "before xRT", "after xRT", "speed-up median (range)", "faults before",
                        "faults after", "sys s before", "sys s after", "SNR dB vs fp32"], rows))
    print("wrote", common.write_json(f"m2l-{time.strftime('%Y%m%d-%H%M%S')}", res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
