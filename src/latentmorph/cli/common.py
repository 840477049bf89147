"""Options shared by several sub-commands."""

from __future__ import annotations

import argparse

from latentmorph.codecs.registry import DEFAULT_CODEC


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
        help="local weights file for a neural codec (e.g. music2latent.pt); nothing is downloaded",
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

    options = {}
    for key in ("weights", "precision", "compile"):
        value = getattr(args, key, None)
        if value is not None:
            options[key] = value
    return get_codec(args.codec, **options)


def add_max_seconds_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=None,
        metavar="S",
        help="refuse inputs longer than S seconds (default 3600, or $LATENTMORPH_MAX_SECONDS)",
    )
