"""``latentmorph evaluate``: score an output against its source and corpus."""

from __future__ import annotations

import argparse

from latentmorph.cli.common import add_force_option, add_max_seconds_option


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="score a transfer output: content kept, style reached, clicks, sanity",
        description=(
            "Measure how a transfer output relates to its source and its corpus, with "
            "objective metrics computed here (no downloaded models):\n"
            "  content   loudness-envelope correlation (best latency within 50 ms), onset\n"
            "            agreement and pitch agreement corrected for chance, chroma movement\n"
            "            correlation; 1 = the source's structure is kept, ~0 = unrelated;\n"
            "  style     style ratio d(out, corpus) / (d(out, corpus) + d(out, source)) over\n"
            "            MFCC distributions: 0 = timbre at the corpus, 1 = still the source;\n"
            "            timbre distance ratio d(out, corpus) / d(source, corpus): 0 = corpus\n"
            "            timbre, 1 = unchanged (how much of the way the output travelled);\n"
            "            source leakage: share of the output that is a copy of the source wave;\n"
            "  artefacts clicks and spectral-flux spikes per second, and as a ratio to the\n"
            "            corpus's own rate (<= 1: no more clicks than the corpus itself);\n"
            "  sanity    NaN/Inf, clipping, DC offset, silence, length and sample rate.\n\n"
            "examples:\n"
            "  latentmorph evaluate out.wav voice.wav --corpus rain/ --json scores.json\n"
            "  latentmorph evaluate out.wav voice.wav --index rain.lmindex"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("output", metavar="OUT", help="the transfer output (audio file)")
    p.add_argument("source", metavar="SOURCE", help="the source it was made from (audio file)")
    p.add_argument(
        "--corpus",
        nargs="+",
        metavar="FILES_OR_DIRS",
        help="corpus audio files or folders (searched recursively); without it, style is skipped",
    )
    p.add_argument(
        "--index",
        metavar="NAME.lmindex",
        help="a corpus index (from `latentmorph index`) whose files form the corpus, instead of or beside --corpus",
    )
    p.add_argument("--json", metavar="OUT.json", help="also write every number as JSON (atomic write)")
    p.add_argument("--quiet", action="store_true", help="print nothing (use with --json)")
    add_max_seconds_option(p)
    add_force_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from latentmorph import api
    from latentmorph.outputs import Input, Output, guard_outputs

    if args.json:
        inputs = [Input(Path(args.output)), Input(Path(args.source))]
        inputs += [Input(Path(c), tree=Path(c).is_dir()) for c in args.corpus or []]
        if args.index:
            inputs.append(Input(Path(args.index), tree=True))
        guard_outputs([Output(Path(args.json), "--json", "scores")], inputs, force=args.force)

    result = api.evaluate_files(args.output, args.source, args.corpus, index=args.index, max_seconds=args.max_seconds,
                                 progress=not args.quiet)
    if args.json:
        api.save_json(args.json, result)
    if not args.quiet:
        print(api.format_report(result))
        if args.json:
            print(f"wrote {args.json}")
    return 0
