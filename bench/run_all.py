"""The whole benchmark in one command: quality, speed and scaling.

    .venv/bin/python bench/run_all.py            # everything (< 15 min on 2 cores)
    .venv/bin/python bench/run_all.py --quick    # small sizes, a couple of minutes
    .venv/bin/python bench/run_all.py --only quality speed

Prints the tables and writes bench/results/{quality,speed,scaling,all}.json
(bench/results/ is git-ignored). Uses ../shared/audio when present, else tests/data.
See docs/benchmarks.md for what each number means.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

PARTS = ("quality", "speed", "scaling")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small sizes (a couple of minutes)")
    p.add_argument("--full", action="store_true", help="measure Music2Latent end to end instead of modelling its network time (slow)")
    p.add_argument("--only", nargs="+", choices=PARTS, default=list(PARTS), help="run only these parts")
    args = p.parse_args(argv)

    start = time.perf_counter()
    everything: dict = {"machine": common.machine(), "quick": args.quick}
    for part in args.only:
        t = time.perf_counter()
        if part == "quality":
            import quality

            res = quality.run(quick=args.quick)
        elif part == "speed":
            import speed

            res = speed.run(quick=args.quick, full=args.full)
        else:
            import scaling

            res = scaling.run(quick=args.quick)
        res["machine"] = everything["machine"]
        res["elapsed_s"] = time.perf_counter() - t
        common.write_json(part, res)
        everything[part] = res
    everything["elapsed_s"] = time.perf_counter() - start
    path = common.write_json("all", everything)
    print(f"\nbenchmark finished in {everything['elapsed_s'] / 60:.1f} min; wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
