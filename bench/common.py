"""Shared helpers for the benchmarks: test pairs, corpora, timing, peak memory, tables, JSON."""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import platform
import re
import sys
import time
from pathlib import Path
from typing import Iterator

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TEST_DATA = ROOT / "tests" / "data"
RESULTS = ROOT / "bench" / "results"


def _shared_default() -> Path:
    """``../shared/audio`` beside the checkout, or beside the folder of worktrees holding it."""
    for base in (ROOT.parent, ROOT.parent.parent):
        if (base / "shared" / "audio").is_dir():
            return base / "shared" / "audio"
    return ROOT.parent / "shared" / "audio"


#: Real dev recordings (``$LATENTMORPH_SHARED_AUDIO``, else ``../shared/audio``); tests/data when absent.
SHARED = Path(os.environ.get("LATENTMORPH_SHARED_AUDIO") or _shared_default())
#: Training audio for the diffusion/tempo benchmarks (``$LATENTMORPH_TRAIN_AUDIO``; fill it with
#: ``bash ../shared/data/fetch_training_audio.sh DIR``); git-ignored under bench/results by default.
TRAIN_AUDIO = Path(os.environ.get("LATENTMORPH_TRAIN_AUDIO") or RESULTS / "train_audio")
#: The fetch script for :data:`TRAIN_AUDIO`, as the docs name it.
FETCH_TRAINING_AUDIO = SHARED.parent / "data" / "fetch_training_audio.sh"

#: Pairs used when ../shared/audio is absent: the committed excerpts in tests/data.
FALLBACK_PAIRS = [
    ("speech_codec2", "water_ufoai"),
    ("guitar_sectoid", "bells"),
    ("drums_amen", "wind_ufoai"),
    ("piano_melody", "strings_melody"),
]


def shared_available() -> bool:
    return (SHARED / "README.md").exists()


def pairs() -> list[tuple[str, Path, Path]]:
    """``(name, source_path, corpus_path)`` for every suggested pair in ../shared/audio/README.md.

    Falls back to tests/data excerpts (with a message on stderr) when the shared folder is absent.
    """
    if shared_available():
        text = (SHARED / "README.md").read_text()
        found = re.findall(r"`(dev_src_\w+)`\s*→\s*`(dev_corp_\w+)`", text)
        out = []
        for src, corp in found:
            s, c = SHARED / f"{src}.wav", SHARED / f"{corp}.wav"
            if s.exists() and c.exists():
                out.append((f"{src[8:]}->{corp[9:]}", s, c))
        if out:
            return out
    print(f"note: {SHARED} not found; using the short excerpts in tests/data", file=sys.stderr)
    return [(f"{s}->{c}", TEST_DATA / f"{s}.flac", TEST_DATA / f"{c}.flac") for s, c in FALLBACK_PAIRS]


def corpus_files() -> list[Path]:
    """Real recordings to build speed-test corpora from (all corpus clips, or tests/data)."""
    if shared_available():
        files = sorted(SHARED.glob("dev_corp_*.wav"))
        if files:
            return files
    return sorted(TEST_DATA.glob("*.flac"))


def source_files() -> list[Path]:
    if shared_available():
        files = sorted(SHARED.glob("dev_src_*.wav"))
        if files:
            return files
    return sorted(TEST_DATA.glob("*.flac"))


def real_audio(seconds: float, sr: int, files: list[Path], *, seed: int = 0) -> np.ndarray:
    """Mono float32 ``[samples]`` of ``seconds`` at ``sr``: real recordings cut and joined in a seeded order."""
    from latentmorph.audio import load

    rng = np.random.default_rng(seed)
    need = int(seconds * sr)
    parts, have = [], 0
    order = list(rng.permutation(len(files)))
    i = 0
    while have < need:
        wave, _ = load(files[order[i % len(files)]], sr=sr, mono=True, warn_silence=False)
        parts.append(wave[0, : need - have])
        have += parts[-1].size
        i += 1
    return np.concatenate(parts).astype(np.float32)


def write_corpus(folder: Path, minutes: float, sr: int = 44100, *, piece_s: float = 60.0, seed: int = 0) -> list[Path]:
    """Write a corpus of ``minutes`` of real audio as ``piece_s``-long WAV files into ``folder``."""
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    total = minutes * 60.0
    audio = real_audio(total, sr, corpus_files(), seed=seed)
    paths = []
    step = int(piece_s * sr)
    for k, start in enumerate(range(0, audio.size, step)):
        p = folder / f"corpus_{k:03d}.wav"
        sf.write(p, audio[start : start + step], sr, subtype="PCM_16")
        paths.append(p)
    return paths


def _status_kb(field: str) -> int | None:
    """A ``/proc/self/status`` memory field (``VmHWM``, ``VmRSS``) in kB; None off Linux."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class PeakMemory:
    """Peak resident memory of this process during a ``with`` block (Linux ``VmHWM``, reset on entry).

    ``peak_mb`` is the peak RSS during the block; ``delta_mb`` is that minus the RSS at
    entry (what the block itself needed). ``None`` where /proc is unavailable.
    """

    def __enter__(self) -> "PeakMemory":
        self.reset_ok = False
        with contextlib.suppress(OSError):
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # resets the peak RSS counter (Linux >= 4.0)
            self.reset_ok = True
        self.start_kb = _status_kb("VmRSS")
        return self

    def __exit__(self, *exc: object) -> None:
        hwm = _status_kb("VmHWM")
        self.peak_mb = hwm / 1024 if hwm is not None and self.reset_ok else None
        self.delta_mb = (
            max(0.0, (hwm - self.start_kb) / 1024) if self.peak_mb is not None and self.start_kb is not None else None
        )


@contextlib.contextmanager
def timer(store: dict, key: str) -> Iterator[None]:
    """Add the block's wall time (seconds) to ``store[key]``."""
    t = time.perf_counter()
    try:
        yield
    finally:
        store[key] = store.get(key, 0.0) + time.perf_counter() - t


def fmt(v: object, digits: int = 2) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (float, np.floating)):
        return "n/a" if not np.isfinite(v) else f"{v:.{digits}f}"
    return str(v)


def table(headers: list[str], rows: list[list[object]], digits: int = 2) -> str:
    """A plain-text table (right-aligned numbers)."""
    cells = [[fmt(v, digits) for v in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    for r in cells:
        out.append("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
    return "\n".join(out)


def load_average() -> float | None:
    """The 1-minute load average (what ``uptime`` prints first); None where unknown."""
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):
        return None


def machine() -> dict:
    return {
        "date_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "load_1min": load_average(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "shared_audio": shared_available(),
    }


def write_json(name: str, data: dict) -> Path:
    """Write ``bench/results/NAME.json`` atomically (NaN -> null) and return its path."""
    from latentmorph.evaluate.files import save_json

    RESULTS.mkdir(parents=True, exist_ok=True)
    return save_json(RESULTS / f"{name}.json", data)
