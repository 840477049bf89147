"""Every ``transfer()`` option as a control: kind, range, default and one line of help.

The list mirrors ``latentmorph transfer``'s flags (``cli/transfer.py``) and
docs/transfer.md; the page builds one slider/dropdown/checkbox per :class:`Option` and
turns their values back into ``transfer()`` keywords with :func:`settings`.
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

OPTIONS: tuple[Option, ...] = (
    Option("mode", "--mode", "choice", "viterbi", "viterbi: continuity search; nearest: best grain per frame; soft: blend the top-k; sample: draw one of the top-k",
           ("viterbi", "nearest", "soft", "sample")),
    Option("metric", "--metric", "choice", "cosine", "similarity of latent frames: cosine = spectral shape, l2 = also size of the difference, dot = favours strong colours",
           ("cosine", "l2", "dot")),
    Option("normalize", "--normalize", "choice", "both", "both: map the source's colours onto the corpus's range; corpus: stay nearer the source's timbre; none: raw latents",
           ("both", "corpus", "center", "none")),
    Option("k", "-k", "int", 8, "candidates per frame: more = more freedom for viterbi/soft/sample, slower", lo=1, hi=64, step=1),
    Option("search", "--search", "choice", "auto", "candidate search: exact, or FAISS ivf/hnsw (approximate, for very large corpora); auto is exact up to 1,000,000 grains",
           ("auto", "exact", "ivf", "hnsw")),
    Option("temperature", "--temperature", "float", 0.5, "softness of soft blends / sample draws: 0.1 is almost nearest, 2 is near-uniform", lo=0.05, hi=4.0, step=0.05),
    Option("seed", "--seed", "int", 0, "random seed for sample mode: same seed, same output", lo=0, hi=9999, step=1),
    Option("window", "--window", "int", 1, "match windows of N frames (a gesture, not one spectrum): longer corpus phrases, looser following", lo=1, hi=16, step=1),
    Option("stride", "--stride", "int", 1, "start a window every N frames", lo=1, hi=16, step=1),
    Option("continuity", "--continuity", "float", 2.0, "viterbi: cost of jumping instead of playing on through the corpus; 0 = jump freely, 4 = long phrases", lo=0.0, hi=8.0, step=0.1),
    Option("avoid_repeat", "--avoid-repeat", "int", 8, "viterbi: do not reuse a grain within this many frames; 0 allows stutters", lo=0, hi=64, step=1),
    Option("keep_source_threshold", "--keep-source-threshold", "float", 0.0, "keep the source where no grain is closer than this distance (0 = never keep)", lo=0.0, hi=2.0, step=0.05),
    Option("strength", "--strength", "float", 1.0, "0 = the source, 1 = the matched grains", lo=0.0, hi=1.0, step=0.05),
    Option("grain_filter", "skip edge/silent grains (not --all-grains)", "bool", True, "never pick file-edge and near-silent corpus grains (they click or leave holes)"),
    Option("render", "--render", "choice", AUTO, "grains: overlap-add the corpus's own audio; decode: the codec's decoder; auto: per codec",
           (AUTO, "grains", "decode")),
    Option("follow_loudness", "--follow-loudness", "bool", True, "the output follows the source's loudness envelope"),
    Option("wet", "--wet", "float", 1.0, "dry/wet mix with the source (latency-aligned)", lo=0.0, hi=1.0, step=0.05),
)

#: Named starting points. ``default`` and ``reference`` are the engine's (``--preset``);
#: the others are combinations of documented options.
PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    "reference": {},  # filled from latentmorph.transfer.PRESETS below
    "long phrases": dict(mode="viterbi", continuity=4.0, window=4, stride=2),
    "grainy cloud": dict(mode="sample", k=16, temperature=1.0, avoid_repeat=0, continuity=0.0),
    "smooth blend": dict(mode="soft", k=4, temperature=0.5),
    "half wet": dict(wet=0.5, strength=1.0),
}


def _engine_presets() -> None:
    from latentmorph.transfer import PRESETS as ENGINE

    PRESETS["reference"] = dict(ENGINE["reference"])


_engine_presets()


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
    return out


__all__ = ["AUTO", "OPTIONS", "Option", "PRESETS", "by_name", "preset_values", "settings"]
