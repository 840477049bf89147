"""``latentmorph restyle``: keep a sound's (or a MIDI file's) structure, give it another timbre."""

from __future__ import annotations

import argparse
from pathlib import Path

from latentmorph.cli.gen_common import add_render_options, check_paths, load_timbre, parse_point, report
from latentmorph.cli.common import number

DESCRIPTION = """\
Restyle with a model made by `latentmorph train`: SOURCE gives the structure (what happens
when) and --timbre-from TARGET the timbre. SOURCE is audio (read by the model's structure
encoder; models trained with the structure condition) or a .mid file (its piano roll;
models trained with midi: MIDI-to-audio). Dual guidance weighs the two:
  dx = dx_none + (S+T)/2 * [dx_struct + T/max(S,0.1) * (dx_full - dx_struct) - dx_none]
--guidance-structure S (default 1) holds the source's structure, --guidance-timbre T
(default 3) pulls towards the target's timbre.

examples:
  latentmorph restyle loops.lmdiff drums.wav -o drums_as_bells.wav --timbre-from bells.wav
  latentmorph restyle loops.lmdiff voice.wav -o out.wav --timbre-from rain.wav --guidance-structure 2 --guidance-timbre 4
  latentmorph restyle piano.lmdiff song.mid -o song.wav --timbre-from piano_note.wav
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("restyle", help="keep a sound's or a MIDI file's structure, take another sound's timbre",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", metavar="MODEL", help="a .lmdiff model file")
    p.add_argument("source", metavar="SOURCE", help="audio file, or a .mid file")
    p.add_argument("-o", "--output", required=True, metavar="OUT.wav", help="output audio file")
    t = p.add_mutually_exclusive_group(required=True)
    t.add_argument("--timbre-from", metavar="TARGET", help="the sound whose timbre to take")
    t.add_argument("--timbre", metavar="X,Y", help="a point of the timbre map instead (write negatives as --timbre=-1,0.5)")
    p.add_argument("--guidance-structure", type=number("guidance_structure"), default=1.0, metavar="S", help="structure guidance S (default 1)")
    p.add_argument("--guidance-timbre", type=number("guidance_timbre"), default=3.0, metavar="T", help="timbre guidance T (default 3)")
    add_render_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from latentmorph import api
    from latentmorph.audio import load, save

    check_paths(args.output, args.model, args.source, args.timbre_from, index=args.index, force=args.force)
    timbre = parse_point(args.timbre) if args.timbre else None
    common = dict(timbre_from=load_timbre(args.timbre_from), timbre=timbre, guidance_structure=args.guidance_structure,
                  guidance_timbre=args.guidance_timbre, steps=args.steps, seed=args.seed, render=args.render,
                  index=args.index, sr=args.sr, progress=not args.quiet, threads=args.threads,
                  timbre_name=args.timbre_from)
    if Path(args.source).suffix.lower() in (".mid", ".midi"):
        out, sr = api.restyle(args.model, midi=args.source, **common)
    else:
        wave, wsr = load(args.source)
        out, sr = api.restyle(args.model, wave, wsr, **common)
    save(args.output, out, sr)
    report(args, out, sr)
    return 0
