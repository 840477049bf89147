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
        help="local weights for a neural codec (music2latent .pt, RAVE .ts, EnCodec/DAC folder); alone it picks the codec; nothing is downloaded",
    )
    parser.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16"),
        default=None,
        help="neural codecs on CPU: fp32 (default, exact), bf16, or auto (bf16 only where the CPU has native bf16)",
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
        type=float,
        default=None,
        metavar="S",
        help="refuse inputs longer than S seconds (default 3600, or $LATENTMORPH_MAX_SECONDS)",
    )
