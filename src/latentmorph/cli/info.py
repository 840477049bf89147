"""``latentmorph info``: what an index holds."""

from __future__ import annotations

import argparse
import json


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "info",
        help="show what a corpus index holds (codec, files, duration, size, skipped files)",
        description=(
            "Print a corpus index's codec, number of files, total duration, latent frames (grains), "
            "size on disk, augmentations and the files that were skipped while indexing.\n\n"
            "examples:\n  latentmorph info sea.lmindex\n  latentmorph info sea.lmindex --verify   # read and check every file"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("index", metavar="NAME.lmindex", help="index folder written by `latentmorph index`")
    p.add_argument("--json", action="store_true", help="print the facts as JSON")
    p.add_argument("--verify", action="store_true", help="also read every data file and check it against the manifest "
                   "(checksums, shapes, grain table); exit 2 naming the first damaged file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from latentmorph import api
    from latentmorph.corpus.info import format_info

    info = api.index_info(args.index, verify=args.verify)
    print(json.dumps(info, indent=1) if args.json else format_info(info))
    return 0
