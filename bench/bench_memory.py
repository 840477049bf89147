"""Peak memory per input hour of `latentmorph evaluate` and `latentmorph transfer`.

Each measurement runs in a fresh Python process (so one run's heap cannot hide another's):
the child writes a stereo 44.1 kHz WAV of real recordings (cut and joined, seeded) of the
asked length, runs the command through ``latentmorph.cli.main`` in-process, and reports
``VmHWM`` from ``/proc/self/status`` (bench/common.py's reader) minus the RSS it had
before the command (imports, the input file's own generation freed). Two lengths per
command give the slope, reported as MB of peak memory per hour of input; the fixed cost
is the intercept.

    python bench/bench_memory.py                       # 2 and 6 minutes per command
    python bench/bench_memory.py --minutes 2 10        # longer, closer to real use
    python bench/bench_memory.py --commands evaluate   # one command

`transfer` is also measured with the source in one piece (``transfer-one-piece``: the
code path before chunking, the baseline), so the ratio shows what chunking saves.

Results: bench/results/memory.json; see docs/safety.md ("Memory") and docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import common  # noqa: E402

CHILD = r"""
import gc, json, sys, warnings
from pathlib import Path
sys.path.insert(0, {bench!r})
import numpy as np, soundfile as sf
import common
from latentmorph.cli import main
from latentmorph.transfer import engine
if {one_piece}:
    engine.CHUNK_SECONDS = 0.0  # the baseline: the whole source in one piece, as before chunking
command, minutes, folder = sys.argv[1], float(sys.argv[2]), Path(sys.argv[3])
sr = 44100
left = common.real_audio(minutes * 60, sr, common.source_files(), seed=1)
right = common.real_audio(minutes * 60, sr, common.source_files(), seed=2)
src = folder / "source.wav"
sf.write(src, np.stack([left, right], 1), sr, subtype="PCM_16")
corpus = common.corpus_files()[:2]
del left, right
gc.collect()
warnings.simplefilter("ignore")
if command == "evaluate":
    # the output is another real recording of the same length: the metrics' cost does not depend on its content
    out = folder / "out.wav"
    other = common.real_audio(minutes * 60, sr, common.source_files(), seed=3)
    sf.write(out, np.stack([other, other], 1), sr, subtype="PCM_16")
    del other
    argv = ["evaluate", str(out), str(src), "--corpus", *map(str, corpus), "--quiet", "--max-seconds", "36000"]
else:
    index = folder / "c.lmindex"
    main(["index", *map(str, corpus), "-o", str(index), "-q"])
    argv = ["transfer", str(src), "--index", str(index), "-o", str(folder / "t.wav"), "--quiet", "--max-seconds", "36000"]
gc.collect()
with common.PeakMemory() as mem:
    rc = main(argv)
print(json.dumps({{"rc": rc, "peak_mb": mem.peak_mb, "delta_mb": mem.delta_mb}}))
"""


def measure(command: str, minutes: float, one_piece: bool = False) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        code = CHILD.format(bench=str(HERE), one_piece=one_piece)
        proc = subprocess.run([sys.executable, "-c", code, command, str(minutes), tmp], capture_output=True, text=True,
                              env={**os.environ, "LATENTMORPH_CACHE_DIR": tmp})
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if proc.returncode != 0 or not lines:
            raise SystemExit(f"{command} {minutes} min failed:\n{proc.stderr[-3000:]}")
        return json.loads(lines[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", nargs=2, type=float, default=[2.0, 6.0], metavar=("SHORT", "LONG"))
    ap.add_argument("--commands", nargs="+", default=["evaluate", "transfer"], choices=["evaluate", "transfer"])
    a = ap.parse_args()
    load = os.getloadavg()[0]
    rows, data = [], {"machine": common.machine(), "load_1min": load, "minutes": a.minutes, "runs": {}}
    runs = [(c, False) for c in a.commands] + ([("transfer", True)] if "transfer" in a.commands else [])
    for cmd_name, one_piece in runs:
        cmd = cmd_name + ("-one-piece" if one_piece else "")
        short, long_ = (measure(cmd_name, m, one_piece) for m in a.minutes)
        slope = (long_["delta_mb"] - short["delta_mb"]) / ((a.minutes[1] - a.minutes[0]) / 60)
        fixed = short["delta_mb"] - slope * a.minutes[0] / 60
        data["runs"][cmd] = {"short": short, "long": long_, "mb_per_input_hour": slope, "fixed_mb": fixed}
        rows.append([cmd, short["delta_mb"], long_["delta_mb"], slope, fixed, long_["delta_mb"] / max(short["delta_mb"], 1e-9)])
    print(f"load average (1 min): {load:.2f}")
    print(common.table(["command", f"peak MB {a.minutes[0]:g} min", f"peak MB {a.minutes[1]:g} min",
                        "MB per input hour", "fixed MB", "long/short"], rows, digits=0))
    print(f"wrote {common.write_json('memory', data)}")


if __name__ == "__main__":
    main()
