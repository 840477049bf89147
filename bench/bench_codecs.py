"""Codec benchmark: embedded-codec reconstruction quality, and encode/decode speed of both codecs.

    python bench/bench_codecs.py            # full: every clip, 10 s Music2Latent clip, compile variants
    python bench/bench_codecs.py --quick    # 10 s per clip, 3 s Music2Latent clip, no compile

(a) Embedded codec on every file in ../shared/audio (tests/data when that is absent):
    log-spectral distance (dB), loudness-envelope correlation (goal >= 0.95), and encode /
    decode speed as multiples of real time (audio seconds / wall seconds).
(b) Music2Latent with a seeded random checkpoint of the real UNet (the compute is the same
    as with the real weights): the package's own inference functions (fp32 eager, the
    baseline) against latentmorph's runner variants. Speeds are reported as ratios to the
    baseline measured in the same run (variants are timed round-robin and the best of
    ``--repeats`` is kept, because the machine is shared), plus each variant's output
    tolerance against fp32 eager: relative L2 error and SNR of latents and decoded audio.
    torch.compile's first call (compile, or loading kernels from the on-disk cache) is
    reported separately from the steady state.

Writes bench/results/codecs-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (bench/common.py: shared paths and helpers)
sys.path.insert(0, str(ROOT / "src"))

import torch  # noqa: E402

from latentmorph.atomic import atomic_write_bytes  # noqa: E402
from latentmorph.audio import load, rms_envelope, to_db  # noqa: E402
from latentmorph.codecs import get_codec  # noqa: E402

SHARED = common.SHARED
SR = 44100


# ---- metrics -------------------------------------------------------------------------------
def log_spectral_distance(ref: np.ndarray, test: np.ndarray, n_fft: int = 2048, hop: int = 512) -> float:
    """Mean over frames of the RMS (over bins) difference of log power spectra, in dB."""
    n = min(ref.shape[-1], test.shape[-1])
    win = np.hanning(n_fft).astype(np.float32)

    def logspec(x: np.ndarray) -> np.ndarray:
        x = np.pad(x[:n], (n_fft // 2, n_fft // 2))
        frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop] * win
        power = np.abs(np.fft.rfft(frames, axis=-1)) ** 2
        return 10 * np.log10(power + 1e-10)

    a, b = logspec(ref), logspec(test)
    keep = a.max(axis=1) > a.max() - 60  # ignore frames more than 60 dB below the loudest
    return float(np.sqrt(((a - b) ** 2).mean(axis=1))[keep].mean())


def loudness_correlation(ref: np.ndarray, test: np.ndarray, frame: int = 2048, hop: int = 1024) -> float:
    """Pearson correlation of the two dB RMS envelopes (floored 60 dB below the reference peak)."""
    n = min(ref.shape[-1], test.shape[-1])
    a = to_db(rms_envelope(ref[:n], frame, hop))
    b = to_db(rms_envelope(test[:n], frame, hop))
    floor = a.max() - 60
    a, b = np.maximum(a, floor), np.maximum(b, floor)
    return float(np.corrcoef(a, b)[0, 1])


def rel_l2(ref: np.ndarray, test: np.ndarray) -> float:
    ref, test = np.asarray(ref, np.float64), np.asarray(test, np.float64)
    return float(np.linalg.norm(test - ref) / max(np.linalg.norm(ref), 1e-12))


def snr_db(ref: np.ndarray, test: np.ndarray) -> float | None:
    """SNR of ``test`` against ``ref`` in dB; ``None`` when they are bit-identical."""
    e = rel_l2(ref, test)
    return None if e == 0 else round(float(-20 * np.log10(e)), 1)


# ---- (a) embedded codec --------------------------------------------------------------------
def bench_embedded(files: list[Path], max_seconds: float | None) -> list[dict]:
    codec = get_codec("embedded")
    rows = []
    for f in files:
        wave, _ = load(f, sr=SR, mono=True, duration=max_seconds, warn_silence=False)
        x = wave[0]
        dur = x.shape[-1] / SR
        t0 = time.perf_counter()
        z = codec.encode(wave)
        t1 = time.perf_counter()
        y = codec.decode(z)[0]
        t2 = time.perf_counter()
        row = {
            "file": f.name,
            "seconds": round(dur, 2),
            "lsd_db": round(log_spectral_distance(x, y), 2),
            "loudness_corr": round(loudness_correlation(x, y), 4),
            "encode_x_realtime": round(dur / (t1 - t0), 1),
            "decode_x_realtime": round(dur / (t2 - t1), 1),
        }
        rows.append(row)
        print(
            f"  {row['file']:<34} {dur:6.1f} s  LSD {row['lsd_db']:5.2f} dB  loud-corr {row['loudness_corr']:.3f}"
            f"{'' if row['loudness_corr'] >= 0.95 else ' (<0.95)'}  enc {row['encode_x_realtime']:6.1f}x  dec {row['decode_x_realtime']:5.1f}x",
            flush=True,
        )
    return rows


# ---- (b) Music2Latent ----------------------------------------------------------------------
class _Trainer:
    """What the package's inference functions expect: an object with ``.gen``."""

    def __init__(self, model):  # noqa: ANN001
        self.gen = model


def bench_m2l(clip: np.ndarray, variants: list[str], repeats: int, threads: int, seed: int = 0) -> dict:
    from latentmorph.codecs import m2l_weights

    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory(prefix="lm_bench_m2l_") as tmp:
        ckpt = m2l_weights.save_random_checkpoint(Path(tmp) / "music2latent.pt", seed=seed)
        return _bench_m2l_with(ckpt, clip, variants, repeats, threads, seed)


def _bench_m2l_with(ckpt: Path, clip: np.ndarray, variants: list[str], repeats: int, threads: int, seed: int) -> dict:
    from music2latent.inference import decode_latent_inference, encode_audio_inference

    from latentmorph.codecs import m2l_fast, m2l_weights
    from latentmorph.codecs.music2latent import Music2LatentCodec

    dur = clip.shape[-1] / SR
    # align="package" so that the baseline and every variant see exactly the same frames
    codecs = {}
    for v in variants:
        if v == "package":
            continue
        precision = "bf16" if "bf16" in v else "fp32"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "no native bf16" is reported in the table instead
            codecs[v] = Music2LatentCodec(weights=str(ckpt), align="package", precision=precision, compile="compile" in v, seed=seed)
    model = next(iter(codecs.values())).runner.model if codecs else m2l_weights.load_unet(ckpt)
    trainer = _Trainer(model)

    def run(v: str, what: str, inp: np.ndarray) -> np.ndarray:
        if v == "package":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the package asks for CUDA autocast on a CPU
                if what == "encode":
                    return encode_audio_inference(torch.from_numpy(inp), trainer, 44100 * 60, 1, device="cpu").numpy()
                torch.manual_seed(seed)  # same noise as our seeded generator
                return decode_latent_inference(inp, trainer, 44100 * 60, 1, device="cpu").numpy()
        c = codecs[v]
        return c.encode(inp) if what == "encode" else c.decode(inp)

    # warm-up: eager variants on a short piece (oneDNN primitive creation); compiled variants on
    # the clip itself, since their graphs are specialised to input shapes (this call compiles,
    # or loads the kernels from the on-disk cache when an earlier run compiled them)
    first_call: dict[str, float] = {}
    warm = clip[:, : 4096 * 3 + 1536]
    for v in variants:
        piece = clip if "compile" in v else warm
        t0 = time.perf_counter()
        run(v, "decode", run(v, "encode", piece))
        first_call[v] = time.perf_counter() - t0
        if "compile" in v:
            print(f"  {v}: first encode+decode (compile or cache load) {first_call[v]:.1f} s", flush=True)

    best = {v: {"encode": float("inf"), "decode": float("inf")} for v in variants}
    outputs: dict[str, dict[str, np.ndarray]] = {v: {} for v in variants}
    ref_latents = None
    for r in range(repeats):
        for v in variants:
            t0 = time.perf_counter()
            z = run(v, "encode", clip)
            t1 = time.perf_counter()
            # every variant decodes the baseline's latents, so decode tolerance is decode-only
            ref_latents = z if (v == variants[0] and ref_latents is None) else ref_latents
            y = run(v, "decode", ref_latents)
            t2 = time.perf_counter()
            best[v]["encode"] = min(best[v]["encode"], t1 - t0)
            best[v]["decode"] = min(best[v]["decode"], t2 - t1)
            outputs[v] = {"latents": z, "audio": y}
            print(f"  [{r + 1}/{repeats}] {v:<22} encode {t1 - t0:6.1f} s  decode {t2 - t1:6.1f} s", flush=True)

    base = variants[0]
    rows = []
    for v in variants:
        enc_x, dec_x = dur / best[v]["encode"], dur / best[v]["decode"]
        rows.append(
            {
                "variant": v,
                "encode_s": round(best[v]["encode"], 2),
                "decode_s": round(best[v]["decode"], 2),
                "encode_x_realtime": round(enc_x, 3),
                "decode_x_realtime": round(dec_x, 3),
                "encode_speedup_vs_package": round(best[base]["encode"] / best[v]["encode"], 2),
                "decode_speedup_vs_package": round(best[base]["decode"] / best[v]["decode"], 2),
                "first_call_s": round(first_call[v], 1),
                "latents_rel_l2": rel_l2(outputs[base]["latents"], outputs[v]["latents"]),
                "latents_snr_db": snr_db(outputs[base]["latents"], outputs[v]["latents"]),
                "audio_rel_l2": rel_l2(outputs[base]["audio"], outputs[v]["audio"]),
                "audio_snr_db": snr_db(outputs[base]["audio"], outputs[v]["audio"]),
            }
        )
    # bf16 tolerance depends on the input length (one length was far off on the dev machine):
    # encode-only sweep over short lengths
    bf16_sweep = {}
    if "bf16" in codecs and "fp32" in codecs:
        for frames in (3, 4, 5, 6, 8, 10):
            piece = clip[:, : frames * 4096 + 1536]
            if piece.shape[-1] < frames * 4096 + 1536:
                break
            bf16_sweep[frames] = snr_db(codecs["fp32"].encode(piece), codecs["bf16"].encode(piece))
        print("  bf16 latents SNR (dB) by input length in frames: " + ", ".join(f"{k}: {v}" for k, v in bf16_sweep.items()), flush=True)
    return {
        "bf16_latents_snr_db_by_frames": bf16_sweep,
        "clip_seconds": round(dur, 2),
        "threads": threads,
        "native_bf16": m2l_fast.native_bf16(),
        "auto_precision": m2l_fast.resolve_precision("auto"),
        "repeats": repeats,
        "rows": rows,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="10 s per embedded clip, 3 s Music2Latent clip, no compile variants")
    ap.add_argument("--m2l-seconds", type=float, default=None, help="Music2Latent clip length (default 10, quick 3)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's, usually the core count)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--compile", dest="compile", action="store_true", default=None, help="include torch.compile variants (default: on unless --quick)")
    ap.add_argument("--no-compile", dest="compile", action="store_false")
    ap.add_argument("--skip-embedded", action="store_true")
    ap.add_argument("--skip-m2l", action="store_true")
    args = ap.parse_args()
    compile_too = (not args.quick) if args.compile is None else args.compile
    threads = args.threads or torch.get_num_threads()
    out: dict = {
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "torch": torch.__version__, "threads": threads},
        "quick": args.quick,
    }

    folder = SHARED if SHARED.is_dir() else ROOT / "tests" / "data"
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".wav", ".flac"))
    if not args.skip_embedded:
        print(f"(a) embedded codec reconstruction, {len(files)} files from {folder}", flush=True)
        out["embedded"] = bench_embedded(files, 10.0 if args.quick else None)
        corr = [r["loudness_corr"] for r in out["embedded"]]
        lsd = [r["lsd_db"] for r in out["embedded"]]
        print(f"  mean LSD {np.mean(lsd):.2f} dB, loudness corr min {min(corr):.3f} mean {np.mean(corr):.3f} (goal >= 0.95)")

    if not args.skip_m2l:
        try:
            import music2latent  # noqa: F401
        except ImportError:
            print("(b) skipped: music2latent not installed (pip install 'latentmorph[music2latent]')")
        else:
            seconds = args.m2l_seconds or (3.0 if args.quick else 10.0)
            src = next((p for p in files if "guitar_sectoid" in p.name), files[0])
            clip, _ = load(src, sr=SR, mono=True, duration=seconds)
            from latentmorph.codecs.m2l_fast import native_bf16

            variants = ["package", "fp32", "bf16"]
            if compile_too:
                # compiling an emulated-bf16 graph costs many minutes for a variant that is slower anyway
                variants += ["compile-fp32", "compile-bf16"] if native_bf16() else ["compile-fp32"]
            print(f"(b) Music2Latent, random weights, {clip.shape[-1] / SR:.1f} s of {src.name}, {threads} threads, variants {variants}", flush=True)
            m2l = bench_m2l(clip, variants, args.repeats, threads)
            out["music2latent"] = m2l
            print(f"  native bf16 on this CPU: {m2l['native_bf16']} -> precision='auto' uses {m2l['auto_precision']}")
            print(f"  {'variant':<14} {'enc xRT':>8} {'dec xRT':>8} {'enc vs pkg':>10} {'dec vs pkg':>10} {'1st call s':>10} {'lat SNR dB':>10} {'audio SNR dB':>12}")
            for r in m2l["rows"]:
                lat = "exact" if r["latents_snr_db"] is None else f"{r['latents_snr_db']:.1f}"
                aud = "exact" if r["audio_snr_db"] is None else f"{r['audio_snr_db']:.1f}"
                print(
                    f"  {r['variant']:<14} {r['encode_x_realtime']:8.3f} {r['decode_x_realtime']:8.3f} {r['encode_speedup_vs_package']:10.2f}"
                    f" {r['decode_speedup_vs_package']:10.2f} {r['first_call_s']:10.1f} {lat:>10} {aud:>12}"
                )
            print("  (xRT = audio seconds per wall second; 'vs pkg' = speed ratio to the package's own inference in this run;"
                  " SNR of each variant's latents / decoded audio against the package's fp32 output)")

    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"codecs-{time.strftime('%Y%m%d-%H%M%S')}.json"
    atomic_write_bytes(path, json.dumps(out, indent=2).encode())
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
