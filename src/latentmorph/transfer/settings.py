"""``TransferSettings``: every transfer option's default, its check, and the named presets.

One place owns what a transfer option is. ``transfer(..., **options)``, ``latentmorph
transfer``'s flags (``cli/transfer.py``), the web studio's controls (``ui/options.py``)
and the reports all derive their option lists, defaults and choices from the fields of
:class:`TransferSettings`, so a new option is one new field here (plus its use in the
engine and, for a number, its range in :data:`latentmorph.numbers.RANGES`).

Validation happens when a :class:`TransferSettings` is made (also through
:func:`dataclasses.replace`): numbers go through :func:`latentmorph.numbers.check_options`
(NaN, inf, range), names must be one of :func:`choices`, and a keep-source threshold must
make sense for the metric (see :data:`THRESHOLD_RANGES`). Every refusal is one line
(:class:`~latentmorph.errors.LatentmorphError`).

Options that only one matcher reads (``continuity``, ``avoid_repeat``: viterbi;
``temperature``: soft/sample; ``seed``: sample; ``k``: every mode but nearest) have no
effect with another ``mode``; :meth:`TransferSettings.ignored` names the ones a caller
set anyway, and ``transfer()`` warns about them (:class:`IgnoredOptionWarning`; the CLI
prints it as one ``latentmorph: warning:`` line) instead of ignoring them silently.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from functools import cache

from latentmorph.errors import LatentmorphError
from latentmorph.numbers import check_options
from latentmorph.transfer.match import MATCHERS
from latentmorph.transfer.render import RENDERERS
from latentmorph.transfer.space import NORMALIZE


class IgnoredOptionWarning(UserWarning):
    """An option was set that the chosen ``mode`` does not read (it has no effect)."""


def _opt(default: Any, help: str) -> Any:  # noqa: A002
    """A settings field with its one-line help (used by the CLI and the docs)."""
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class TransferSettings:
    """What a transfer does, option by option (the defaults are ``transfer()``'s).

    Made directly (``TransferSettings(mode="sample", seed=3)``), from a preset
    (:meth:`preset`) or from another (``dataclasses.replace(s, k=4)``); every way checks
    every field. Frozen: a settings object can be shared between transfers and threads.
    """

    metric: str = _opt("cosine", "similarity between latent frames in the matching space: cosine, l2 or dot")
    mode: str = _opt("viterbi", "nearest: best grain per frame (reference); soft: blend the top-k; sample: draw one "
                                "of the top-k (seed); viterbi: continuity search")
    k: int = _opt(8, "candidates per frame from the search (not used by nearest)")
    temperature: float = _opt(0.5, "soft/sample: softness of the weights; higher = more even blends, wilder draws")
    seed: int | None = _opt(None, "sample: random seed; same seed, same output")
    window: int = _opt(1, "match windows of N frames instead of single frames")
    stride: int = _opt(1, "start a window every N frames")
    continuity: float = _opt(2.0, "viterbi: cost of jumping instead of playing on through the corpus; "
                                  "0 = jump freely, 4 = long phrases")
    avoid_repeat: int = _opt(8, "viterbi: do not reuse a grain within this many frames; 0 allows stutters")
    keep_source_threshold: float | None = _opt(
        None, "keep the source frame where the chosen grain is farther than this distance (default never). "
              "cosine: 1 - similarity (0..2; with the defaults chosen grains sit at 0.6-0.85, so 0.85 keeps about "
              "the farthest 10% of frames and 0.5 keeps nearly all); l2: RMS difference per standardised "
              "dimension (>= 0); dot: minus the dot product per dimension, so distances are NEGATIVE (about -0.45 "
              "to -0.1; -0.15 keeps about the farthest 10%)")
    strength: float = _opt(1.0, "0..1 from the source (0) to the matched grains (1)")
    render: str | None = _opt(None, "grains: overlap-add corpus audio; decode: the codec's decoder; None = the "
                                    "codec's default_render (embedded: grains, music2latent: decode)")
    follow_loudness: bool = _opt(True, "the output follows the source's loudness envelope")
    transients: bool = _opt(True, "the top of the output's spectrum holds still between the source's attacks and "
                                  "attacks on them, so onsets land where the source's do (docs/transfer.md)")
    wet: float = _opt(1.0, "0..1 dry/wet mix with the source, latency-aligned")
    out_sr: int | None = _opt(None, "output sample rate (None = the source's)")
    normalize: str = _opt("both", "matching-space scaling: both standardises the corpus by its statistics and the "
                                  "source by its own; corpus scales the source by the corpus's statistics; center "
                                  "only removes the source's mean; none = raw latents (the reference)")
    grain_filter: bool = _opt(True, "never match file-edge and near-silent corpus grains (they click or leave holes)")
    search: str = _opt("auto", "candidate search: exact, or FAISS ivf/hnsw (approximate, needs latentmorph[ann]); "
                               "auto is exact up to a size and ivf above (docs/scale.md)")

    def __post_init__(self) -> None:
        for name, allowed in choices().items():
            value = getattr(self, name)
            if value is None and name in NULLABLE:
                continue
            if not isinstance(value, str) or value not in allowed:
                raise LatentmorphError(f"{name} {value!r}: use one of {', '.join(allowed)}")
        for name in BOOLEANS:
            value = getattr(self, name)
            if type(value).__name__ not in ("bool", "bool_") and value not in (0, 1):
                raise LatentmorphError(f"{name}: expected True or False, got {value!r}")
            object.__setattr__(self, name, bool(value))
        numbers = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                   if f.name not in CHOICE_FIELDS and f.name not in BOOLEANS}
        for name, value in check_options(numbers).items():
            object.__setattr__(self, name, value)
        if self.keep_source_threshold is not None:
            lo, hi = THRESHOLD_RANGES[self.metric]
            if not lo <= self.keep_source_threshold <= hi:
                raise LatentmorphError(
                    f"keep_source_threshold {self.keep_source_threshold:g}: {self.metric} distances are at least "
                    f"{lo:g}" + ("; negative thresholds are for metric dot (close = negative)"
                                            if self.keep_source_threshold < 0 else ""))

    # ---- making one -----------------------------------------------------------------
    @classmethod
    def preset(cls, name: str, **overrides: Any) -> "TransferSettings":
        """The settings of preset ``name`` (see :data:`PRESETS`), with ``overrides`` on top."""
        if name not in PRESETS:
            raise LatentmorphError(f"preset {name!r}: use one of {', '.join(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})

    def replace(self, **changes: Any) -> "TransferSettings":
        """A copy with ``changes`` (checked); unknown names are refused in one line."""
        unknown = sorted(set(changes) - set(FIELDS))
        if unknown:
            raise LatentmorphError(f"unknown transfer option(s) {', '.join(unknown)}; options are {', '.join(FIELDS)}")
        return dataclasses.replace(self, **changes)

    # ---- reading one ----------------------------------------------------------------
    def as_dict(self) -> dict[str, Any]:
        """``{field: value}`` in field order (what reports store as ``settings``)."""
        return {name: getattr(self, name) for name in FIELDS}

    def changed(self) -> set[str]:
        """Fields whose value differs from the default."""
        return {name for name in FIELDS if getattr(self, name) != DEFAULTS[name]}

    def ignored(self, given: set[str] | None = None) -> list[str]:
        """Options set (``given``, default :meth:`changed`) that ``mode`` does not read, in field order."""
        given = self.changed() if given is None else set(given)
        reads = MATCHERS[self.mode].options
        return [n for n in FIELDS if n in given and n in MODE_OPTIONS and n not in reads]


#: Options whose value is a name from a registry.
CHOICE_FIELDS = ("metric", "mode", "render", "normalize", "search")


@cache
def choices() -> dict[str, tuple[str, ...]]:
    """Allowed names of each choice option; the registries own them (``corpus.search.METRICS``,
    ``match.MATCHERS``, ``render.RENDERERS``, ``space.NORMALIZE``, ``corpus.ann.METHODS``).

    A function, not a constant: the search modules may import torch, which reading the
    option list (every CLI start) must not.
    """
    from latentmorph.corpus.ann import METHODS
    from latentmorph.corpus.search import METRICS

    return {"metric": tuple(METRICS), "mode": tuple(MATCHERS), "render": tuple(RENDERERS),
            "normalize": tuple(NORMALIZE), "search": tuple(METHODS)}


def __getattr__(name: str) -> Any:
    if name == "CHOICES":  # the mapping above, for readers that want a constant
        return choices()
    raise AttributeError(f"module 'latentmorph.transfer.settings' has no attribute {name!r}")
#: Choice options where ``None`` is allowed (it means "per codec").
NULLABLE = ("render",)
BOOLEANS = ("follow_loudness", "transients", "grain_filter")

#: Range of a keep-source threshold per metric: the range of that metric's distance
#: (``transfer.search.score_to_distance``): cosine ``1 - similarity``, l2 RMS difference
#: per dimension, dot ``-dot / dims`` (close matches have large dot products, so their
#: distances are negative).
#: (Cosine distances stop at 2; a larger threshold is allowed and never keeps the source.)
THRESHOLD_RANGES: dict[str, tuple[float, float]] = {"cosine": (0.0, 1e6), "l2": (0.0, 1e6), "dot": (-1e6, 1e6)}

#: Field names, in order, and their defaults.
FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(TransferSettings))
DEFAULTS: dict[str, Any] = {f.name: f.default for f in dataclasses.fields(TransferSettings)}
#: One line of help per field.
HELP: dict[str, str] = {f.name: f.metadata["help"] for f in dataclasses.fields(TransferSettings)}
#: Options only some matchers read (each matcher lists the ones it reads).
MODE_OPTIONS: frozenset[str] = frozenset().union(*(m.options for m in MATCHERS.values()))

#: Named settings (overrides of the defaults). ``default`` is ``transfer()`` with no
#: options; ``reference`` is the baseline workflow (independent nearest-neighbour picks,
#: decoded, 20 % dry, raw latents, every grain); the others are starting points built
#: from documented options.
PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    "reference": dict(mode="nearest", render="decode", follow_loudness=False, transients=False, wet=0.8, window=1,
                      stride=1, normalize="none", grain_filter=False),
    "long-phrases": dict(mode="viterbi", continuity=4.0, window=4, stride=2),
    "grainy-cloud": dict(mode="sample", k=16, temperature=1.0),
    "smooth-blend": dict(mode="soft", k=4, temperature=0.5),
    "half-wet": dict(wet=0.5),
}

__all__ = ["CHOICE_FIELDS", "DEFAULTS", "FIELDS", "HELP", "IgnoredOptionWarning", "PRESETS", "THRESHOLD_RANGES",
           "TransferSettings", "choices"]
