"""What the index layer's checks cost (issue 8). One command:

    .venv/bin/python bench/bench_index_safety.py            # corpus: ../shared/audio dev_corp_*.wav (or tests/data)
    .venv/bin/python bench/bench_index_safety.py --repeat 5

Every index or pack read back is validated (manifest fields and names, grain table
against the records, finite latents) and its data files' sizes compared with the
manifest; an update also hashes the consolidated files; ``info --verify`` reads every
file. Baselines measured in the same run:

* ``load``: :func:`latentmorph.corpus.load_index` against the bare reads it is built on
  (``json.loads`` of the manifest + ``np.load`` of latents and grain table, no checks);
* ``unchanged re-run``: ``build_index`` on an up-to-date index against the same full
  build (how much of a build a no-op update costs, now that it hashes the arrays);
* ``info --verify`` against plain ``info``, and against the bare reads.

The corpus is indexed ``--copies`` times over (same content under other names: encoded
once, but every copy has its own records and grains, so the checks see a 1 h index).
Results: bench/results/index-safety-<time>.json (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (bench/common.py: shared paths and helpers)
sys.path.insert(0, str(ROOT / "src"))
RESULTS = ROOT / "bench" / "results"
SHARED = common.SHARED


def corpus_files() -> list[Path]:
    files = sorted(SHARED.glob("dev_corp_*.wav")) if SHARED.is_dir() else []
    return files or sorted((ROOT / "tests" / "data").glob("*.flac"))


def best(fn, repeat: int) -> float:  # noqa: ANN001
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def bare_read(index: Path) -> None:
    m = json.loads((index / "manifest.json").read_bytes())
    np.load(index / m["latents"], allow_pickle=False)
    with np.load(index / m["grains"], allow_pickle=False) as z:
        {k: z[k] for k in z.files}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3, help="timings are the best of this many runs (default 3)")
    ap.add_argument("--copies", type=int, default=12, help="index the corpus this many times over (hard links; "
                    "default 12, about 1 h of audio with the shared corpus)")
    args = ap.parse_args()
    from latentmorph.corpus import build_index, index_info, load_index

    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for c in range(args.copies):
            folder = Path(tmp) / f"copy{c}"
            folder.mkdir()
            for f in corpus_files():
                try:
                    os.link(f, folder / f.name)
                except OSError:
                    shutil.copy(f, folder / f.name)
                files.append(folder / f.name)
        index = Path(tmp) / "bench.lmindex"
        t = time.perf_counter()
        built = build_index(files, index, progress=False).index
        full_build = time.perf_counter() - t
        res = {
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "load_average": os.getloadavg()[0],
            "files": len(files),
            "audio_minutes": built.duration_seconds / 60,
            "grains": len(built),
            "full_build_s": full_build,
            "bare_read_s": best(lambda: bare_read(index), args.repeat),
            "load_index_s": best(lambda: load_index(index), args.repeat),
            "unchanged_rerun_s": best(lambda: build_index(files, index, progress=False), args.repeat),
            "info_s": best(lambda: index_info(index), args.repeat),
            "info_verify_s": best(lambda: index_info(index, verify=True), args.repeat),
        }
    res["load_vs_bare"] = res["load_index_s"] / res["bare_read_s"]
    res["rerun_vs_build"] = res["unchanged_rerun_s"] / res["full_build_s"]
    res["verify_vs_bare"] = res["info_verify_s"] / res["bare_read_s"]
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"index-safety-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(res, indent=1))
    print(f"{res['files']} files, {res['audio_minutes']:.1f} min of audio, {res['grains']} grains; load average {res['load_average']:.1f}")
    print(f"load_index (checked)      {res['load_index_s'] * 1e3:8.1f} ms  = {res['load_vs_bare']:.2f}x the bare reads ({res['bare_read_s'] * 1e3:.1f} ms)")
    print(f"unchanged re-run          {res['unchanged_rerun_s'] * 1e3:8.1f} ms  = {res['rerun_vs_build']:.3f}x the full build ({res['full_build_s']:.1f} s)")
    print(f"info / info --verify      {res['info_s'] * 1e3:8.1f} ms / {res['info_verify_s'] * 1e3:.1f} ms = {res['verify_vs_bare']:.2f}x the bare reads")
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
