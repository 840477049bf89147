"""``precision="auto"`` for Music2Latent: bf16 only where it is measured faster and close enough.

The choice is made per operation (encode, decode) and per input length:

1. the CPU must do bf16 in hardware (:func:`latentmorph.codecs.m2l_fast.native_bf16`);
2. a short probe (:func:`measure`) times the real network in fp32 and in bf16 autocast,
   interleaved (fp32, bf16, fp32, bf16, ...), and checks the bf16 output against fp32 on
   the same inputs. bf16 is used for an operation only when its best time over fp32's best
   time is below :data:`MAX_RATIO` and the output SNR is at least :data:`MIN_SNR_DB`;
3. inputs shorter than :data:`MIN_BF16_FRAMES` latent frames always run in fp32: bf16
   was far off fp32 for some short lengths (1 frame on a Xeon with AMX: latents SNR
   -1 dB; 5 frames on an AVX-512 Xeon without native bf16: 5.7 dB) while every length
   from 2 to 32 frames measured 32-35 dB on the AMX machine. Short inputs are cheap in fp32.

The probe result is cached in ``<latentmorph cache>/m2l_precision.json``, keyed by CPU
model, torch version and the convolutions' memory layout (channels-last or not), so it runs once per machine and torch release (a few seconds on a quiet machine, on
the first ``auto`` call that needs it). ``LATENTMORPH_M2L_PRECISION=fp32|bf16`` forces
the choice for ``auto`` without probing.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from typing import Any, Callable

import torch

from latentmorph.atomic import atomic_write_bytes
from latentmorph.codecs.m2l_weights import cache_dir

#: bf16 must take at most this fraction of fp32's time (best time of each in the probe)
MAX_RATIO = 0.9
#: bf16 output must stay this close to fp32 eager (SNR, dB) in the probe
MIN_SNR_DB = 25.0
#: inputs shorter than this (latent frames) always run in fp32 under ``auto``
MIN_BF16_FRAMES = 16
#: probe sizes: encoder input in latent frames, decoder input in latent frames
PROBE_ENCODE_FRAMES = 32
PROBE_DECODE_FRAMES = 4
PROBE_PAIRS = 3
CACHE_NAME = "m2l_precision.json"
ENV = "LATENTMORPH_M2L_PRECISION"
_MEMO: dict[str, dict[str, Any]] = {}


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what :mod:`platform` knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") or line.startswith("Hardware"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def probe_key(channels_last: bool = True) -> str:
    """Cache key of the probe: CPU model + torch version + the convolutions' memory layout."""
    layout = "channels_last" if channels_last else "nchw"
    return f"{cpu_model()} | torch {torch.__version__} | {layout}"


def snr_db(ref: torch.Tensor, test: torch.Tensor) -> float:
    """SNR of ``test`` against ``ref`` in dB (``inf`` when identical)."""
    err = float((test.double() - ref.double()).norm())
    if err == 0:
        return float("inf")
    return -20.0 * float(torch.log10(torch.tensor(err / max(float(ref.double().norm()), 1e-30))))


def _pairs(fp32: Callable[[], torch.Tensor], bf16: Callable[[], torch.Tensor], pairs: int) -> dict[str, Any]:
    """Time ``fp32`` and ``bf16`` interleaved after one warm-up each; ratio stats and SNR.

    ``ratio`` is the best bf16 time over the best fp32 time: on a shared machine other work
    only ever adds time, so the fastest of several runs is the steadiest estimate of each
    (a median of per-pair ratios flipped the verdict under load 5-7).
    """
    ref, got = fp32(), bf16()  # warm-up (oneDNN primitive creation) and the accuracy check
    times_a, times_b = [], []
    for _ in range(pairs):
        t = time.perf_counter()
        fp32()
        times_a.append(time.perf_counter() - t)
        t = time.perf_counter()
        bf16()
        times_b.append(time.perf_counter() - t)
    ratios = [b / a for a, b in zip(times_a, times_b)]
    return {
        "ratio": min(times_b) / min(times_a),
        "ratio_median": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "snr_db": round(snr_db(ref, got), 1),
    }


def measure(model: Any, pairs: int = PROBE_PAIRS, channels_last: bool = True) -> dict[str, Any]:
    """Time fp32 against bf16 autocast on ``model`` (a ``music2latent.models.UNet``).

    Inputs are seeded: a spectrogram-like ``[1, 2, 1024, 8 * PROBE_ENCODE_FRAMES]`` for the
    encoder, and for the decoder latents ``[1, 64, PROBE_DECODE_FRAMES]`` with noise at
    sigma_max, in the memory layout the codec uses (``channels_last``).
    Returns ``{"encode": stats, "decode": stats}``, stats as in :func:`_pairs`.
    """
    gen = torch.Generator().manual_seed(0)
    spec = torch.randn(1, 2, 1024, 8 * PROBE_ENCODE_FRAMES, generator=gen) * 0.3
    lat = torch.tanh(torch.randn(1, 64, PROBE_DECODE_FRAMES, generator=gen))
    noisy = torch.randn(1, 2, 1024, 8 * PROBE_DECODE_FRAMES, generator=gen) * 80.0
    if channels_last:
        spec, noisy = (t.contiguous(memory_format=torch.channels_last) for t in (spec, noisy))

    def run(bf16: bool, fn: Callable[[], torch.Tensor]) -> Callable[[], torch.Tensor]:
        def call() -> torch.Tensor:
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                return fn().float()

        return call

    enc = lambda: model.encoder(spec)  # noqa: E731
    dec = lambda: model(lat, noisy, 80.0)  # noqa: E731
    return {"encode": _pairs(run(False, enc), run(True, enc), pairs), "decode": _pairs(run(False, dec), run(True, dec), pairs)}


def decide(stats: dict[str, Any]) -> dict[str, bool]:
    """``{"encode": use bf16?, "decode": use bf16?}`` from :func:`measure`'s stats."""
    return {op: bool(s["ratio"] < MAX_RATIO and s["snr_db"] >= MIN_SNR_DB) for op, s in stats.items()}


def _read_cache() -> dict[str, Any]:
    try:
        table = json.loads((cache_dir() / CACHE_NAME).read_text())
    except (OSError, ValueError):
        return {}
    return table if isinstance(table, dict) else {}


def cached_choice(channels_last: bool = True) -> dict[str, Any] | None:
    """The probe's stored entry for this CPU + torch + layout (``{"bf16": {...}, "stats": {...}}``), or ``None``."""
    key = probe_key(channels_last)
    if key in _MEMO:
        return _MEMO[key]
    entry = _read_cache().get(key)
    if not isinstance(entry, dict):
        return None  # absent or not ours: probe again
    ok = isinstance(entry.get("bf16"), dict)
    ok = ok and all(isinstance(entry["bf16"].get(op), bool) for op in ("encode", "decode"))
    if not ok:
        return None  # absent or not ours: probe again
    _MEMO[key] = entry
    return entry


def choose(model: Any, measure_fn: Callable[[Any], dict[str, Any]] | None = None,
           channels_last: bool = True) -> dict[str, bool]:
    """bf16 or not, per operation, on this machine: from the cache, else probe ``model`` and store it."""
    forced = os.environ.get(ENV, "").lower()
    if forced in ("fp32", "bf16"):
        return {"encode": forced == "bf16", "decode": forced == "bf16"}
    entry = cached_choice(channels_last)
    if entry is None:
        stats = measure_fn(model) if measure_fn else measure(model, channels_last=channels_last)
        entry = {"bf16": decide(stats), "stats": stats, "threads": torch.get_num_threads(),
                 "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                 "rule": f"bf16 when best-time ratio < {MAX_RATIO} and SNR >= {MIN_SNR_DB} dB"}
        key = probe_key(channels_last)
        table = _read_cache()
        table[key] = entry
        try:
            atomic_write_bytes(cache_dir() / CACHE_NAME, json.dumps(table, indent=1).encode())
        except OSError:
            pass  # a read-only cache only means probing again next time
        _MEMO[key] = entry
    return dict(entry["bf16"])


def forget() -> None:
    """Drop the in-memory copy of the probe result (the file stays); for tests."""
    _MEMO.clear()
