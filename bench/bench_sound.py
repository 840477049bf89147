"""Sound benchmark: the transfer defaults on the dev pairs, against the sound goals of issue 10.

    .venv/bin/python bench/bench_sound.py --audio /work/shared/audio   # every suggested pair, 10 s each
    .venv/bin/python bench/bench_sound.py --seconds 0     # whole sources
    .venv/bin/python bench/bench_sound.py --set normalize=corpus   # try other settings
    .venv/bin/python bench/bench_sound.py --cross --no-sweep   # held-out check: sources with other corpora

Uses the suggested source -> corpus pairs of ../shared/audio/README.md (tests/data excerpts
when that folder is absent). The first four pairs are the ones the sound work was tuned
on (``tune``); the rest are held out (``held``) and checked only after a change: the
averages are printed for both groups.

Per pair, with ``latentmorph.transfer`` defaults (embedded codec, corpus indexed once):

- ``FD ratio``: Fréchet distance of the output's MFCC statistics to the corpus over the
  source's (0 = corpus timbre, 1 = unchanged; ``latentmorph.evaluate`` ``style.fd_ratio``);
- ``loud r``: loudness-envelope correlation with the source;
- ``onset``: chance-corrected onset agreement with the source;
- ``dLUFS``: integrated loudness of the output minus the source's (BS.1770);
- ``clk/s grains`` and ``clk/s decode``: clicks per second that the source does not
  explain, with ``--render grains`` (default) and ``--render decode``;
- the ``--strength`` sweep 0, 0.25, 0.5, 0.75, 1: FD ratio at each; the *timbre position*
  of each output between the strength-0 and strength-1 outputs
  (``evaluate.style.timbre_position``: the share ``W(out, start) / (W(out, start) +
  W(out, end))`` of 2-Wasserstein distances between MFCC-1..19 Gaussians), whose largest
  deviation from ``s`` says how steady the progression is (``sweep dev``; goal <= 0.10 and
  monotone); the old FD-ratio share ``(fd(0) - fd(s)) / (fd(0) - fd(1))`` is kept as
  ``sweep_progress`` (a squared distance: even equal steps read as front-loaded); and the
  largest loudness difference over the sweep.

Goals (issue 10): FD ratio <= 0.10 on average with loudness r >= 0.95; onset agreement
>= 0.6; strength monotone, steady (timbre position within 0.10 of s) and level-matched; LUFS within ~1 dB; decode clicks near the
grains'. Writes bench/results/sound.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
import transfer_adapter as ta  # noqa: E402
from transfer_check import _coerce  # noqa: E402  (KEY=VALUE parsing shared with that bench)

from latentmorph.audio import load, resample  # noqa: E402
from latentmorph.codecs import get_codec  # noqa: E402
from latentmorph.evaluate import evaluate  # noqa: E402
from latentmorph.evaluate.artefacts import artefact_report  # noqa: E402
from latentmorph.evaluate.features import mono  # noqa: E402
from latentmorph.evaluate.style import steadiness, style_measures, timbre_position  # noqa: E402
from latentmorph.transfer.render.loudness import integrated_lufs  # noqa: E402

#: Pairs (in README order) the sound defaults were tuned on; the rest are held out.
TUNED = 4
STRENGTHS = (0.0, 0.25, 0.5, 0.75, 1.0)
#: ``--cross``: each dev source with another corpus than its suggested one (not tuned on).
CROSS_PAIRS = [("drums_amen", "piano_salamander"), ("drums_tabla", "strings_tim"), ("piano_melody", "choir_drone"),
               ("guitar_sectoid", "water_onsen"), ("speech_codec2", "bells"), ("guitar_em9", "wind_ufoai"),
               ("speech_david", "water_ufoai")]
#: Largest deviation of the timbre position from the strength for a steady progression.
STEADY_DEV = 0.10
from latentmorph.evaluate.report import ANALYSIS_SR  # noqa: E402

GOALS = {
    "fd": "FD ratio avg <= 0.10",
    "loud": "loudness r >= 0.95",
    "onset": "onset agreement avg >= 0.6",
    "lufs": "|dLUFS| <= ~1 dB",
    "decode": "decode clicks/s near grains'",
    "strength": "strength: monotone, steady, level-matched",
}


def _fd(out: np.ndarray, sr: int, src_a: np.ndarray, corpus_a: list[np.ndarray], rate: int) -> float:
    o = resample(mono(out, np.float32), sr, rate).astype(np.float64)
    return float(style_measures(o, src_a, corpus_a, rate)[1]["value"])


def _clicks(out: np.ndarray, sr: int, src_m: np.ndarray) -> float:
    return float(artefact_report(mono(out, np.float32), sr, source=src_m)["extra_click_rate"])


def run_pair(name: str, src_path: Path, corp_path: Path, work: Path, seconds: float, settings: dict,
             sweep: bool = True) -> dict:
    src, sr = load(src_path, mono=True)
    if seconds > 0:
        src = src[:, : int(seconds * sr)]
    corpus, csr = load(corp_path, mono=True)
    index = ta.build_index([corp_path], work / f"{corp_path.stem}.lmindex", get_codec("embedded"))
    rate = min(ANALYSIS_SR, sr, csr)  # the band all signals share, as evaluate() does
    src_a = resample(src[0], sr, rate).astype(np.float64)
    corpus_a = [resample(corpus[0], csr, rate).astype(np.float64)]
    src_m = mono(src, np.float32)
    src_lufs = integrated_lufs(src, sr)

    t = time.perf_counter()
    out, out_sr, _ = ta.run_transfer(src, sr, index, **settings)
    elapsed = time.perf_counter() - t
    r = evaluate(out, out_sr, src, sr, [(corpus, csr)])
    row = {
        "fd": r["style"]["fd_ratio"]["value"],
        "style": r["style"]["ratio"]["value"],
        "loud": r["content"]["loudness"]["value"],
        "onset": r["content"]["onsets"]["value"],
        "dlufs": integrated_lufs(out, out_sr) - src_lufs,
        "clicks_grains": r["artefacts"]["extra_click_rate"],
        "time_s": elapsed,
        "seconds": src.shape[-1] / sr,
    }
    dec, dsr, _ = ta.run_transfer(src, sr, index, **{**settings, "render": "decode"})
    row["clicks_decode"] = _clicks(dec, dsr, src_m)
    row["dlufs_decode"] = integrated_lufs(dec, dsr) - src_lufs
    if sweep:
        fds, dl, ys = [], [], []
        for s in STRENGTHS:
            y, ysr, _ = ta.run_transfer(src, sr, index, **{**settings, "strength": s})
            fds.append(_fd(y, ysr, src_a, corpus_a, rate))
            dl.append(integrated_lufs(y, ysr) - src_lufs)
            ys.append(resample(mono(y, np.float32), ysr, rate).astype(np.float64))
        span = fds[0] - fds[-1]
        row["sweep_fd"] = fds
        row["sweep_progress"] = [(fds[0] - f) / span if abs(span) > 1e-9 else float("nan") for f in fds]
        row["sweep_position"] = [timbre_position(y, ys[0], ys[-1], rate) for y in ys]
        steady = steadiness(row["sweep_position"], STRENGTHS)
        row["sweep_monotone"] = steady["monotone"]
        row["sweep_fd_monotone"] = bool(np.all(np.diff(fds) <= 0.02))  # reported, not the goal: see docs/transfer.md
        row["sweep_max_dev"] = steady["max_deviation"]
        row["sweep_max_dlufs"] = float(np.max(np.abs(dl)))
    return row


def _mean(rows: list[dict], key: str) -> float:
    vals = [r[key] for r in rows if key in r and r[key] is not None and np.isfinite(r[key])]
    return float(np.mean(vals)) if vals else float("nan")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=10.0, help="cut sources to this length (0 = whole; default 10)")
    p.add_argument("--pairs", type=int, default=0, help="only the first N pairs (0 = all)")
    p.add_argument("--no-sweep", action="store_true", help="skip the --strength sweep")
    p.add_argument("--cross", action="store_true", help="the CROSS_PAIRS instead (sources with other corpora: a held-out check)")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="transfer() options instead of the defaults")
    p.add_argument("--audio", metavar="DIR", help="folder of dev recordings with its README.md of suggested pairs "
                   "(default $LATENTMORPH_SHARED_AUDIO or ../shared/audio; tests/data when absent)")
    p.add_argument("--name", default="sound", help="results file name (bench/results/NAME.json)")
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")
    if args.audio:
        common.SHARED = Path(args.audio)
    settings = {k: _coerce(v) for k, v in (kv.split("=", 1) for kv in args.set)}
    pairs = common.pairs()
    if args.cross:
        pairs = [(f"{s}->{c}", common.SHARED / f"dev_src_{s}.wav", common.SHARED / f"dev_corp_{c}.wav") for s, c in CROSS_PAIRS]
        pairs = [pr for pr in pairs if pr[1].exists() and pr[2].exists()]
    if args.pairs:
        pairs = pairs[: args.pairs]
    work = Path(tempfile.mkdtemp(prefix="lm-bench-sound-"))
    rows, table = [], []
    for i, (name, s, c) in enumerate(pairs):
        row = run_pair(name, s, c, work, args.seconds, settings, sweep=not args.no_sweep)
        row["pair"], row["group"] = name, "cross" if args.cross else "tune" if i < TUNED else "held"
        rows.append(row)
        table.append([name, row["group"], row["fd"], row["style"], row["loud"], row["onset"], row["dlufs"],
                      row["clicks_grains"], row["clicks_decode"],
                      " ".join(f"{v:.2f}" for v in row.get("sweep_fd", [])) or "-",
                      " ".join(f"{v:.2f}" for v in row.get("sweep_position", [])) or "-",
                      row.get("sweep_max_dev"), row.get("sweep_max_dlufs")])
        print(f"sound: {name} done ({row['time_s']:.1f} s transfer)", file=sys.stderr)

    groups = {"tune": [r for r in rows if r["group"] == "tune"], "held": [r for r in rows if r["group"] == "held"],
              "all": rows}
    keys = ["fd", "style", "loud", "onset", "dlufs", "clicks_grains", "clicks_decode", None, None, "sweep_max_dev",
            "sweep_max_dlufs"]
    for g, rs in groups.items():
        if rs:
            table.append([f"mean ({g})", str(len(rs))] + [_mean(rs, k) if k else "" for k in keys])
    headers = ["pair", "group", "FD ratio", "style", "loud r", "onset", "dLUFS", "clk/s grains", "clk/s decode",
               "strength 0..1: FD ratio", "position", "sweep dev", "sweep |dLUFS|"]
    print(f"\nSound (settings: {settings or 'defaults'}; sources cut to {args.seconds:g} s" if args.seconds > 0
          else f"\nSound (settings: {settings or 'defaults'}; whole sources")
    print(f"  + pairs 1-{TUNED} tuned on, others held out)")
    print(common.table(headers, table))
    a = groups["all"]
    abs_lufs = float(np.mean([abs(r["dlufs"]) for r in a]))
    checks = [
        (GOALS["fd"], f"{_mean(a, 'fd'):.3f}", _mean(a, "fd") <= 0.10),
        (GOALS["loud"], f"min {min(r['loud'] for r in a):.3f}", min(r["loud"] for r in a) >= 0.95),
        (GOALS["onset"], f"{_mean(a, 'onset'):.3f}", _mean(a, "onset") >= 0.6),
        (GOALS["lufs"], f"mean |d| {abs_lufs:.2f}, max {max(abs(r['dlufs']) for r in a):.2f}",
         max(abs(r["dlufs"]) for r in a) <= 1.0),
        (GOALS["decode"], f"{_mean(a, 'clicks_decode'):.2f} vs {_mean(a, 'clicks_grains'):.2f}",
         _mean(a, "clicks_decode") <= max(2 * _mean(a, "clicks_grains"), 0.2)),
    ]
    if not args.no_sweep:
        mono_ok = all(r["sweep_monotone"] for r in a)
        checks.append((GOALS["strength"], f"position monotone {sum(r['sweep_monotone'] for r in a)}/{len(a)} "
                       f"(FD ratio {sum(r['sweep_fd_monotone'] for r in a)}/{len(a)}), "
                       f"max dev {max(r['sweep_max_dev'] for r in a):.2f}, max |dLUFS| {max(r['sweep_max_dlufs'] for r in a):.2f}",
                       mono_ok and max(r["sweep_max_dev"] for r in a) <= STEADY_DEV and max(r["sweep_max_dlufs"] for r in a) <= 1.0))
    print("\nGoals (all pairs):")
    print(common.table(["goal", "measured", "met"], [[g, m, "PASS" if ok else "FAIL"] for g, m, ok in checks]))
    result = {"settings": settings, "seconds": args.seconds, "rows": rows, "machine": common.machine(),
              "goals": [{"goal": g, "measured": m, "met": bool(ok)} for g, m, ok in checks]}
    print("wrote", common.write_json(args.name, result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
