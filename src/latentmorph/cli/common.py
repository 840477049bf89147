"""Options shared by several sub-commands."""

from __future__ import annotations

import argparse
from typing import Callable

from latentmorph.codecs.registry import DEFAULT_CODEC
from latentmorph.numbers import OptionError, check_number


def number(name: str) -> Callable[[str], int | float]:
    """An argparse ``type=`` that checks a value against ``latentmorph.numbers.RANGES[name]``.

    NaN, inf and out-of-range values stop the command at parse time with one line
    (``argument --sr: expected an integer from 4000 to 384000, got -1``).
    """

    def parse(text: str) -> int | float:
        try:
            return check_number(name, text)
        except OptionError as err:
            raise argparse.ArgumentTypeError(str(err).split(": ", 1)[-1]) from None

    parse.__name__ = name  # argparse names the type in some messages
    return parse


def number_list(name: str) -> Callable[[str], str]:
    """Like :func:`number` for a flag taking ``-12 12`` or ``-12,12``: every item checked, text kept."""
    one = number(name)

    def parse(text: str) -> str:
        items = [t for t in text.replace(" ", "").split(",") if t]
        if not items:
            raise argparse.ArgumentTypeError(f"expected numbers, got {text!r}")
        return ",".join(str(one(t)) for t in items)

    parse.__name__ = name
    return parse


def add_force_option(parser: argparse.ArgumentParser) -> None:
    """``--force``: allow replacing an existing file of another kind (never an input)."""
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace an existing output file even when it is not the kind this command writes "
        "(an output is never allowed to be one of the inputs)",
    )


def add_codec_option(parser: argparse.ArgumentParser) -> None:
    """``--codec SPEC`` and ``--weights PATH``."""
    parser.add_argument(
        "--codec",
        default=DEFAULT_CODEC,
        metavar="SPEC",
        help=(
            "codec name, optionally with options: 'embedded' (default, offline), "
            "'embedded:hop=512', 'music2latent', 'music2latent:max_waveform_length=441000'. "
            "See `latentmorph codecs` and docs/codecs.md."
        ),
    )
    parser.add_argument(
        "--weights",
        metavar="PATH",
        help="local weights for a neural codec (music2latent .pt, RAVE .ts, EnCodec/DAC folder); alone it picks the codec; nothing is downloaded",
    )
    parser.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16"),
        default=None,
        help="neural codecs on CPU: auto (default: bf16 only where the CPU has native bf16 and a cached probe measured it faster and accurate; short inputs fp32), fp32 (exact), or bf16",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        default=None,
        help="neural codecs: torch.compile the network (slow first run, kernels cached on disk)",
    )


def codec_from_args(args: argparse.Namespace):  # noqa: ANN201
    """Build the codec named by ``--codec`` / ``--weights``."""
    from latentmorph.codecs import get_codec
    from latentmorph.codecs.detect import codec_with_weights

    options = {}
    for key in ("precision", "compile"):
        value = getattr(args, key, None)
        if value is not None:
            options[key] = value
    # --weights alone implies the codec whose weights they are
    return get_codec(codec_with_weights(args.codec, getattr(args, "weights", None), default=DEFAULT_CODEC), **options)


def add_max_seconds_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-seconds",
        type=number("max_seconds"),
        default=None,
        metavar="S",
        help="refuse inputs longer than S seconds (default 3600, or $LATENTMORPH_MAX_SECONDS)",
    )
