"""``latentmorph generate``: generate audio with a trained diffusion model."""

from __future__ import annotations

import argparse

from latentmorph.cli.gen_common import add_render_options, check_paths, load_timbre, parse_point, report
from latentmorph.cli.common import number

DESCRIPTION = """\
Generate audio with a model made by `latentmorph train`: start from noise and follow the
learned flow for --steps Euler steps, steered by the conditions you give (only those the
model was trained with). --guidance w scales the pull of all given conditions (1 = plain
conditional, 0 = ignore them, 3 = default, stronger adherence).

examples:
  latentmorph generate loops.lmdiff -o beat.wav --seconds 8 --bpm 120
  latentmorph generate loops.lmdiff -o out.wav --seconds 4 --timbre-from bell.wav --guidance 4
  latentmorph generate loops.lmdiff -o out.wav --timbre=0.5,-1.0      (a point of `latentmorph timbre-map`)
  latentmorph generate loops.lmdiff -o out.wav --render grains --index loops.lmindex --seed 7
  latentmorph generate loops.lmdiff -o out.wav --text "dusty drum break" --clap ./clap-htsat
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="generate audio with a trained diffusion model",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", metavar="MODEL", help="a .lmdiff model file")
    p.add_argument("-o", "--output", required=True, metavar="OUT.wav", help="output audio file")
    p.add_argument("--seconds", type=number("seconds"), default=8.0, help="length in seconds (default 8)")
    p.add_argument("--bpm", type=number("bpm"), help="tempo in beats per minute (tempo models)")
    t = p.add_mutually_exclusive_group()
    t.add_argument("--timbre-from", metavar="FILE", help="take the timbre of this sound (timbre models)")
    t.add_argument("--timbre", metavar="X,Y", help="a point of the timbre map (write negatives as --timbre=-1,0.5)")
    p.add_argument("--text", help="a text prompt (clap models; needs --clap)")
    p.add_argument("--clap", metavar="FOLDER", help="local CLAP model folder for --text")
    p.add_argument("--guidance", type=number("guidance"), default=3.0, help="classifier-free guidance weight (default 3)")
    add_render_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from latentmorph import api

    check_paths(args.output, args.model, args.timbre_from, index=args.index, clap=args.clap, force=args.force)
    timbre = parse_point(args.timbre) if args.timbre else None
    out, sr = api.generate(args.model, seconds=args.seconds, bpm=args.bpm, timbre=timbre,
                           timbre_from=load_timbre(args.timbre_from), text=args.text, clap=args.clap,
                           guidance=args.guidance, steps=args.steps, seed=args.seed, render=args.render,
                           index=args.index, sr=args.sr, progress=not args.quiet, threads=args.threads,
                           timbre_name=args.timbre_from)
    from latentmorph.audio import save

    save(args.output, out, sr)
    report(args, out, sr)
    return 0
