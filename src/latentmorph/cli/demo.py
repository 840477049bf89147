"""``latentmorph demo``: run a complete transfer on bundled audio."""

from __future__ import annotations

import argparse
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="re-voice a bundled guitar chord with a bundled choir corpus (writes WAVs)",
        description=(
            "Run the whole pipeline on bundled CC0 audio: index a choir/drone corpus, transfer a "
            "guitar chord onto it with the default settings and with the reference workflow, and "
            "print their objective metrics side by side; then generate a clip with the bundled demo diffusion "
            "model and restyle the guitar with the choir's timbre. Listen to the WAV files it writes.\n\n"
            "example: latentmorph demo -o demo_out"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("-o", "--output", default="demo_out", metavar="DIR", help="folder for the WAV files (default demo_out)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def _value(section: dict, key: str) -> float | None:
    item = section.get(key)
    return item.get("value") if isinstance(item, dict) else item


def _row(name: str, m: dict) -> str:
    cells = [
        _value(m["content"], "loudness"),
        _value(m["content"], "score"),
        _value(m["style"], "ratio"),
        m["artefacts"].get("extra_click_rate"),
    ]
    return f"{name:<10}" + "".join("{:>14}".format("-" if v is None else f"{v:.2f}") for v in cells)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from latentmorph.demo import run_demo
    from latentmorph.outputs import Output, OutputError, check_writable

    folder = Path(args.output)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder}: -o must be a folder for the demo's files, and this is a file")
    check_writable(Output(folder / "demo.wav", "-o", "audio"))
    result = run_demo(args.output, progress=not args.quiet and sys.stderr.isatty())
    for label, path in result.files.items():
        print(f"{label:<10} {path}")
    print()
    print(f"{'settings':<10}{'loudness corr':>14}{'content':>14}{'style ratio':>14}{'new clicks/s':>14}")
    for name, m in result.metrics.items():
        print(_row(name, m))
    print("\n(loudness corr and content: 1 = source structure kept; style ratio: 0 = sounds like the corpus,")
    print(" 1 = sounds like the source; new clicks/s: clicks the source did not have)")
    return 0
