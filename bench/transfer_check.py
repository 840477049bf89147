"""Quick check of the transfer defaults against the reference workflow.

For every suggested source -> corpus pair in ../shared/audio (or $LATENTMORPH_AUDIO),
runs ``transfer()`` with the default settings, with the nearest-neighbour matcher and the
default renderer ("nearest"), and with the reference preset (nearest neighbour, decode,
20% dry), scores all with ``latentmorph.evaluate`` in the same run, and prints loudness correlation, style ratio (0 = corpus, 1 = source),
click ratio against the corpus, boundary click fraction and run time ratios.
Writes JSON to bench/results/transfer_check.json. Skips when the audio is absent.

    python bench/transfer_check.py [--seconds 10] [--pairs 7] [--set key=value ...]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (bench/common.py: shared paths and helpers)

#: ``$LATENTMORPH_AUDIO`` (older name) or ``common.SHARED`` (``$LATENTMORPH_SHARED_AUDIO`` / ../shared/audio).
AUDIO = Path(os.environ.get("LATENTMORPH_AUDIO") or common.SHARED)
PAIRS = [
    ("dev_src_speech_codec2", "dev_corp_water_onsen"),
    ("dev_src_guitar_sectoid", "dev_corp_bells"),
    ("dev_src_drums_amen", "dev_corp_wind_ufoai"),
    ("dev_src_piano_melody", "dev_corp_strings_tim"),
    ("dev_src_guitar_em9", "dev_corp_choir_drone"),
    ("dev_src_speech_david", "dev_corp_piano_salamander"),
    ("dev_src_drums_tabla", "dev_corp_water_ufoai"),
]


def _value(x):  # noqa: ANN001, ANN202
    return float(x["value"]) if isinstance(x, dict) else float(x)


def _coerce(v: str):  # noqa: ANN202
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return {"none": None, "true": True, "false": False}.get(v.lower(), v)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0, help="source excerpt length")
    ap.add_argument("--pairs", type=int, default=len(PAIRS))
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override default settings")
    ap.add_argument("--no-reference", action="store_true", help="skip the reference run")
    args = ap.parse_args()
    if not AUDIO.exists():
        print(f"skipped: {AUDIO} not found")
        return 0
    warnings.simplefilter("ignore")
    from latentmorph.audio import load
    from latentmorph.evaluate import evaluate
    from latentmorph.transfer import PRESETS, MemoryCorpus, transfer

    overrides = dict(kv.split("=", 1) for kv in args.set)
    overrides = {k: _coerce(v) for k, v in overrides.items()}
    configs = {"default": dict(overrides),
               "nearest": {**overrides, "mode": "nearest", "continuity": 0.0, "avoid_repeat": 0}}
    if not args.no_reference:
        configs["reference"] = dict(PRESETS["reference"])
    rows = []
    for src_name, corp_name in PAIRS[: args.pairs]:
        src, sr = load(AUDIO / f"{src_name}.wav", duration=args.seconds)
        cw, csr = load(AUDIO / f"{corp_name}.wav")
        corpus = MemoryCorpus.from_audio([(cw, csr)], names=[corp_name])
        row = {"pair": f"{src_name} -> {corp_name}"}
        for name, cfg in configs.items():
            t = time.perf_counter()
            out, osr, res = transfer(src, sr, index=corpus, return_report=True, **cfg)
            elapsed = time.perf_counter() - t
            ids = res.choices[0].ids[:, 0]
            succ_ok = np.r_[False, ids[1:] != ids[:-1] + 1]  # crude: a jump (new run) starts here
            bounds = np.flatnonzero(succ_ok) * res.hop * osr / res.codec_sr
            m = evaluate(out, osr, src, sr, [(cw, csr)], boundaries=bounds.astype(np.int64))
            a = m["artefacts"]
            row[name] = {
                "loudness_corr": _value(m["content"]["loudness"]),
                "style_ratio": _value(m["style"]["ratio"]),
                "click_ratio": float(a.get("click_ratio", float("nan"))),
                "flux_spike_ratio": float(a.get("flux_spike_ratio", float("nan"))),
                "boundary_click_fraction": float(a.get("boundary_click_fraction", float("nan"))),
                "jumps_per_s": float(succ_ok.sum() / (len(ids) / (res.codec_sr / res.hop))),
                "content_score": float(m["content"]["score"]),
                "seconds": elapsed,
            }
        rows.append(row)
        line = [row["pair"][:48].ljust(48)]
        for name in configs:
            r = row[name]
            line.append(f"{name[:3]}: loud {r['loudness_corr']:.2f} style {r['style_ratio']:.2f} clk {r['click_ratio']:.2f} "
                        f"flux {r['flux_spike_ratio']:.2f} bclk {r['boundary_click_fraction']:.2f} jumps/s {r['jumps_per_s']:.0f} "
                        f"{r['seconds']:.1f}s")
        print(" | ".join(line), flush=True)
    for name in configs:
        keys = ["loudness_corr", "style_ratio", "click_ratio", "flux_spike_ratio", "boundary_click_fraction", "jumps_per_s"]
        means = {k: float(np.nanmean([r[name][k] for r in rows])) for k in keys}
        print(f"mean {name}: " + ", ".join(f"{k} {v:.3f}" for k, v in means.items()))
    if "reference" in configs:
        ratio = np.mean([r["default"]["seconds"] / r["reference"]["seconds"] for r in rows])
        print(f"time default / reference: {ratio:.2f}x")
    ratio = np.mean([r["default"]["seconds"] / r["nearest"]["seconds"] for r in rows])
    print(f"time default / nearest: {ratio:.2f}x")
    out_dir = Path(__file__).parent / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "transfer_check.json").write_text(json.dumps({"overrides": overrides, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
