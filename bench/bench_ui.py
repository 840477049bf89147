"""Benchmark of the web studio (issue 11): many browser sessions against one server.

    .venv/bin/python bench/bench_ui.py                 # 8 sessions x 2 transfers, concurrency 1 and 2
    .venv/bin/python bench/bench_ui.py --sessions 4 --per-session 1 --concurrency 1

One ``latentmorph ui`` server runs in a child process (so its peak RSS, ``VmHWM``, is its
own) with a root holding a 2-file corpus index (tests/data water + wind, 14 s) and a
5 s speech source. Every session is its own ``gradio_client.Client`` in its own thread,
uploading the source and running ``/transfer`` with the default settings (the same call
the page makes: transfer, report, spectrograms, evaluate scores, map path).

Baseline measured in the same run: one session alone, a few transfers one after another.
Reported per concurrency limit: all complete?, p50/p95 latency, p50 as a ratio to the
lone-session latency, throughput (transfers/s) as a ratio to the lone session's, and the
server's peak RSS. Results: bench/results/ui-<time>.json (git-ignored).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import TEST_DATA, machine, table, write_json  # noqa: E402


def _peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _serve(root: Path, concurrency: int) -> tuple[subprocess.Popen, str]:
    from latentmorph.ui.server import free_port

    port = free_port()
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False")
    proc = subprocess.Popen([sys.executable, "-m", "latentmorph", "ui", "--root", str(root), "--port", str(port),
                             "--concurrency", str(concurrency), "--queue-size", "64"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return proc, url
        except OSError:
            if proc.poll() is not None:
                raise SystemExit("the server exited before it answered") from None
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("the server did not answer within 120 s")


def _one_transfer(client, source: Path) -> float:  # noqa: ANN001
    from gradio_client import handle_file

    from latentmorph.ui import options as opts

    t = time.perf_counter()
    out = client.predict(handle_file(str(source)), None, "weather.lmindex", None, *opts.preset_values("default"),
                         api_name="/transfer")
    dt = time.perf_counter() - t
    import soundfile as sf

    if sf.info(out[0]).frames != sf.info(str(source)).frames:
        raise RuntimeError("output length differs from the source")
    return dt


def run_load(root: Path, source: Path, concurrency: int, sessions: int, per_session: int, baseline_runs: int) -> dict:
    from gradio_client import Client

    proc, url = _serve(root, concurrency)
    try:
        solo = Client(url, verbose=False)
        _one_transfer(solo, source)  # warm-up: first codec build, imports
        lone = [_one_transfer(solo, source) for _ in range(baseline_runs)]
        latencies: list[float] = []
        errors: list[str] = []
        lock = threading.Lock()

        def session() -> None:
            try:
                c = Client(url, verbose=False)
                for _ in range(per_session):
                    dt = _one_transfer(c, source)
                    with lock:
                        latencies.append(dt)
            except Exception as err:  # noqa: BLE001 - counted and reported
                with lock:
                    errors.append(f"{type(err).__name__}: {err}")

        threads = [threading.Thread(target=session) for _ in range(sessions)]
        t0 = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=900)
        wall = time.perf_counter() - t0
        peak = _peak_rss_mb(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    lat = np.array(latencies)
    lone_s = float(np.median(lone))
    done = len(latencies)
    return {
        "concurrency": concurrency, "sessions": sessions, "per_session": per_session,
        "completed": done, "expected": sessions * per_session, "errors": errors,
        "lone_latency_s": lone_s,
        "p50_s": float(np.percentile(lat, 50)) if done else None,
        "p95_s": float(np.percentile(lat, 95)) if done else None,
        "p50_over_lone": float(np.percentile(lat, 50) / lone_s) if done else None,
        "wall_s": wall,
        "throughput_ratio": (done / wall) / (1.0 / lone_s) if done else None,
        "server_peak_rss_mb": peak,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=8)
    ap.add_argument("--per-session", type=int, default=2)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--baseline-runs", type=int, default=3)
    args = ap.parse_args()
    from latentmorph import api

    load_before = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="bench-ui-"))
    try:
        root = tmp / "root"
        root.mkdir()
        for name in ("water_ufoai.flac", "wind_ufoai.flac"):
            shutil.copy(TEST_DATA / name, root / name)
        api.build_index([root / "water_ufoai.flac", root / "wind_ufoai.flac"], root / "weather.lmindex", progress=False)
        source = TEST_DATA / "speech_codec2.flac"
        results = [run_load(root, source, c, args.sessions, args.per_session, args.baseline_runs) for c in args.concurrency]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    load_after = os.getloadavg()
    rows = [[r["concurrency"], f"{r['completed']}/{r['expected']}", r["lone_latency_s"], r["p50_s"], r["p95_s"],
             r["p50_over_lone"], r["throughput_ratio"], r["server_peak_rss_mb"]] for r in results]
    print(f"{args.sessions} concurrent gradio_client sessions x {args.per_session} transfers "
          f"(5 s speech -> 14 s weather corpus, default settings, scores on)")
    print(table(["concurrency", "completed", "lone s", "p50 s", "p95 s", "p50/lone", "throughput/lone", "peak RSS MB"], rows))
    print(f"load average (1 min) before {load_before[0]:.1f}, after {load_after[0]:.1f} on {os.cpu_count()} CPUs")
    for r in results:
        for e in r["errors"][:3]:
            print(f"error (concurrency {r['concurrency']}): {e}")
    path = write_json(f"ui-{time.strftime('%Y%m%d-%H%M%S')}", {"machine": machine(), "load": [load_before, load_after],
                                                              "results": results})
    print(f"results: {path}")
    return 0 if all(r["completed"] == r["expected"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
