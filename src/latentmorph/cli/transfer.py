"""``latentmorph transfer``: make a source take on a corpus's character."""

from __future__ import annotations

import argparse
from pathlib import Path

from latentmorph.cli.common import add_codec_option, add_force_option, add_max_seconds_option, codec_from_args, number

DESCRIPTION = """\
Latent granular transfer: encode the source, find for every ~23 ms frame the corpus
grains whose latents are closest, and play those grains (or decode them), following
the source's loudness. The corpus is an index (`latentmorph index`) or audio files and
folders (indexed into a cache on first use, reused afterwards).

Default sound: a Viterbi search over the 8 nearest grains per frame that prefers
playing on through the corpus in order (--continuity 2) and never reuses a grain
within 8 frames, grains overlap-added with power-complementary crossfades, loudness
following on, 100% wet. `--preset reference` is the baseline: independent nearest-
neighbour picks, decoded by the codec, 20% dry. See docs/transfer.md for every option.

examples:
  latentmorph transfer voice.wav --corpus rain/ -o voice_rain.wav
  latentmorph transfer drums.wav --index wind.lmindex -o out.wav --continuity 3 --window 4 --stride 2
  latentmorph transfer guitar.wav --corpus bells.wav -o out.wav --mode sample --seed 7 --report out.json --plot out.png
  latentmorph transfer voice.wav --corpus rain/ -o ref.wav --preset reference
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "transfer",
        help="make a sound take on the character of a corpus (latent granular transfer)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", metavar="SOURCE", help="the sound to transform (wav, flac, ogg, aiff, mp3; mono or stereo)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--corpus", nargs="+", metavar="DIR_OR_FILES", help="corpus audio files/folders (index cached in $LATENTMORPH_CACHE_DIR or ~/.cache/latentmorph)")
    src.add_argument("--index", metavar="NAME.lmindex", help="a corpus index made by `latentmorph index`")
    p.add_argument("-o", "--output", required=True, metavar="OUT.wav", help="output audio file (.wav, .flac, .ogg, .aiff)")
    from latentmorph.transfer.settings import PRESETS

    p.add_argument("--preset", choices=list(PRESETS), default="default",
                   help="starting settings; flags you give override them (reference = nearest, decode, no loudness "
                        "follow, 20%% dry; the others are docs/transfer.md#presets)")
    groups = {"matching": p.add_argument_group("matching"), "rendering": p.add_argument_group("rendering")}
    for name in OPTIONS:
        _add_option(groups[GROUP.get(name, "matching")], name)
    o = p.add_argument_group("inspection and codec")
    o.add_argument("--report", metavar="OUT.json", help="write which corpus file/time every output frame came from, with distances")
    o.add_argument("--plot", metavar="OUT.png", help="draw source, output and corpus-usage spectrograms (needs matplotlib)")
    add_codec_option(o, default=None, codec_help="codec for --corpus (default embedded; with --index the index's codec)")
    o.add_argument("--quiet", action="store_true", help="no progress bar, no summary line")
    add_max_seconds_option(p)
    add_force_option(p)
    p.set_defaults(func=run)


#: transfer() keywords the CLI offers: every TransferSettings field.
def _fields() -> tuple[str, ...]:
    from latentmorph.transfer.settings import FIELDS

    return FIELDS


OPTIONS: tuple[str, ...] = _fields()

#: Flag spelling where it is not ``--NAME`` with ``-`` for ``_``.
FLAGS: dict[str, list[str]] = {"k": ["-k", "--k"], "out_sr": ["--sr"], "grain_filter": ["--all-grains"],
                                "follow_loudness": ["--follow-loudness"], "transients": ["--transients"]}
#: Options listed under "rendering" in --help (the others under "matching").
GROUP = {n: "rendering" for n in ("render", "follow_loudness", "transients", "wet", "out_sr")}
#: Help beyond the settings' own line, for a few flags.
EXTRA_HELP = {
    "keep_source_threshold": " (docs/transfer.md#keep-source)",
}


class _Names:
    """The allowed names of a choice option, read from their registry on first use (at parse
    time, not when the parser is built: the search registries import torch)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def _names(self) -> tuple[str, ...]:
        from latentmorph.transfer.settings import choices

        return choices()[self.name]

    def __contains__(self, value: object) -> bool:
        return value in self._names()

    def __iter__(self):  # noqa: ANN204
        return iter(self._names())


#: Choice options whose names come from a registry that is cheap to import (shown in usage).
_LIGHT = {"mode": "latentmorph.transfer.match:MATCHERS", "render": "latentmorph.transfer.render:RENDERERS",
          "normalize": "latentmorph.transfer.space:NORMALIZE"}


def _choice_names(name: str) -> list[str] | _Names:
    if name not in _LIGHT:
        return _Names(name)
    import importlib

    module, attr = _LIGHT[name].split(":")
    return list(getattr(importlib.import_module(module), attr))


def _add_option(group: argparse._ArgumentGroup, name: str) -> None:
    """One flag for TransferSettings field ``name``: choices, range and default from the settings."""
    from latentmorph.transfer.settings import CHOICE_FIELDS, DEFAULTS, HELP

    flags = FLAGS.get(name, ["--" + name.replace("_", "-")])
    default = DEFAULTS[name]
    shown = {None: "none", True: "on", False: "off"}[default] if default is None or isinstance(default, bool) else default
    text = (HELP[name] + EXTRA_HELP.get(name, "")).replace("%", "%%")  # argparse formats help with %
    if name == "grain_filter":  # on by default: the flag turns it off
        group.add_argument(*flags, dest=name, action="store_false", default=None,
                           help="also match file-edge and near-silent corpus grains (skipped by default: they click or leave holes)")
    elif name == "follow_loudness":
        group.add_argument(*flags, dest=name, action="store_true", default=None, help=f"{text} (default {shown})")
        group.add_argument("--no-follow-loudness", dest=name, action="store_false", help="keep the grains' own loudness")
    elif name == "transients":
        group.add_argument(*flags, dest=name, action="store_true", default=None, help=f"{text} (default {shown})")
        group.add_argument("--no-transients", dest=name, action="store_false",
                           help="leave the render's own attacks (no transient shaping)")
    elif name in CHOICE_FIELDS:
        names = _choice_names(name)
        group.add_argument(*flags, dest=name, choices=names, metavar=None if isinstance(names, list) else name.upper(),
                           help=f"{text} (default {shown})")
    else:
        meta = {"avoid_repeat": "FRAMES", "keep_source_threshold": "D"}.get(name)
        group.add_argument(*flags, dest=name, type=number(name), metavar=meta, help=f"{text} (default {shown})")


def settings_from_args(args: argparse.Namespace) -> dict:
    """transfer() keywords: the preset's values, overridden by every flag given."""
    from latentmorph.transfer.settings import PRESETS

    kwargs = dict(PRESETS[args.preset])
    for name in OPTIONS:
        value = getattr(args, name, None)
        if value is not None:
            kwargs[name] = value
    return kwargs


def guard(args: argparse.Namespace) -> None:
    """Refuse outputs that are inputs, each other, files of another kind, or unwritable (before any work)."""
    from latentmorph.outputs import Input, Output, guard_outputs

    outputs = [Output(Path(args.output), "-o", "audio")]
    if args.report:
        outputs.append(Output(Path(args.report), "--report", "report"))
    if args.plot:
        outputs.append(Output(Path(args.plot), "--plot", "png"))
    inputs = [Input(Path(args.source))]
    if args.index:
        inputs.append(Input(Path(args.index), tree=True))
    for c in args.corpus or []:
        inputs.append(Input(Path(c), tree=Path(c).is_dir()))
    if args.weights:
        inputs.append(Input(Path(args.weights)))
    guard_outputs(outputs, inputs, force=args.force)
    from latentmorph.audio import info
    from latentmorph.outputs import check_space

    sr, channels, frames = info(args.source)
    out_frames = frames * (args.out_sr or sr) / sr
    check_space(outputs[0], int(out_frames * channels * 2) + (1 << 20))  # 16-bit PCM (FLAC/OGG are smaller)


def run(args: argparse.Namespace) -> int:
    from latentmorph import api
    from latentmorph.audio import check_output_path, load, save

    check_output_path(args.output)
    guard(args)
    if args.plot:
        import importlib.util

        from latentmorph.errors import LatentmorphError

        if importlib.util.find_spec("matplotlib") is None:  # say so before the work, not after it
            raise LatentmorphError(f"{args.plot}: --plot needs matplotlib: pip install 'latentmorph[plot]'")
    codec = codec_from_args(args, default=None)  # --weights alone implies its codec
    wave, sr = load(args.source, max_seconds=args.max_seconds)
    kwargs = settings_from_args(args)
    want_result = bool(args.report or args.plot)
    corpus_arg = dict(index=args.index) if args.index else dict(corpus=args.corpus)
    res = api.transfer(wave, sr, **corpus_arg, codec=codec, return_report=want_result, progress=not args.quiet, **kwargs)
    out, out_sr = res[0], res[1]
    save(args.output, out, out_sr)
    if args.report:
        api.write_transfer_report(args.report, res[2], source_name=str(args.source))
    if args.plot:
        api.plot_transfer(args.plot, res[2], title=f"{Path(args.source).name} -> {args.output}")
    if not args.quiet:
        extra = "".join(f", {k} {v}" for k, v in (("report", args.report), ("plot", args.plot)) if v)
        print(f"{args.output}: {out.shape[-1] / out_sr:.2f} s, {out.shape[0] if out.ndim == 2 else 1} channel(s), {out_sr} Hz{extra}")
    return 0


__all__ = ["add_parser", "run", "settings_from_args"]
