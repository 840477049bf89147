"""Encode/decode real-time factors of every codec on the CPU, random weights of the real sizes.

EnCodec 24/48 kHz and DAC 44.1 kHz use the configurations of ``facebook/encodec_24khz``,
``facebook/encodec_48khz`` and ``descript/dac_44khz`` with random weights
(:mod:`latentmorph.codecs.random_weights`, ``size="real"``), saved and loaded through the
codecs' normal folder path; speed does not depend on the weights' values. The embedded codec
is the baseline measured in the same run. RAVE's real architecture needs the ``acids-rave``
package, which pulls torchaudio (not allowed here), so RAVE is timed only through its wrapper
on the tiny scripted module of the tests (the wrapper's overhead, not a real model's speed).
Music2Latent's speeds are in docs/codecs.md (bench/bench_codecs.py).

    .venv/bin/python bench/bench_neural_codecs.py --seconds 10 --threads 2

Real-time factor = seconds of audio per second of compute (> 1: faster than real time).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402


def _time(fn, repeats: int) -> float:  # noqa: ANN001
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    from latentmorph.codecs import get_codec
    from latentmorph.codecs.random_weights import save_random_dac, save_random_encodec

    sys.path.insert(0, str(common.ROOT))
    from tests.test_neural_codecs import save_rave

    files = common.source_files()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        specs = {
            "embedded (baseline)": "embedded",
            "encodec 24 kHz": f"encodec:{save_random_encodec(Path(tmp) / 'e24', '24khz', size='real')}",
            "encodec 48 kHz": f"encodec:{save_random_encodec(Path(tmp) / 'e48', '48khz', size='real')}",
            "dac 44.1 kHz": f"dac:{save_random_dac(Path(tmp) / 'dac', size='real')}",
            "rave wrapper (tiny module)": f"rave:{save_rave(Path(tmp) / 'tiny.ts')}",
        }
        base_enc = None
        for label, spec in specs.items():
            c = get_codec(spec)
            wave = common.real_audio(args.seconds, c.sample_rate, files)
            enc = _time(lambda: c.encode(wave), args.repeats)
            z = c.encode(wave)
            dec = _time(lambda: c.decode(z), args.repeats)
            params = sum(p.numel() for p in c.model.parameters()) / 1e6 if hasattr(c, "model") and hasattr(c.model, "parameters") else 0.0
            base_enc = base_enc or enc
            rows.append([label, c.sample_rate, c.hop, c.dim, f"{c.frame_rate:.1f}", f"{params:.1f}",
                         args.seconds / enc, args.seconds / dec, enc / base_enc])
            print(rows[-1], flush=True)
    print(common.table(["codec", "sr", "hop", "dim", "frames/s", "M params", "encode RTF", "decode RTF", "encode time vs embedded"], rows))
    load = os.getloadavg()
    print(f"load average during the run: {load[0]:.1f}, {args.threads} torch threads, {args.seconds} s of real audio")
    common.write_json("neural_codecs", {"rows": rows, "load": load, "threads": args.threads, "seconds": args.seconds, "machine": common.machine()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
