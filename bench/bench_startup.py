"""Whole-process wall time of the everyday commands, pinned to 2 cores, against same-run baselines.

    .venv/bin/python bench/bench_startup.py              # ~1-2 min; --repeats 5 by default
    .venv/bin/python bench/bench_startup.py --repeats 9 --json

Each command runs as a fresh ``python -m latentmorph ...`` process (what a user's shell starts),
pinned to two CPUs, ``--repeats`` times; the median is reported. Goals (issue 10, item 6):

- ``latentmorph info INDEX``                          <= 0.5 s
- ``latentmorph index`` of 300 unchanged files         <= 1 s
- ``latentmorph transfer`` of a 30 s source against a 92 s indexed corpus (embedded codec,
  exact search)                                        >= 20x real time

Baselines measured in the same run, so the ratios hold on a loaded machine:

- ``python -c pass`` (interpreter start) and ``python -c "import torch"``;
- "torch path": the same command with ``import torch`` first, which is what every command paid
  before latentmorph stopped importing torch on these paths.

Audio: real recordings (``$LATENTMORPH_SHARED_AUDIO`` / ``../shared/audio``, else tests/data).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

CORES = 2
RUNNER = """
import sys
if sys.argv[1] == "torch":
    import torch  # noqa: F401  (the torch path: what every command paid before)
from latentmorph.cli import main
code = main(sys.argv[2:])
assert "torch" in sys.modules or sys.argv[1] != "torch"
sys.exit(code)
"""


def _pin() -> None:  # pragma: no cover - runs in the child
    cpus = sorted(os.sched_getaffinity(0))[:CORES]
    os.sched_setaffinity(0, cpus)


def wall(argv: list[str], repeats: int, env: dict[str, str]) -> float:
    """Median wall seconds of a fresh process running ``argv`` (checked: exit code 0)."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, preexec_fn=_pin)
        times.append(time.perf_counter() - t)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return statistics.median(times)


def command(kind: str, *args: str) -> list[str]:
    """``kind`` "lazy" (as shipped) or "torch" (torch imported first)."""
    return [sys.executable, "-c", RUNNER, kind, *args]


def prepare(work: Path) -> dict[str, Path]:
    """A 92 s corpus index, a 300-file corpus index and a 30 s source, all real audio."""
    import soundfile as sf

    from latentmorph.api import build_index

    sr = 44100
    corpus92 = work / "corpus92"
    corpus92.mkdir()
    audio = common.real_audio(92.0, sr, common.corpus_files(), seed=1)
    for k in range(0, audio.size, 46 * sr):  # two 46 s files
        sf.write(corpus92 / f"c{k // (46 * sr)}.wav", audio[k : k + 46 * sr], sr, subtype="PCM_16")
    build_index([corpus92], work / "c92.lmindex", progress=False)
    many = work / "corpus300"
    many.mkdir()
    clip = common.real_audio(300 * 0.5, sr, common.corpus_files(), seed=2)
    for k in range(300):
        sf.write(many / f"f{k:03d}.wav", clip[k * sr // 2 : (k + 1) * sr // 2], sr, subtype="PCM_16")
    build_index([many], work / "c300.lmindex", progress=False)
    source = work / "source30.wav"
    sf.write(source, common.real_audio(30.0, sr, common.source_files(), seed=3), sr, subtype="PCM_16")
    return {"c92": work / "c92.lmindex", "many": many, "c300": work / "c300.lmindex", "source": source}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5, help="runs per command; the median is reported (default 5)")
    ap.add_argument("--json", action="store_true", help="also write bench/results/startup.json")
    args = ap.parse_args()
    load_before = common.load_average()
    with tempfile.TemporaryDirectory(prefix="lm_startup_") as tmp:
        work = Path(tmp)
        env = {**os.environ, "LATENTMORPH_CACHE_DIR": str(work / "cache"), "PYTHONDONTWRITEBYTECODE": "1"}
        env.pop("LATENTMORPH_CACHE", None)
        paths = prepare(work)
        r = args.repeats
        base_py = wall([sys.executable, "-c", "pass"], r, env)
        base_torch = wall([sys.executable, "-c", "import torch"], r, env)
        base_import = wall([sys.executable, "-c", "import latentmorph"], r, env)
        out = str(work / "out.wav")
        cases = {
            "info": ("info", str(paths["c92"])),
            "re-index 300 unchanged": ("index", str(paths["many"]), "-o", str(paths["c300"]), "--quiet"),
            "transfer 30 s vs 92 s": ("transfer", str(paths["source"]), "--index", str(paths["c92"]), "-o", out,
                                      "--quiet", "--force"),
        }
        rows, results = [], {}
        for name, argv in cases.items():
            lazy = wall(command("lazy", *argv), r, env)
            old = wall(command("torch", *argv), r, env)
            results[name] = {"seconds": lazy, "torch_path_seconds": old, "speedup": old / lazy}
            rows.append([name, lazy, old, old / lazy])
    goals = {
        "info": (results["info"]["seconds"], "<= 0.5 s", results["info"]["seconds"] <= 0.5),
        "re-index 300 unchanged": (results["re-index 300 unchanged"]["seconds"], "<= 1 s",
                                   results["re-index 300 unchanged"]["seconds"] <= 1.0),
        "transfer 30 s vs 92 s": (30.0 / results["transfer 30 s vs 92 s"]["seconds"], ">= 20x real time",
                                  30.0 / results["transfer 30 s vs 92 s"]["seconds"] >= 20.0),
    }
    load_after = common.load_average()
    print(f"whole process, pinned to {CORES} CPUs, median of {r}; load {load_before} -> {load_after}")
    print(f"baselines: python -c pass {base_py:.2f} s, import torch {base_torch:.2f} s, import latentmorph {base_import:.2f} s\n")
    print(common.table(["command", "now s", "torch path s", "speed-up"], rows))
    print()
    print(common.table(["goal", "measured", "target", "met"],
                       [[k, v[0], v[1], v[2]] for k, v in goals.items()]))
    if args.json:
        path = common.write_json("startup", {
            "machine": common.machine(), "repeats": r, "cores": CORES, "load_before": load_before,
            "load_after": load_after, "baselines": {"python": base_py, "import_torch": base_torch,
                                                    "import_latentmorph": base_import},
            "commands": results, "goals": {k: {"value": v[0], "target": v[1], "met": v[2]} for k, v in goals.items()},
        })
        print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
