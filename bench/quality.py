"""Quality benchmark: every suggested pair, every mode, scored by latentmorph.evaluate.

Variants per pair (all at the source's sample rate):

- ``source``: output = source (trivial baseline: content ~1, style ratio ~1);
- ``excerpt``: a random corpus excerpt of the source's length (content ~0, style ratio ~0);
- ``reference``: bench/reference.py, the reference workflow re-implemented (embedded
  codec, per-frame nearest neighbour, decode, 20 % dry);
- ``preset``: ``latentmorph.transfer`` with its ``reference`` preset (nearest, decode,
  no loudness following, wet 0.8), which must score like ``reference``;
- ``nearest``: ``latentmorph.transfer`` with the defaults but the nearest-neighbour
  matching mode (independent per-frame picks: no continuity, no repeat avoidance), so the
  comparison with ``defaults`` isolates the matcher (same renderer, same loudness follow);
- ``defaults``: ``latentmorph.transfer`` with its defaults.

For ``defaults`` it prints the transfer issue's acceptance criteria per pair: loudness
correlation >= 0.9, style ratio < 0.5, click ratio (output clicks the source does not
explain / corpus clicks) <= 1, and whether the defaults beat ``nearest`` on continuity
(share of frames that continue through the corpus in order) and on clicks.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
import reference  # noqa: E402
import transfer_adapter as ta  # noqa: E402

from latentmorph.audio import load, resample  # noqa: E402
from latentmorph.codecs import get_codec  # noqa: E402
from latentmorph.evaluate import evaluate  # noqa: E402

HEADERS = ["pair", "variant", "loud r", "onset", "chroma", "pitch", "content", "style", "leak", "click x", "flux x", "contin.", "jump", "time s"]


#: The nearest-neighbour matching mode with every other default unchanged.
NEAREST_OPTIONS = {"mode": "nearest", "continuity": 0.0, "avoid_repeat": 0}


def _excerpt(corpus: np.ndarray, csr: int, seconds: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    n = int(seconds * csr)
    mono = corpus.mean(axis=0)
    if mono.size <= n:
        mono = np.tile(mono, n // mono.size + 1)
    start = int(rng.integers(0, mono.size - n + 1))
    return resample(mono[start : start + n][None], csr, sr)


def _row(name: str, variant: str, r: dict, cont: dict | None, seconds: float) -> list:
    c, st, a = r["content"], r["style"], r["artefacts"]
    cont = cont or {}
    return [
        name,
        variant,
        c["loudness"]["value"],
        c["onsets"]["value"],
        c["chroma"]["value"],
        c["pitch"]["value"],
        c["score"],
        st["ratio"]["value"],
        st["leakage"]["value"],
        a.get("click_ratio"),
        a.get("flux_spike_ratio"),
        cont.get("continue_fraction"),
        cont.get("mean_jump"),
        seconds,
    ]


def run(*, quick: bool = False, seed: int = 0) -> dict:
    """Run the quality table; returns the JSON-ready result (also printed)."""
    codec = get_codec("embedded")
    rng = np.random.default_rng(seed)
    results: dict = {"pairs": {}, "transfer_available": ta.available()}
    rows = []
    checks = []
    if not ta.available():
        print(f"quality: latentmorph.transfer not available ({ta.why_not()}); measuring baselines and the bench reference only")
    work = Path(tempfile.mkdtemp(prefix="lm-bench-quality-"))
    for name, src_path, corp_path in common.pairs()[: 3 if quick else None]:
        src, sr = load(src_path, mono=True)
        if quick:
            src = src[:, : int(6 * sr)]
        corpus, csr = load(corp_path, mono=True)
        seconds = src.shape[-1] / sr
        entry: dict = {"source": str(src_path), "corpus": str(corp_path), "variants": {}}

        def score(variant: str, out: np.ndarray, elapsed: float, cont: dict | None = None, boundaries=None) -> None:
            r = evaluate(out, sr, src, sr, [(corpus, csr)], boundaries=boundaries)
            r["continuity"] = cont
            r["time_s"] = elapsed
            entry["variants"][variant] = r
            rows.append(_row(name, variant, r, cont, elapsed))

        score("source", src, 0.0)
        score("excerpt", _excerpt(corpus, csr, seconds, sr, rng), 0.0)

        t = time.perf_counter()
        out, _, info = reference.reference_transfer(src, sr, [corp_path], codec)
        elapsed = time.perf_counter() - t
        cont = reference.continuity(info["ids"], info["where"])
        bounds = reference.jump_boundaries(info["ids"], info["where"], codec.hop, codec.sample_rate, sr)
        score("reference", out, elapsed, cont, bounds)

        if ta.available():
            index = ta.build_index([corp_path], work / f"{src_path.stem}.lmindex", codec)
            for variant, options in (("preset", ta.REFERENCE_OPTIONS), ("nearest", NEAREST_OPTIONS), ("defaults", {})):
                t = time.perf_counter()
                out, out_sr, report = ta.run_transfer(src, sr, index, **options)
                elapsed = time.perf_counter() - t
                if out_sr != sr:
                    out = resample(out, out_sr, sr)
                ids = ta.chosen_ids(report)
                where = ta.grain_where(index)
                cont = reference.continuity(ids, where) if ids is not None else None
                bounds = reference.jump_boundaries(ids, where, index.hop, index.sample_rate, sr) if ids is not None else None
                score(variant, out, elapsed, cont, bounds)
            d, n = entry["variants"]["defaults"], entry["variants"]["nearest"]
            dc, nc = d["continuity"] or {}, n["continuity"] or {}
            check = {
                "loudness_ge_0.9": bool(d["content"]["loudness"]["value"] >= 0.9),
                "style_lt_0.5": bool(d["style"]["ratio"]["value"] < 0.5),
                "clicks_le_corpus": bool(d["artefacts"]["click_ratio"] <= 1.0),
                "continuity_beats_nearest": bool(dc.get("continue_fraction", np.nan) > nc.get("continue_fraction", np.nan)),
                "clicks_beat_nearest": bool(d["artefacts"]["extra_click_rate"] <= n["artefacts"]["extra_click_rate"]),
            }
            entry["criteria"] = check
            checks.append([name, *("PASS" if v else "FAIL" for v in check.values())])
        results["pairs"][name] = entry
        print(f"quality: {name} done", file=sys.stderr)

    print("\nQuality (embedded codec; loud r/onset/chroma/pitch/content: 1 = source structure kept;")
    print("style: 0 = corpus timbre, 1 = source timbre; leak: share of output that is the source waveform;")
    print("click x / flux x: artefacts not in the source / the corpus's own rate; contin.: share of frames")
    print("continuing through the corpus in order; jump: mean frame jump, 1000 = other file)")
    print(common.table(HEADERS, rows))
    if checks:
        print("\nTransfer acceptance (defaults): loudness r >= 0.9, style < 0.5, clicks <= corpus, beats nearest on continuity and clicks")
        print(common.table(["pair", "loud>=0.9", "style<0.5", "clicks<=corpus", "contin>nearest", "clicks<=nearest"], checks))
    results["table"] = {"headers": HEADERS, "rows": rows}
    return results


if __name__ == "__main__":
    import argparse

    p = argparse.ArgumentParser(description="quality benchmark (see module docstring)")
    p.add_argument("--quick", action="store_true", help="three pairs, sources cut to 6 s")
    a = p.parse_args()
    res = run(quick=a.quick)
    res["machine"] = common.machine()
    print("wrote", common.write_json("quality", res))
