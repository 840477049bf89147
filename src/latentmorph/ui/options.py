"""Every ``transfer()`` option as a control: kind, range, default and one line of help.

Names, choices, defaults and presets come from ``latentmorph.transfer.settings``
(:class:`~latentmorph.transfer.settings.TransferSettings`, the same source as
``latentmorph transfer``'s flags); this module adds only what a control needs (kind,
slider bounds, a short help line). The page builds one slider/dropdown/checkbox per
:class:`Option` and turns their values back into ``transfer()`` keywords with
:func:`settings`, leaving out mode-specific options that the chosen mode does not read
and that sit at their default (so only a control the user moved is reported as ignored).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from latentmorph.errors import LatentmorphError


@dataclass(frozen=True)
class Option:
    """One transfer keyword as a control.

    Attributes:
        name: the ``transfer()`` keyword.
        label: the control's label (the CLI flag).
        kind: ``"choice"``, ``"int"``, ``"float"`` or ``"bool"``.
        default: the engine's default (``None``: "off"/"per codec").
        help: one line shown under the control.
        choices: for ``choice``.
        lo, hi, step: for ``int``/``float`` sliders.
    """

    name: str
    label: str
    kind: str
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    lo: float = 0.0
    hi: float = 1.0
    step: float = 0.01


#: Marker for "the codec's choice" / "off" in dropdowns.
AUTO = "auto"

#: What the page adds to each TransferSettings field: control kind, one line of help and
#: slider bounds (names, choices and defaults come from ``latentmorph.transfer.settings``).
#: Fields left out (``out_sr``: the page keeps the source's rate) are not shown.
_CONTROLS: tuple[tuple[str, str, str, float, float, float], ...] = (
    ("mode", "choice", "viterbi: continuity search; nearest: best grain per frame; soft: blend the top-k; sample: draw one of the top-k", 0, 1, 0),
    ("metric", "choice", "similarity of latent frames: cosine = spectral shape, l2 = also size of the difference, dot = favours strong colours", 0, 1, 0),
    ("normalize", "choice", "both: map the source's colours onto the corpus's range; corpus: stay nearer the source's timbre; none: raw latents", 0, 1, 0),
    ("k", "int", "candidates per frame: more = more freedom for viterbi/soft/sample, slower", 1, 64, 1),
    ("search", "choice", "candidate search: exact, or FAISS ivf/hnsw (approximate, for very large corpora); auto is exact up to 1,000,000 grains", 0, 1, 0),
    ("temperature", "float", "softness of soft blends / sample draws: 0.1 is almost nearest, 2 is near-uniform", 0.05, 4.0, 0.05),
    ("seed", "int", "random seed for sample mode: same seed, same output", 0, 9999, 1),
    ("window", "int", "match windows of N frames (a gesture, not one spectrum): longer corpus phrases, looser following", 1, 16, 1),
    ("stride", "int", "start a window every N frames", 1, 16, 1),
    ("continuity", "float", "viterbi: cost of jumping instead of playing on through the corpus; 0 = jump freely, 4 = long phrases", 0.0, 8.0, 0.1),
    ("avoid_repeat", "int", "viterbi: do not reuse a grain within this many frames; 0 allows stutters", 0, 64, 1),
    ("keep_source_threshold", "float", "keep the source where the chosen grain is farther than this cosine distance (0 = never; chosen grains sit at 0.6-0.85)", 0.0, 2.0, 0.05),
    ("strength", "float", "0 = the source, 1 = the matched grains", 0.0, 1.0, 0.05),
    ("grain_filter", "bool", "never pick file-edge and near-silent corpus grains (they click or leave holes)", 0, 1, 0),
    ("render", "choice", "grains: overlap-add the corpus's own audio; decode: the codec's decoder; auto: per codec", 0, 1, 0),
    ("follow_loudness", "bool", "the output follows the source's loudness envelope", 0, 1, 0),
    ("transients", "bool", "onsets land where the source's do: the top of the spectrum holds still between its attacks", 0, 1, 0),
    ("wet", "float", "dry/wet mix with the source (latency-aligned)", 0.0, 1.0, 0.05),
)
#: The control value that stands for a ``None`` default ("per codec", "never", "no seed").
_OFF = {"render": AUTO, "keep_source_threshold": 0.0, "seed": 0}
#: Labels that are not the CLI flag.
_LABELS = {"k": "-k", "grain_filter": "skip edge/silent grains (not --all-grains)"}


def _option(name: str, kind: str, help: str, lo: float, hi: float, step: float) -> Option:  # noqa: A002
    from latentmorph.transfer.settings import DEFAULTS, choices as CHOICES

    default = DEFAULTS[name]
    if default is None:
        default = _OFF[name]
    choices: tuple[str, ...] = ()
    if kind == "choice":
        allowed = CHOICES()[name]
        choices = ((AUTO,) if name == "render" else ()) + tuple(sorted(allowed, key=lambda c: c != default))
    label = _LABELS.get(name, "--" + name.replace("_", "-"))
    if kind == "choice" or kind == "bool":
        return Option(name, label, kind, default, help, choices)
    return Option(name, label, kind, default, help, lo=lo, hi=hi, step=step)


OPTIONS: tuple[Option, ...] = tuple(_option(*row) for row in _CONTROLS)


def _presets() -> dict[str, dict[str, Any]]:
    """The engine's presets (``latentmorph.transfer.settings.PRESETS``), as control values."""
    from latentmorph.transfer.settings import PRESETS as ENGINE

    return {name: {k: (_OFF.get(k, v) if v is None else v) for k, v in over.items()} for name, over in ENGINE.items()}


#: Named starting points: the engine's presets (``--preset``).
PRESETS: dict[str, dict[str, Any]] = _presets()


def by_name() -> dict[str, Option]:
    return {o.name: o for o in OPTIONS}


def preset_values(name: str) -> list[Any]:
    """Control values (in :data:`OPTIONS` order) for a preset: the defaults, then its overrides."""
    if name not in PRESETS:
        raise LatentmorphError(f"unknown preset {name!r}; use one of {', '.join(PRESETS)}")
    over = PRESETS[name]
    return [over.get(o.name, o.default) for o in OPTIONS]


def settings(values: Sequence[Any]) -> dict[str, Any]:
    """``transfer()`` keywords from control values (in :data:`OPTIONS` order), checked.

    Raises:
        LatentmorphError: a value outside its control's range or choices (a crafted request).
    """
    if len(values) != len(OPTIONS):
        raise LatentmorphError(f"expected {len(OPTIONS)} option values, got {len(values)}")
    out: dict[str, Any] = {}
    for o, v in zip(OPTIONS, values):
        if v is None:
            v = o.default
        if o.kind == "choice":
            if v not in o.choices:
                raise LatentmorphError(f"{o.label}: {v!r} is not one of {', '.join(o.choices)}")
        elif o.kind == "bool":
            v = bool(v)
        else:
            try:
                v = int(round(float(v))) if o.kind == "int" else float(v)
            except (TypeError, ValueError):
                raise LatentmorphError(f"{o.label}: {v!r} is not a number") from None
            if not (o.lo <= v <= o.hi):
                raise LatentmorphError(f"{o.label}: {v} is outside {o.lo:g}..{o.hi:g}")
        out[o.name] = v
    if out["render"] == AUTO:
        out["render"] = None
    if not out["keep_source_threshold"]:
        out["keep_source_threshold"] = None
    from latentmorph.transfer.match import MATCHERS
    from latentmorph.transfer.settings import MODE_OPTIONS

    reads = MATCHERS[out["mode"]].options
    defaults = {o.name: o.default for o in OPTIONS}
    for name in MODE_OPTIONS - set(reads):
        if name in out and out[name] == defaults[name]:
            del out[name]  # untouched control of an option this mode does not read
    return out


__all__ = ["AUTO", "OPTIONS", "Option", "PRESETS", "by_name", "preset_values", "settings"]
