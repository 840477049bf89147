"""``latentmorph encode`` and ``latentmorph decode``."""

from __future__ import annotations

import argparse
from pathlib import Path

from latentmorph.cli.common import add_codec_option, add_force_option, add_max_seconds_option, codec_from_args, number


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "encode",
        help="encode an audio file to latents (.npy)",
        description=(
            "Encode an audio file into codec latents, saved as a .npy array of shape "
            "[channels, dim, frames] (float32). The codec's fingerprint and sample rate are "
            "stored beside it in LATENTS.json so `decode` can check them.\n\n"
            "example: latentmorph encode guitar.wav -o guitar.npy --codec embedded"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", metavar="IN", help="audio file (wav, flac, ogg, aiff, mp3)")
    p.add_argument("-o", "--output", required=True, metavar="LATENTS.npy", help="output .npy file")
    add_codec_option(p)
    add_max_seconds_option(p)
    add_force_option(p)
    p.set_defaults(func=run_encode)

    d = sub.add_parser(
        "decode",
        help="decode latents (.npy) to audio",
        description=(
            "Decode a [channels, dim, frames] latent array back to audio with the codec that made it.\n\n"
            "example: latentmorph decode guitar.npy -o guitar_rebuilt.wav"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    d.add_argument("input", metavar="LATENTS.npy", help="latents written by `latentmorph encode`")
    d.add_argument("-o", "--output", required=True, metavar="OUT.wav", help="output audio file")
    d.add_argument("--sr", type=number("sr"), default=None, help="output sample rate, 4000..384000 (default: the codec's)")
    add_codec_option(d)
    add_max_seconds_option(d)
    add_force_option(d)
    d.set_defaults(func=run_decode)


def _weights(args: argparse.Namespace) -> list:
    from latentmorph.outputs import Input

    return [Input(Path(args.weights))] if getattr(args, "weights", None) else []


def run_encode(args: argparse.Namespace) -> int:
    from latentmorph import api
    from latentmorph.outputs import Input, Output, guard_outputs

    npy = api.latents_path(args.output)
    outputs = [Output(npy, "-o", "latents"), Output(api.sidecar_path(npy), "-o (its .json sidecar)", "sidecar")]
    guard_outputs(outputs, [Input(Path(args.input)), *_weights(args)], force=args.force)
    codec = codec_from_args(args)
    latents = api.encode_file(args.input, codec=codec, max_seconds=args.max_seconds)
    api.save_latents(args.output, latents, codec)
    print(f"{args.output}: {list(latents.shape)} latents ({codec.name}, {codec.frame_rate:.2f} frames/s)")
    return 0


def run_decode(args: argparse.Namespace) -> int:
    from latentmorph import api
    from latentmorph.audio import check_output_path, save

    from latentmorph.outputs import Input, Output, guard_outputs

    check_output_path(args.output)
    inputs = [Input(Path(args.input)), Input(api.sidecar_path(Path(args.input))), *_weights(args)]
    guard_outputs([Output(Path(args.output), "-o", "audio")], inputs, force=args.force)
    codec = codec_from_args(args)
    latents = api.load_latents(args.input, codec)
    from latentmorph.audio import resolve_max_seconds
    from latentmorph.errors import AudioError

    seconds, limit = latents.shape[-1] * codec.hop / codec.sample_rate, resolve_max_seconds(args.max_seconds)
    if seconds > limit:
        raise AudioError(f"{args.input}: decodes to {seconds:.0f} s, over the {limit:.0f} s limit (raise it with --max-seconds)")
    wave = codec.decode_audio(latents, args.sr)
    sr = args.sr or codec.sample_rate
    save(args.output, wave, sr)
    print(f"{args.output}: {wave.shape[-1] / sr:.2f} s, {wave.shape[0]} channel(s), {sr} Hz")
    return 0
