"""The ``latentmorph`` command: a thin layer over the Python API.

Each sub-command lives in its own module in this package and exposes
``add_parser(subparsers)``, which registers the command and sets ``func`` to a
``run(args) -> int`` callable. User mistakes raise :class:`LatentmorphError`; they
are printed here as one line, with a non-zero exit code and no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings

from latentmorph import __version__
from latentmorph.errors import LatentmorphError

#: Sub-command modules, in the order ``--help`` lists them.
COMMAND_MODULES = [
    "latentmorph.cli.demo",
    "latentmorph.cli.codecs",
    "latentmorph.cli.encode",
    "latentmorph.cli.index",
    "latentmorph.cli.info",
    "latentmorph.cli.evaluate",
    "latentmorph.cli.transfer",
    "latentmorph.cli.train",
    "latentmorph.cli.generate",
    "latentmorph.cli.restyle",
    "latentmorph.cli.timbre_map",
    "latentmorph.cli.stream",
    "latentmorph.cli.live",
    "latentmorph.cli.export",
    "latentmorph.cli.ui",
]


class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one line: ``latentmorph: error: ...``."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"latentmorph: error: {self.prog}: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="latentmorph",
        description=(
            "Make one sound take on the character of others through the latent spaces of "
            "audio codecs. Start with `latentmorph demo`, then `latentmorph transfer --help`."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"latentmorph {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parser(sub)
    return parser


def _format_warning(message, category, filename, lineno, line=None) -> str:  # noqa: ANN001
    return f"latentmorph: warning: {message}\n"


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    warnings.formatwarning = _format_warning
    parser = build_parser()
    args = parser.parse_args(argv)  # usage errors exit 2 with one line (OneLineParser)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    with warnings.catch_warnings():
        # every warning reaches the user as one line, also when main() runs inside another program
        warnings.simplefilter("default")
        warnings.showwarning = _show_warning
        return _run(args)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    print(_format_warning(message, category, filename, lineno).rstrip("\n"), file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    try:
        return int(args.func(args) or 0)
    except LatentmorphError as err:
        print(f"latentmorph: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("latentmorph: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("latentmorph: error: out of memory; try a shorter input or smaller batch", file=sys.stderr)
        return 3
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except OSError as err:
        # last line of defence: the specific paths raise LatentmorphError themselves
        from latentmorph.outputs import describe_oserror

        name = err.filename if err.filename is not None else "latentmorph"
        print(f"latentmorph: error: {os.fsdecode(name) if isinstance(name, bytes) else name}: {describe_oserror(err)}",
              file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
