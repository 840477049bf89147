"""Scaling: how each stage of a default transfer grows with source length and corpus size.

One command (``python bench/scaling.py``, ``--quick`` for a smoke run). Embedded codec,
transfer defaults, in-process (the index is built and loaded first; import time is
``bench/bench_startup.py``'s business). Real audio from ``../shared/audio`` (tests/data
when absent), looped (each loop 1.5 % faster, so nothing repeats exactly) and cut into files:

- corpus 1 / 10 / 60 min of 12 s files (5 / 50 / 300 files), and 60 min as 6 long files
  of 10 min (the two ends of "many files" and "few long files");
- source 10 / 60 / 300 s against each corpus.

Each row gives seconds per stage (``encode``: codec on the source; ``filter``: the
audible-grain filter; ``search``: candidate search; ``match``: the matcher; ``render``:
the grain renderer; ``other``: matching space, loudness following, resampling) and
``x real time`` (source seconds / total seconds), the fastest of ``--repeats`` runs (default
2). ``loads`` counts corpus files read during the first of them (cache misses of
``CorpusIndex.file_audio``).

Ratios measured in this same run, because the machine is shared: ``legacy filter x``
is the audible filter measuring levels from the corpus audio (what every transfer did
before levels were stored in the index) over the stored-level filter, on the same index;
and the unchanged 300-file re-index is timed in-process; ``threads`` is the 60 s vs 10 min
transfer with ``LATENTMORPH_THREADS=1`` over the default thread count (:mod:`latentmorph.parallel`). The goals (issue 10) are
printed with pass/fail next to the measured values, with ``uptime`` load before and after,
and with two floors: each goal's time budget against the candidate search alone, and the
best the 60 s vs 10 min transfer could reach if its single-thread work were split evenly
over every core (its ``LATENTMORPH_THREADS=1`` time is a lower bound on its core-seconds).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
import transfer_adapter as ta  # noqa: E402

SR = 44100
HEADERS = ["source s", "corpus", "files", "grains", "encode", "filter", "search", "match", "render", "other",
           "total s", "x real time", "loads"]
STAGES = ("encode", "filter", "search", "match", "render")
#: (name, minutes, seconds per file)
CORPORA = [("1 min", 1.0, 12.0), ("10 min", 10.0, 12.0), ("60 min", 60.0, 12.0), ("60 min long", 60.0, 600.0)]
SOURCES = [10.0, 60.0, 300.0]
GOALS = [  # (label, source s, corpus, minimum x real time)
    ("60 s vs 10 min >= 100x real time", 60.0, "10 min", 100.0),
    ("300 s vs 60 min (300 files) >= 50x real time", 300.0, "60 min", 50.0),
    ("300 s vs 60 min (6 long files) >= 50x real time", 300.0, "60 min long", 50.0),
]


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


class Stages(ta.StageTimer):
    """Seconds spent in named functions during a ``with stages.patch(codec):`` block (outermost
    calls): the adapter's stages plus the audible-grain filter and the grain renderer."""

    TARGETS = (
        *ta.StageTimer.TARGETS,
        ("latentmorph.transfer.engine", "audible", "filter"),
        ("latentmorph.transfer.engine", "render_grains", "render"),
    )

    def __init__(self) -> None:
        self.times = dict.fromkeys(STAGES, 0.0)
        self._depth = dict.fromkeys(STAGES, 0)


def varied_audio(seconds: float, files: list[Path], seed: int = 0) -> Any:
    """Mono float32 ``[samples]`` at :data:`SR`: the recordings joined in a seeded order, each
    pass over them played 1.5 % faster than the last (resampled), so a long stretch made
    from little material never repeats a frame exactly (no exact duplicates for search
    or file hashing to shortcut)."""
    import numpy as np

    from latentmorph.audio import load, resample

    rng = np.random.default_rng(seed)
    need = int(seconds * SR)
    waves = [load(f, sr=SR, mono=True, warn_silence=False)[0][0] for f in files]
    parts, have, lap = [], 0, 0
    while have < need:
        for i in rng.permutation(len(waves)):
            w = waves[i] if lap == 0 else resample(waves[i][None], int(round(SR * (1 + 0.015 * lap))), SR)[0]
            parts.append(w[: need - have])
            have += parts[-1].size
            if have >= need:
                break
        lap += 1
    return np.concatenate(parts).astype(np.float32)


def write_files(folder: Path, minutes: float, piece_s: float) -> list[Path]:
    """``minutes`` of real audio as ``piece_s``-long 16-bit WAV files (reused when present)."""
    import soundfile as sf

    if folder.is_dir() and any(folder.glob("*.wav")):
        return sorted(folder.glob("*.wav"))
    folder.mkdir(parents=True, exist_ok=True)
    audio = varied_audio(minutes * 60.0, common.corpus_files())
    step = int(piece_s * SR)
    paths = []
    for k, start in enumerate(range(0, audio.size, step)):
        paths.append(folder / f"corpus_{k:03d}.wav")
        sf.write(paths[-1], audio[start : start + step], SR, subtype="PCM_16")
    return paths


def timed_transfer(src: Any, index: Any, codec: Any, repeats: int = 1) -> dict:
    """Seconds per stage of the fastest of ``repeats`` transfers of ``src`` (the first one's corpus loads)."""
    from latentmorph.transfer import transfer

    best: dict | None = None
    for _ in range(max(1, repeats)):
        stages = Stages()
        loads0 = getattr(index, "audio_loads", 0)
        with stages.patch(codec):
            t = time.perf_counter()
            transfer(src, SR, index=index)
            total = time.perf_counter() - t
        st = stages.times
        row = {**st, "other": total - sum(st.values()), "total": total, "loads": getattr(index, "audio_loads", 0) - loads0}
        if best is None:
            best = row
        elif row["total"] < best["total"]:
            best = {**row, "loads": best["loads"]}
    assert best is not None
    return best


def legacy_filter_ratio(index: Any, codec: Any) -> dict:
    """The audible filter with stored levels vs measured from the audio (the old way), same index."""
    from latentmorph.corpus import load_index
    from latentmorph.transfer.space import audible

    t = time.perf_counter()
    new = audible(index, codec, read_audio=True)
    stored = time.perf_counter() - t
    fresh = load_index(index.path, codec)
    fresh._levels = None  # as an index written without levels  # noqa: SLF001
    t = time.perf_counter()
    old = audible(fresh, codec, read_audio=True)
    legacy = time.perf_counter() - t
    return {"stored_s": stored, "legacy_s": legacy, "ratio": legacy / max(stored, 1e-9),
            "same_answer": bool((new == old).all())}


def threads_ratio(index: Any, seconds: float, repeats: int = 3) -> dict:
    """The same transfer with ``LATENTMORPH_THREADS=1`` and with the default thread count,
    interleaved, best of ``repeats`` each: what :mod:`latentmorph.parallel` gives (the
    samples are the same either way)."""
    import numpy as np

    from latentmorph import parallel
    from latentmorph.transfer import transfer

    src = varied_audio(seconds, common.source_files(), seed=1)[None]
    before = os.environ.get(parallel.ENV)
    best = {"1": float("inf"), "default": float("inf")}
    outs = {}
    try:
        for _ in range(repeats):
            for key in best:
                if key == "1":
                    os.environ[parallel.ENV] = "1"
                elif before is None:
                    os.environ.pop(parallel.ENV, None)
                else:
                    os.environ[parallel.ENV] = before
                t = time.perf_counter()
                outs[key] = transfer(src, SR, index=index)[0]
                best[key] = min(best[key], time.perf_counter() - t)
        threads = parallel.threads()
    finally:
        if before is None:
            os.environ.pop(parallel.ENV, None)
        else:
            os.environ[parallel.ENV] = before
    return {"seconds": seconds, "one_thread_s": best["1"], "threads_s": best["default"], "threads": threads,
            "ratio": best["1"] / best["default"], "same_samples": bool(np.array_equal(outs["1"], outs["default"]))}


def run(*, quick: bool = False, work: Path | None = None, repeats: int = 2) -> dict:
    import warnings

    from latentmorph.codecs import get_codec
    from latentmorph.corpus import build_index, load_index

    warnings.simplefilter("ignore")
    work = work or Path(tempfile.mkdtemp(prefix="lm-bench-scaling-"))
    corpora = [("0.5 min", 0.5, 6.0), ("2 min", 2.0, 6.0)] if quick else CORPORA
    sources = [5.0, 20.0] if quick else SOURCES
    codec = get_codec("embedded")
    result: dict = {"load_before": load_average(), "rows": [], "corpora": {}, "repeats": repeats}
    rows = []
    for name, minutes, piece in corpora:
        files = write_files(work / name.replace(" ", "_"), minutes, piece)
        out = work / f"{name.replace(' ', '_')}.lmindex"
        t = time.perf_counter()
        build_index([str(f) for f in files], out, codec, progress=False)
        build_s = time.perf_counter() - t
        t = time.perf_counter()
        rep = build_index([str(f) for f in files], out, codec, progress=False)
        reindex_s = time.perf_counter() - t
        index = load_index(out, codec)
        result["corpora"][name] = {"files": len(files), "grains": len(index), "build_s": build_s,
                                   "unchanged_reindex_s": reindex_s, "changed": rep.changed}
        from latentmorph.transfer import transfer

        transfer(varied_audio(2.0, common.source_files(), seed=9)[None], SR, index=index)  # warm-up
        for s in sources:
            src = varied_audio(s, common.source_files(), seed=1)[None]
            r = timed_transfer(src, index, codec, repeats)
            xrt = s / r["total"]
            result["rows"].append({"source_s": s, "corpus": name, "files": len(files), "grains": len(index), **r, "x_real_time": xrt})
            rows.append([s, name, len(files), len(index), *(r[k] for k in STAGES), r["other"], r["total"], xrt, r["loads"]])
            print(f"scaling: {s:.0f} s vs {name}: {r['total']:.2f} s ({xrt:.0f}x real time)", file=sys.stderr)
        if name == corpora[-2][0]:
            result["legacy_filter"] = legacy_filter_ratio(index, codec)
        if name == corpora[1][0]:
            result["threads"] = {"corpus": name, **threads_ratio(index, sources[1])}
    result["load_after"] = load_average()
    print(f"\nScaling (embedded codec, transfer defaults, in-process; seconds per stage, fastest of {repeats}; "
          f"{os.cpu_count()} CPUs, load {result['load_before']} before, {result['load_after']} after)")
    print(common.table(HEADERS, rows))
    print("\nIndex builds (in-process):")
    print(common.table(["corpus", "files", "grains", "build s", "unchanged re-index s"],
                       [[n, c["files"], c["grains"], c["build_s"], c["unchanged_reindex_s"]] for n, c in result["corpora"].items()], 3))
    lf = result.get("legacy_filter")
    if lf:
        print(f"\naudible filter, {corpora[-2][0]} corpus: stored levels {lf['stored_s']:.4f} s, measured from audio "
              f"(as before) {lf['legacy_s']:.2f} s: {lf['ratio']:.0f}x; same grains kept: {lf['same_answer']}")
    th = result.get("threads")
    if th:
        print(f"\nthreads, {th['seconds']:.0f} s vs {th['corpus']}: LATENTMORPH_THREADS=1 {th['one_thread_s']:.3f} s, "
              f"{th['threads']} threads {th['threads_s']:.3f} s: {th['ratio']:.2f}x; same samples: {th['same_samples']}")
    if not quick:
        print("\nGoals (issue 10, in-process; absolute numbers depend on the load above):")
        by = {(r["source_s"], r["corpus"]): r for r in result["rows"]}
        for label, s, corpus, need in GOALS:
            row = by[(s, corpus)]
            got = row["x_real_time"]
            print(f"  {label}: {got:.0f}x  {'PASS' if got >= need else 'FAIL'}")
            budget = s / need
            print(f"    budget {budget:.2f} s; the candidate search alone took {row['search']:.2f} s ({s / row['search']:.0f}x), "
                  f"the other stages {row['total'] - row['search']:.2f} s")
        result["floors"] = floors = {}
        if th and (th["seconds"], th["corpus"]) in by:
            # with LATENTMORPH_THREADS=1 one core is busy all along (more during the matrix
            # products): the work is at least that many core-seconds, so no split over the
            # cores can run faster than a share of it
            cores = os.cpu_count() or 1
            floors["work_split_x"] = th["seconds"] * cores / th["one_thread_s"]
            print(f"  {th['seconds']:.0f} s vs {th['corpus']}: its work is at least {th['one_thread_s']:.2f} core-seconds "
                  f"(the LATENTMORPH_THREADS=1 run): split perfectly over {cores} cores it would run at "
                  f"{floors['work_split_x']:.0f}x at best")
        re = result["corpora"]["60 min"]["unchanged_reindex_s"]
        print(f"  unchanged 300-file re-index, work in-process: {re:.3f} s (whole-process goal <= 1 s, bench/bench_startup.py)")
    result["table"] = {"headers": HEADERS, "rows": rows}
    return result


if __name__ == "__main__":
    import argparse

    p = argparse.ArgumentParser(description="scaling benchmark (see module docstring)")
    p.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    p.add_argument("--work", type=Path, default=None, help="folder for the corpora and indexes (reused when present)")
    p.add_argument("--repeats", type=int, default=2, help="each transfer's fastest of this many runs (default 2; a shared "
                   "machine's single runs vary by up to 2x)")
    a = p.parse_args()
    res = run(quick=a.quick, work=a.work, repeats=a.repeats)
    res["machine"] = common.machine()
    print("wrote", common.write_json("scaling", res))
