"""Scaling: how each stage of our transfer grows with source length and corpus size.

Embedded codec, transfer defaults, real audio. Two sweeps:

- source length 5, 10, 20, 40, 60 s against a 10 min corpus;
- corpus size 1, 2, 5, 10 min with a 10 s source (index build time included).

Each row gives seconds per stage (encode, search, match, render) and the growth factor
of the total relative to the sweep's first row, next to the growth of the input itself.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
import transfer_adapter as ta  # noqa: E402

from latentmorph.codecs import get_codec  # noqa: E402

SR = 44100
HEADERS = ["sweep", "source s", "corpus min", "grains", "index build s", "encode", "search", "match", "render", "total s", "input x", "time x"]


def run(*, quick: bool = False) -> dict:
    result: dict = {"rows": [], "transfer_available": ta.available()}
    if not ta.available():
        print(f"scaling: skipped, latentmorph.transfer / corpus index not available ({ta.why_not()})")
        return result
    codec = get_codec("embedded")
    work = Path(tempfile.mkdtemp(prefix="lm-bench-scaling-"))
    lengths = [2.5, 5.0, 10.0] if quick else [5.0, 10.0, 20.0, 40.0, 60.0]
    sizes = [0.5, 1.0, 2.0] if quick else [1.0, 2.0, 5.0, 10.0]
    rows = []

    big = sizes[-1]
    files = common.write_corpus(work / "big", big, SR)
    t = time.perf_counter()
    index = ta.build_index(files, work / "big.lmindex", codec)
    big_build = time.perf_counter() - t
    ta.run_transfer(common.real_audio(2.0, SR, common.source_files(), seed=9)[None], SR, index)  # warm-up
    first = None
    for s in lengths:
        src = common.real_audio(s, SR, common.source_files(), seed=1)[None]
        r = ta.timed_transfer(src, SR, index, codec)
        first = first or (s, r["total"])
        row = {"sweep": "source", "source_s": s, "corpus_min": big, "grains": len(index), "build_s": big_build, **r}
        result["rows"].append(row)
        rows.append(["source", s, big, len(index), big_build, r["encode"], r["search"], r["match"], r["render"],
                     r["total"], s / first[0], r["total"] / first[1]])
        print(f"scaling: source {s:.0f} s done", file=sys.stderr)

    src = common.real_audio(10.0, SR, common.source_files(), seed=1)[None]
    first = None
    for m in sizes:
        sub = files[: max(1, int(round(m)))] if m >= 1 else common.write_corpus(work / f"c{m}", m, SR)
        t = time.perf_counter()
        idx = ta.build_index(sub, work / f"c{m}.lmindex", codec)
        build = time.perf_counter() - t
        r = ta.timed_transfer(src, SR, idx, codec)
        first = first or (m, r["total"])
        result["rows"].append({"sweep": "corpus", "source_s": 10.0, "corpus_min": m, "grains": len(idx), "build_s": build, **r})
        rows.append(["corpus", 10.0, m, len(idx), build, r["encode"], r["search"], r["match"], r["render"],
                     r["total"], m / first[0], r["total"] / first[1]])
        print(f"scaling: corpus {m} min done", file=sys.stderr)

    print("\nScaling (embedded codec, transfer defaults; seconds per stage; input x / time x = growth vs the first row)")
    print(common.table(HEADERS, rows))
    result["table"] = {"headers": HEADERS, "rows": rows}
    return result


if __name__ == "__main__":
    import argparse

    p = argparse.ArgumentParser(description="scaling benchmark (see module docstring)")
    p.add_argument("--quick", action="store_true", help="small sizes")
    a = p.parse_args()
    res = run(quick=a.quick)
    res["machine"] = common.machine()
    print("wrote", common.write_json("scaling", res))
