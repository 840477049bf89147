"""``latentmorph codecs``: list codecs and whether each can run here."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "codecs",
        help="list codecs and whether each is usable on this machine",
        description="List every codec, whether it can run right now (package installed, weights found) and why not.",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from latentmorph.codecs import list_codecs

    rows = list_codecs()
    width = max(len(r.name) for r in rows)
    for r in rows:
        mark = "yes" if r.usable else "no "
        print(f"{r.name:<{width}}  usable: {mark}  {r.description}")
        print(f"{'':<{width}}  {r.reason}")
    return 0
