"""Options shared by several sub-commands."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Callable, overload

from latentmorph.codecs.registry import DEFAULT_CODEC
from latentmorph.numbers import OptionError, check_number

if TYPE_CHECKING:  # pragma: no cover
    from latentmorph.codecs.base import Codec


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


#: What ``--codec`` says in every command's help unless the command says more.
CODEC_HELP = (
    "codec name, optionally with options: 'embedded' (default, offline), "
    "'embedded:hop=512', 'music2latent', 'music2latent:max_waveform_length=441000'. "
    "See `latentmorph codecs` and docs/codecs.md."
)
#: Codec options that change how a network runs, not its latents (``get_codec`` keywords).
RUNTIME_OPTIONS = ("precision", "compile")


def add_codec_option(parser: argparse.ArgumentParser | argparse._ArgumentGroup, *, default: str | None = DEFAULT_CODEC,
                     codec_help: str | None = None) -> None:
    """The codec options of every command: ``--codec SPEC``, ``--weights PATH``, ``--precision``, ``--compile``.

    Args:
        default: what ``--codec`` holds when not given (``None``: the command decides, e.g. the index's codec).
        codec_help: the command's own ``--codec`` help (default :data:`CODEC_HELP`).
    """
    parser.add_argument("--codec", default=default, metavar="SPEC", help=codec_help or CODEC_HELP)
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


def codec_runtime_options(args: argparse.Namespace) -> dict[str, object]:
    """``--precision`` / ``--compile`` as ``get_codec`` keywords (only those given)."""
    return {key: getattr(args, key) for key in RUNTIME_OPTIONS if getattr(args, key, None) is not None}


def codec_spec_from_args(args: argparse.Namespace, default: str | None = DEFAULT_CODEC) -> str | None:
    """The codec spec ``--codec`` / ``--weights`` name (``--weights`` alone implies its codec), or ``None``.

    ``default`` is the command's ``--codec`` default (see :func:`add_codec_option`).
    """
    from latentmorph.codecs.detect import codec_with_weights

    return codec_with_weights(getattr(args, "codec", None), getattr(args, "weights", None), default=default)


@overload
def codec_from_args(args: argparse.Namespace, default: str = DEFAULT_CODEC) -> Codec: ...
@overload
def codec_from_args(args: argparse.Namespace, default: None) -> Codec | None: ...


def codec_from_args(args: argparse.Namespace, default: str | None = DEFAULT_CODEC) -> Codec | None:
    """Build the codec named by ``--codec`` / ``--weights`` with ``--precision`` / ``--compile``.

    ``None`` when the command's ``--codec`` default is ``None`` and neither was given.
    """
    from latentmorph.codecs import get_codec

    spec = codec_spec_from_args(args, default)
    return None if spec is None else get_codec(spec, **codec_runtime_options(args))


def add_max_seconds_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-seconds",
        type=number("max_seconds"),
        default=None,
        metavar="S",
        help="refuse inputs longer than S seconds (default 3600, or $LATENTMORPH_MAX_SECONDS)",
    )
