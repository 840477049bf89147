"""Speed benchmark: our transfer vs the reference workflow, measured in the same run.

For each codec, source length (10 s, 60 s) and corpus size (1 min, 10 min of real audio):

- ``ours``: ``latentmorph.transfer`` with its defaults over a corpus index built once
  beforehand (the one-off index build is timed separately);
- ``reference``: bench/reference.py — corpus re-encoded on every run, per-frame nearest
  neighbour by a plain distance computation, codec decode, 20 % dry.

Times are split into encode / search / match / render (render includes decoding), the
speed-up is reference time / our time, and peak memory is the resident-set growth
during the run (Linux VmHWM, reset before each run), measured by repeating the run in a
fresh process so earlier runs and allocator reuse do not hide it.

Music2Latent runs with random weights (the compute is that of the real model). Its
network is slow on 2 shared cores (encode and decode far below real time), so by default
its cells are *modelled*: every stage except the network itself runs for real at full
size, with the codec's encode/decode replaced by stand-ins of the same output shape, and
the network's time is added as measured seconds-per-audio-second from a short real
encode and decode in the same run. ``--full`` measures Music2Latent end to end instead
(tens of minutes).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
import reference  # noqa: E402
import transfer_adapter as ta  # noqa: E402

from latentmorph.codecs import get_codec  # noqa: E402

SR = 44100
HEADERS = [
    "codec", "source s", "corpus min", "how", "ours s", "enc", "search", "match", "render",
    "ref s", "ref enc", "ref search", "ref render", "speed-up x", "ours MB", "ref MB",
]


def _m2l_codec(work: Path) -> Any:
    from latentmorph.codecs.m2l_weights import save_random_checkpoint

    path = save_random_checkpoint(work / "music2latent_random.pt", seed=0)
    return get_codec("music2latent", weights=str(path))


def _network_rates(codec: Any, seconds: float) -> dict:
    """Seconds of network time per second of audio, for encode and decode (measured now)."""
    x = common.real_audio(seconds, codec.sample_rate, common.source_files(), seed=3)[None]
    t = time.perf_counter()
    z = codec.encode(x)
    enc = time.perf_counter() - t
    t = time.perf_counter()
    codec.decode(z)
    dec = time.perf_counter() - t
    return {"encode_s_per_s": enc / seconds, "decode_s_per_s": dec / seconds, "probe_seconds": seconds}


def _stub_network(codec: Any) -> None:
    """Replace the codec's network with shape-faithful stand-ins (instance attributes)."""
    rng = np.random.default_rng(0)

    def encode(wave: np.ndarray) -> np.ndarray:
        wave = np.atleast_2d(wave)
        frames = codec.num_frames(wave.shape[-1])
        return rng.standard_normal((wave.shape[0], codec.dim, frames)).astype(np.float32)

    def decode(latents: np.ndarray) -> np.ndarray:
        c, _, t = latents.shape
        return (0.05 * rng.standard_normal((c, t * codec.hop))).astype(np.float32)

    codec.encode = encode
    codec.decode = decode


def _reference(source: np.ndarray, corpus: list[Path], codec: Any) -> dict:
    t = time.perf_counter()
    _, _, info = reference.reference_transfer(source, SR, corpus, codec)
    total = time.perf_counter() - t
    return {"total": total, **info["times"]}


def _memory(which: str, seconds: float, corpus: list[Path], index_path: Path, codec_spec: str, weights: str | None) -> float | None:
    """Peak RSS growth (MB) of one run of ``which`` ("ours" | "ref"), measured in a fresh process.

    A fresh process per run, with glibc told to hand large freed blocks back to the system
    (``MALLOC_MMAP_THRESHOLD_``), so neither earlier runs' memory nor allocator reuse hides
    what this run needs. Timing is not taken from these runs.
    """
    import json
    import os
    import subprocess

    spec = {"which": which, "seconds": seconds, "corpus": [str(p) for p in corpus], "index": str(index_path),
            "codec": codec_spec, "weights": weights}
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="131072")
    try:
        done = subprocess.run([sys.executable, __file__, "--memory-run", json.dumps(spec)], env=env,
                              capture_output=True, text=True, timeout=900, check=True)
        return float(json.loads(done.stdout.strip().splitlines()[-1])["peak_mb"])
    except (subprocess.SubprocessError, ValueError, KeyError, IndexError) as err:
        print(f"speed: memory run failed ({err})", file=sys.stderr)
        return None


def _memory_run(spec: dict) -> dict:
    """Body of the fresh process behind :func:`_memory`: load inputs, then measure one run."""
    codec = get_codec(spec["codec"], **({"weights": spec["weights"]} if spec["weights"] else {}))
    source = common.real_audio(spec["seconds"], SR, common.source_files(), seed=1)[None]
    corpus = [Path(p) for p in spec["corpus"]]
    index = None
    if spec["which"] == "ours":
        from latentmorph.corpus import load_index

        index = load_index(spec["index"], codec)
        _ = index.latents.sum()  # touch the (possibly memory-mapped) latents before measuring
    with common.PeakMemory() as mem:
        if index is not None:
            ta.run_transfer(source, SR, index)
        else:
            reference.reference_transfer(source, SR, corpus, codec)
    return {"peak_mb": mem.delta_mb}


def _model(ours: dict, ref: dict, rates: dict, source_s: float, corpus_s: float) -> None:
    """Add the network's measured time to runs made with the stand-in network."""
    enc, dec = rates["encode_s_per_s"], rates["decode_s_per_s"]
    ours["encode"] += enc * source_s
    ours["render"] += dec * source_s
    ours["total"] += enc * source_s + dec * source_s
    ref["encode"] += enc * (source_s + corpus_s)
    ref["render"] += dec * source_s
    ref["total"] += enc * (source_s + corpus_s) + dec * source_s


def run(*, quick: bool = False, full: bool = False) -> dict:
    """Run the speed matrix; returns the JSON-ready result (also printed)."""
    result: dict = {"cells": [], "index_builds": [], "transfer_available": ta.available()}
    if not ta.available():
        print(f"speed: skipped, latentmorph.transfer / corpus index not available ({ta.why_not()})")
        return result
    work = Path(tempfile.mkdtemp(prefix="lm-bench-speed-"))
    source_lengths = [5.0, 10.0] if quick else [10.0, 60.0]
    corpus_minutes = [0.5, 1.0] if quick else [1.0, 10.0]
    sources = {s: common.real_audio(s, SR, common.source_files(), seed=1)[None] for s in source_lengths}
    corpora = {m: common.write_corpus(work / f"corpus_{m}min", m, SR) for m in corpus_minutes}
    rows = []

    codecs: list[tuple[str, Any, str]] = [("embedded", get_codec("embedded"), "measured")]
    try:
        m2l = _m2l_codec(work)
        codecs.append(("music2latent", m2l, "measured" if full else "modelled"))
    except Exception as err:  # noqa: BLE001  (package missing: say so, keep the rest)
        print(f"speed: music2latent skipped ({err})")
        result["music2latent_skipped"] = str(err)

    for name, codec, how in codecs:
        rates = None
        if how == "modelled":
            rates = _network_rates(codec, 2.0 if quick else 4.0)
            result["music2latent_network_rates"] = rates
            print(f"speed: music2latent network: encode {rates['encode_s_per_s']:.2f} s/s, "
                  f"decode {rates['decode_s_per_s']:.2f} s/s of audio (random weights, precision {codec.precision})",
                  file=sys.stderr)
            _stub_network(codec)
        for minutes in corpus_minutes:
            index_path = work / f"{name}_{minutes}.lmindex"
            with common.PeakMemory() as mem:
                t = time.perf_counter()
                index = ta.build_index(corpora[minutes], index_path, codec)
                build = time.perf_counter() - t
            if rates:
                build += rates["encode_s_per_s"] * minutes * 60
            result["index_builds"].append(
                {"codec": name, "corpus_min": minutes, "seconds": build, "x_realtime": minutes * 60 / build,
                 "peak_mb": None if rates else mem.delta_mb, "how": how, "grains": len(index)}
            )
            for seconds in source_lengths:
                ours = ta.timed_transfer(sources[seconds], SR, index, codec)
                ref = _reference(sources[seconds], corpora[minutes], codec)
                if rates:
                    _model(ours, ref, rates, seconds, minutes * 60)
                    ours["peak_mb"] = ref["peak_mb"] = None  # the stand-in network says nothing about memory
                else:
                    weights = getattr(codec, "weights_path", None)
                    weights = None if weights is None else str(weights)
                    for which, res in (("ours", ours), ("ref", ref)):
                        res["peak_mb"] = _memory(which, seconds, corpora[minutes], index_path, name, weights)
                cell = {"codec": name, "source_s": seconds, "corpus_min": minutes, "how": how,
                        "ours": ours, "reference": ref, "speedup": ref["total"] / ours["total"]}
                result["cells"].append(cell)
                rows.append([name, seconds, minutes, how, ours["total"], ours["encode"], ours["search"], ours["match"],
                             ours["render"], ref["total"], ref["encode"], ref["search"], ref["render"], cell["speedup"],
                             ours["peak_mb"], ref["peak_mb"]])
                print(f"speed: {name} {seconds:.0f} s x {minutes} min done", file=sys.stderr)

    print("\nSpeed (seconds, same run; ours = transfer defaults over a prebuilt index; ref = corpus")
    print("re-encoded + per-frame nearest + decode + 20% dry; speed-up = ref / ours; MB = peak RSS growth)")
    print(common.table(HEADERS, rows))
    builds = [[b["codec"], b["corpus_min"], b["how"], b["seconds"], b["x_realtime"], b["grains"], b["peak_mb"]]
              for b in result["index_builds"]]
    print("\nOne-off index builds")
    print(common.table(["codec", "corpus min", "how", "seconds", "x real time", "grains", "MB"], builds))
    result["table"] = {"headers": HEADERS, "rows": rows}
    return result


if __name__ == "__main__":
    import argparse

    p = argparse.ArgumentParser(description="speed benchmark (see module docstring)")
    p.add_argument("--quick", action="store_true", help="small sizes (5/10 s sources, 0.5/1 min corpora)")
    p.add_argument("--full", action="store_true", help="measure Music2Latent end to end (slow)")
    p.add_argument("--memory-run", metavar="JSON", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.memory_run:
        import json

        print(json.dumps(_memory_run(json.loads(a.memory_run))))
        sys.exit(0)
    res = run(quick=a.quick, full=a.full)
    res["machine"] = common.machine()
    print("wrote", common.write_json("speed", res))
