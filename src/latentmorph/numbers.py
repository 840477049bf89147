"""One validator set for every numeric option, shared by the CLI (argparse ``type=``) and the API.

A NaN that slips into a sample rate or a ratio can make C code spin forever (soxr with a
NaN ratio never returns and ignores Ctrl-C); a 0 that means "no limit" silently turns a
safety limit off. Every number a user gives goes through :func:`check_number` with the
range in :data:`RANGES`, so the CLI and ``latentmorph.transfer(...)`` refuse the same
values with the same one-line message.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from latentmorph.errors import LatentmorphError


class OptionError(LatentmorphError):
    """A numeric option that is not a number, not finite, or out of its range."""


@dataclass(frozen=True)
class Range:
    """Allowed values of one option: ``lo <= x <= hi`` (``lo < x`` when ``lo_open``)."""

    lo: float | None = None
    hi: float | None = None
    integer: bool = False
    lo_open: bool = False

    def describe(self) -> str:
        kind = "an integer" if self.integer else "a number"
        if self.lo is not None and self.hi is not None:
            if self.lo_open:
                return f"{kind} above {_fmt(self.lo)} and at most {_fmt(self.hi)}"
            return f"{kind} from {_fmt(self.lo)} to {_fmt(self.hi)}"
        if self.lo is not None:
            return f"{kind} {'above' if self.lo_open else 'at least'} {_fmt(self.lo)}"
        if self.hi is not None:
            return f"{kind} at most {_fmt(self.hi)}"
        return f"a finite {'integer' if self.integer else 'number'}"


def _fmt(x: float) -> str:
    return f"{int(x)}" if float(x).is_integer() else f"{x:g}"


#: Lowest and highest sample rate accepted anywhere (options, file headers, codec specs).
MIN_SAMPLE_RATE = 4000
MAX_SAMPLE_RATE = 384000

#: Ranges of the options the commands and :func:`latentmorph.transfer` take. Keys are
#: the Python keyword names; the CLI flag is the same with ``-`` for ``_``.
RANGES: dict[str, Range] = {
    "sr": Range(MIN_SAMPLE_RATE, MAX_SAMPLE_RATE, integer=True),
    "out_sr": Range(MIN_SAMPLE_RATE, MAX_SAMPLE_RATE, integer=True),
    "seed": Range(0, 2**32 - 1, integer=True),
    "k": Range(1, 4096, integer=True),
    "window": Range(1, 4096, integer=True),
    "stride": Range(1, 4096, integer=True),
    "avoid_repeat": Range(0, 10**6, integer=True),
    "temperature": Range(0, 1000, lo_open=True),
    "continuity": Range(0, 1e6),
    "keep_source_threshold": Range(-1e6, 1e6),  # per metric: transfer.settings.THRESHOLD_RANGES
    "strength": Range(0, 1),
    "wet": Range(0, 1),
    "max_seconds": Range(0, 1e7, lo_open=True),
    "lock_timeout": Range(0, 1e7),
    "pitch_shift": Range(-48, 48),
    "gain_db": Range(-60, 24),
    "workers": Range(1, 1024, integer=True),
    # diffusion (train / generate / restyle / timbre-map)
    "train_steps": Range(1, 10**9, integer=True),
    "minutes": Range(0, 1e6, lo_open=True),
    "sample_steps": Range(1, 10000, integer=True),
    "seconds": Range(0, 3600, lo_open=True),
    "bpm": Range(20, 400),
    "guidance": Range(-100, 100),
    "guidance_structure": Range(0, 100),
    "guidance_timbre": Range(0, 100),
    "threads": Range(1, 1024, integer=True),
    "segment": Range(0, 3600, lo_open=True),
    # streaming, export, live, ui
    "channels": Range(1, 64, integer=True),
    "block": Range(1, 1 << 20, integer=True),
    "lag": Range(0, 256, integer=True),
    "live_seconds": Range(0, 1e7),
    "port": Range(0, 65535, integer=True),
    "max_upload_mb": Range(0, 1e6, lo_open=True),
    "concurrency": Range(1, 64, integer=True),
    "queue_size": Range(1, 10000, integer=True),
}


def check_number(name: str, value: Any, rng: Range | None = None) -> int | float:
    """Return ``value`` as an int/float inside ``rng`` (default ``RANGES[name]``) or raise :class:`OptionError`.

    ``name`` is used in the message, so pass the spelling the user typed (``--sr``).
    Strings are parsed (``"nan"``, ``"1e3"``); booleans are refused.
    """
    key = name.lstrip("-").replace("-", "_")
    rng = rng or RANGES[key]
    shown = value if isinstance(value, str) else repr(value)
    if isinstance(value, bool):
        raise OptionError(f"{name}: expected {rng.describe()}, got {shown}")
    try:
        x = float(value)
    except (TypeError, ValueError, OverflowError):
        raise OptionError(f"{name}: expected {rng.describe()}, got {shown}") from None
    if not math.isfinite(x):
        raise OptionError(f"{name}: expected {rng.describe()}, got {shown} (not a finite number)")
    if rng.integer:
        if not x.is_integer():
            raise OptionError(f"{name}: expected {rng.describe()}, got {shown}")
        # big integers given as text keep their exact value
        x = int(value) if isinstance(value, str) and value.strip().lstrip("+-").isdigit() else int(x)
    low_bad = rng.lo is not None and (x <= rng.lo if rng.lo_open else x < rng.lo)
    high_bad = rng.hi is not None and x > rng.hi
    if low_bad or high_bad:
        raise OptionError(f"{name}: expected {rng.describe()}, got {shown}")
    return x


def check_options(values: dict[str, Any]) -> dict[str, Any]:
    """Check every entry of ``values`` whose name has a range (``None`` means "not given")."""
    out = dict(values)
    for key, value in values.items():
        if key in RANGES and value is not None:
            out[key] = check_number(key, value)
    return out
