"""Before/after check for refactors of the transfer pipeline: same settings, same samples.

Runs ``transfer()`` on excerpts of ``tests/data`` with the defaults and a spread of other
settings (every mode, windows, keep-source, decode/reference, stereo, another output
rate, the piecewise path) and either saves the outputs or compares them with saved ones:

    git stash; python bench/transfer_identity.py --save /tmp/before; git stash pop
    python bench/transfer_identity.py --compare /tmp/before

Prints one line per case (``identical`` or the largest difference) and exits non-zero
when any case differs. A refactor that must not change the sound has to print
``identical`` everywhere.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"

#: name -> transfer() keywords (applied to the speech source against a strings corpus).
CASES: dict[str, dict] = {
    "default": {},
    "nearest": dict(mode="nearest"),
    "soft": dict(mode="soft", k=4, temperature=0.7),
    "sample": dict(mode="sample", seed=3),
    "window4": dict(window=4, stride=2, continuity=3.0),
    "keep_source": dict(keep_source_threshold=0.4, strength=0.6),
    "l2_corpus": dict(metric="l2", normalize="corpus", avoid_repeat=0),
    "dot": dict(metric="dot"),
    "decode": dict(render="decode", wet=0.7),
    "reference": "reference",
    "out_sr": dict(out_sr=22050, follow_loudness=False),
    "no_filter": dict(grain_filter=False),
    "pieces": dict(chunk_seconds=1.0),
}


def _load(name: str, seconds: float, offset: float = 0.0):  # noqa: ANN202
    from latentmorph.audio import load

    return load(DATA / f"{name}.flac", offset=offset, duration=seconds)


def run_cases() -> dict[str, np.ndarray]:
    """``{case: output}`` for every case (and a stereo run of the defaults)."""
    from latentmorph.transfer import PRESETS, MemoryCorpus, transfer

    src, sr = _load("speech_codec2", 3.0)
    strings, ssr = _load("strings_melody", 5.0)
    corpus = MemoryCorpus.from_audio([(strings, ssr)])
    out: dict[str, np.ndarray] = {}
    warnings.simplefilter("ignore")
    for name, opts in CASES.items():
        kw = dict(PRESETS["reference"]) if opts == "reference" else dict(opts)
        out[name] = transfer(src, sr, index=corpus, **kw)[0]
    stereo_src = np.stack([src[0], np.roll(src[0], 777) * 0.5])
    water, wsr = _load("water_ufoai", 4.0)
    stereo_corpus = MemoryCorpus.from_audio([(np.stack([water[0], water[0][::-1]]), wsr), (strings, ssr)])
    out["stereo"] = transfer(stereo_src, sr, index=stereo_corpus)[0]
    y, _, res = transfer(src, sr, index=corpus, return_report=True)
    import tempfile

    from latentmorph.corpus import build_index

    with tempfile.TemporaryDirectory() as tmp:
        idx = build_index([DATA / "bells.flac", DATA / "wind_ufoai.flac"], Path(tmp) / "c.lmindex", progress=False).index
        out["index"] = transfer(src, sr, index=idx)[0]
        out["index_decode"] = transfer(src, sr, index=idx, render="decode", metric="l2")[0]
    out["report_ids"] = res.choices[0].ids.astype(np.float64)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--save", type=Path, metavar="DIR")
    g.add_argument("--compare", type=Path, metavar="DIR")
    args = ap.parse_args(argv)
    outs = run_cases()
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
        np.savez(args.save / "transfer_identity.npz", **outs)
        print(f"saved {len(outs)} cases to {args.save}")
        return 0
    ref = np.load(args.compare / "transfer_identity.npz", allow_pickle=False)
    bad = 0
    for name, y in outs.items():
        if name not in ref:
            print(f"{name:12s} (not in the saved run)")
            continue
        r = ref[name]
        if r.shape == y.shape and np.array_equal(r, y):
            print(f"{name:12s} identical")
        else:
            bad += 1
            diff = float(np.max(np.abs(r - y))) if r.shape == y.shape else float("nan")
            print(f"{name:12s} DIFFERS shape {r.shape} -> {y.shape}, max |diff| {diff:.3g}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
