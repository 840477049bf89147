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
    p.add_argument("--preset", choices=["default", "reference"], default="default",
                   help="starting settings; flags you give override them (reference = nearest, decode, no loudness follow, 20%% dry)")
    m = p.add_argument_group("matching")
    m.add_argument("--metric", choices=["cosine", "l2", "dot"], help="similarity between latent frames (default cosine)")
    m.add_argument("--mode", choices=["nearest", "soft", "sample", "viterbi"],
                   help="nearest: best grain per frame (reference); soft: blend the top-k; sample: draw one of the "
                        "top-k (--seed); viterbi: continuity search (default)")
    m.add_argument("-k", "--k", type=number("k"), help="candidates per frame (default 8)")
    m.add_argument("--search", choices=["auto", "exact", "ivf", "hnsw"],
                   help="candidate search: exact, or FAISS ivf/hnsw (approximate, needs latentmorph[ann]); "
                        "auto (default) is exact up to 1,000,000 corpus grains and ivf above (docs/scale.md)")
    m.add_argument("--temperature", type=number("temperature"), help="softness of soft/sample weights; higher = more even blends/wilder draws (default 0.5)")
    m.add_argument("--seed", type=number("seed"), help="random seed for --mode sample: same seed, same output")
    m.add_argument("--window", type=number("window"), help="match windows of N frames instead of single frames (default 1)")
    m.add_argument("--stride", type=number("stride"), help="start a window every N frames (default 1)")
    m.add_argument("--continuity", type=number("continuity"), help="viterbi: cost of jumping instead of playing on through the corpus; 0 = jump freely, 4 = long phrases (default 2)")
    m.add_argument("--avoid-repeat", type=number("avoid_repeat"), metavar="FRAMES", help="viterbi: do not reuse a grain within this many frames; 0 allows stutters (default 8)")
    m.add_argument("--keep-source-threshold", type=number("keep_source_threshold"), metavar="D", help="keep the source where no grain is closer than D (cosine: 1 - similarity). Typical best matches "
                        "lie at 0.5-0.8 with the defaults: 0.75 keeps the worst-matched ~10%% of frames, 0.5 keeps ~90%% (most of the source)")
    m.add_argument("--strength", type=number("strength"), help="0..1 from the source (0) to the matched grains (1) (default 1)")
    m.add_argument("--normalize", choices=["corpus", "center", "both", "none"], help="matching-space scaling: both (default) standardises the corpus by its statistics and the source by its own, mapping the source's range of colours onto the corpus's; corpus scales the source by the corpus's statistics (stays nearer the source's timbre); center only removes the source's mean colour; none = raw latents (the reference)")
    m.add_argument("--all-grains", dest="grain_filter", action="store_false", default=None,
                   help="also match file-edge and near-silent corpus grains (skipped by default: they click or leave holes)")
    r = p.add_argument_group("rendering")
    r.add_argument("--render", choices=["grains", "decode"], help="grains: overlap-add corpus audio (embedded codec default); decode: codec decoder (music2latent default)")
    r.add_argument("--follow-loudness", dest="follow_loudness", action="store_true", default=None, help="the output follows the source's loudness envelope (default on)")
    r.add_argument("--no-follow-loudness", dest="follow_loudness", action="store_false", help="keep the grains' own loudness")
    r.add_argument("--wet", type=number("wet"), help="0..1 dry/wet mix, latency-aligned (default 1)")
    r.add_argument("--sr", type=number("out_sr"), dest="out_sr", help="output sample rate (default: the source's)")
    o = p.add_argument_group("inspection and codec")
    o.add_argument("--report", metavar="OUT.json", help="write which corpus file/time every output frame came from, with distances")
    o.add_argument("--plot", metavar="OUT.png", help="draw source, output and corpus-usage spectrograms (needs matplotlib)")
    add_codec_option(o, default=None, codec_help="codec for --corpus (default embedded; with --index the index's codec)")
    o.add_argument("--quiet", action="store_true", help="no progress bar, no summary line")
    add_max_seconds_option(p)
    add_force_option(p)
    p.set_defaults(func=run)


#: CLI option name -> transfer() keyword.
OPTIONS = ("metric", "mode", "k", "temperature", "seed", "window", "stride", "continuity", "avoid_repeat",
           "keep_source_threshold", "strength", "normalize", "grain_filter", "render", "follow_loudness", "wet", "out_sr", "search")


def settings_from_args(args: argparse.Namespace) -> dict:
    """transfer() keywords: the preset's values, overridden by every flag given."""
    from latentmorph.transfer import PRESETS

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
