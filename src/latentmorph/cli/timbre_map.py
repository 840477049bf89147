"""``latentmorph timbre-map``: draw sounds on a model's 2-D timbre map."""

from __future__ import annotations

import argparse
from latentmorph.cli.common import add_force_option, number

DESCRIPTION = """\
Place sounds on the 2-D timbre map of a model trained with the timbre condition: each
file (or each --segment seconds of it) becomes one point, the timbre encoder's vector
projected on the plane of the training files' main timbre axes. Pick a point and pass
it to `latentmorph generate --timbre X,Y` (or restyle --timbre X,Y) to generate with
that timbre. Prints the points too.

examples:
  latentmorph timbre-map loops.lmdiff bells.wav drums/ voice.wav -o map.png
  latentmorph timbre-map loops.lmdiff long_take.wav -o map.png --segment 2
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("timbre-map", help="draw sounds on a model's 2-D timbre map (for generate --timbre X,Y)",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", metavar="MODEL", help="a .lmdiff model file")
    p.add_argument("files", nargs="+", metavar="FILES", help="audio files or folders")
    p.add_argument("-o", "--output", required=True, metavar="map.png", help="the PNG to write")
    p.add_argument("--segment", type=number("segment"), metavar="S", help="one point per S seconds of each file")
    p.add_argument("--quiet", action="store_true", help="do not print the points")
    add_force_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from latentmorph import api
    from latentmorph.audio import find_audio_files, load
    from latentmorph.errors import ConditionError

    out = Path(args.output)
    if out.suffix.lower() != ".png":
        raise ConditionError(f"{out}: the map is written as PNG; name it .png")
    from latentmorph.outputs import Input, Output, guard_outputs

    guard_outputs([Output(out, "-o", "png")],
                  [Input(Path(args.model)), *(Input(Path(f), tree=Path(f).is_dir()) for f in args.files)], force=args.force)
    files = find_audio_files(args.files)
    if not files:
        raise ConditionError(f"{args.files[0]}: no audio files found")
    waves = [load(f, warn_silence=False) for f in files]
    tmap = api.timbre_map(args.model, waves, labels=[f.name for f in files], segment_seconds=args.segment)
    from latentmorph.diffusion.timbre import plot_timbre_map

    plot_timbre_map(out, tmap, title=f"{Path(args.model).name}: timbre map")
    if not args.quiet:
        for (x, y), lab in zip(tmap.points, tmap.labels):
            print(f"{x:.3f},{y:.3f}  {lab}")
        print(f"map: {out}")
    return 0
