"""Speed of transfer(): a 60 s source against a 10 min embedded-codec corpus.

Builds the corpus in memory from ../shared/audio corpus clips (looped to 10 min),
times the default settings and, in the same run, the plain nearest-neighbour matcher
with the same renderer as a baseline; prints seconds and the ratio, and the share of
time spent matching vs rendering. Writes bench/results/transfer_speed.json.

    python bench/transfer_speed.py [--source-seconds 60] [--corpus-minutes 10]
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


def _music2latent(source: np.ndarray, sr: int, args: argparse.Namespace) -> dict | None:
    """Stage times of the decode path with Music2Latent's real architecture and a seeded
    random checkpoint (speed only: random weights say nothing about sound)."""
    import tempfile

    try:
        from latentmorph.codecs import get_codec
        from latentmorph.codecs.m2l_weights import save_random_checkpoint
    except Exception as err:  # noqa: BLE001
        print(f"music2latent: skipped ({err})")
        return None
    from latentmorph.audio import load
    from latentmorph.transfer import MemoryCorpus, transfer

    with tempfile.TemporaryDirectory() as tmp:
        ckpt = save_random_checkpoint(Path(tmp) / "music2latent.pt", seed=0)
        codec = get_codec("music2latent", weights=str(ckpt))
        corp_wave = load(sorted(AUDIO.glob("dev_corp_*.wav"))[0], sr=sr, mono=True)[0][:, : int(args.m2l_corpus_seconds * sr)]
        t = time.perf_counter()
        corpus = MemoryCorpus.from_audio([(corp_wave, sr)], codec)
        t_index = time.perf_counter() - t
        src = source[: int(args.m2l_source_seconds * sr)]
        _, _, res = transfer(src, sr, index=corpus, return_report=True)
    st = res.extra["timings"]
    print(f"music2latent (random checkpoint): corpus {args.m2l_corpus_seconds:.0f} s encoded in {t_index:.1f} s; "
          f"{args.m2l_source_seconds:.0f} s source, render={res.settings['render']}: "
          + ", ".join(f"{k} {v:.2f} s" for k, v in st.items())
          + f"; decode/match = {st['render'] / max(st['match'], 1e-9):.0f}x")
    return {"index_s": t_index, "stages": st}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source-seconds", type=float, default=60.0)
    ap.add_argument("--corpus-minutes", type=float, default=10.0)
    ap.add_argument("--m2l-source-seconds", type=float, default=10.0)
    ap.add_argument("--m2l-corpus-seconds", type=float, default=60.0)
    ap.add_argument("--skip-m2l", action="store_true")
    args = ap.parse_args()
    if not AUDIO.exists():
        print(f"skipped: {AUDIO} not found")
        return 0
    warnings.simplefilter("ignore")
    from latentmorph.audio import load
    from latentmorph.transfer import MemoryCorpus, transfer

    sr = 44100
    clips = [load(p, sr=sr, mono=True)[0][0] for p in sorted(AUDIO.glob("dev_corp_*.wav"))]
    need = int(args.corpus_minutes * 60 * sr)
    pieces, total = [], 0
    while total < need:
        for c in clips:
            pieces.append(c)
            total += c.size
            if total >= need:
                break
    t = time.perf_counter()
    corpus = MemoryCorpus.from_audio([(p, sr) for p in pieces])
    t_index = time.perf_counter() - t
    srcs = [load(p, sr=sr, mono=True)[0][0] for p in sorted(AUDIO.glob("dev_src_*.wav"))]
    source = np.concatenate(srcs)
    while source.size < args.source_seconds * sr:
        source = np.concatenate([source, source])
    source = source[: int(args.source_seconds * sr)]
    transfer(source[: sr * 2], sr, index=corpus)  # warm-up (grain levels cached on the corpus)
    results = {}
    for name, kw in {"nearest (baseline)": dict(mode="nearest"), "default": {}}.items():
        t = time.perf_counter()
        transfer(source, sr, index=corpus, **kw)
        results[name] = time.perf_counter() - t
    base = results["nearest (baseline)"]
    print(f"corpus {total / sr / 60:.1f} min ({len(corpus)} grains) encoded in memory in {t_index:.1f} s")
    for name, s in results.items():
        print(f"{name:20s} {s:6.2f} s for {args.source_seconds:.0f} s of source  ({s / base:.2f}x baseline, "
              f"{args.source_seconds / s:.0f}x real time)")
    _, _, res = transfer(source, sr, index=corpus, return_report=True)
    stages = res.extra["timings"]
    print("default stages: " + ", ".join(f"{k} {v:.2f} s" for k, v in stages.items()))
    results["stages_default"] = stages
    results["music2latent"] = _music2latent(source, sr, args) if not args.skip_m2l else None
    out = Path(__file__).parent / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "transfer_speed.json").write_text(json.dumps({"seconds": results, "grains": len(corpus), "index_s": t_index}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
