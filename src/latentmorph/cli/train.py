"""``latentmorph train``: train a latent diffusion model on your sounds."""

from __future__ import annotations

import argparse
from latentmorph.cli.common import add_codec_option, add_force_option, codec_from_args, number

DESCRIPTION = """\
Train a latent diffusion model (rectified flow) on the latents of a corpus: an index made
by `latentmorph index`, or audio files and folders (indexed first into the cache). The
model learns to generate latent frames of the codec the index was built with, steered by
the conditions you choose (each dropped at random 20 % of the time, so guidance works):

  tempo      beat phase from a beat tracker (generate --bpm)
  timbre     a timbre vector learned from another crop of the same file (--timbre-from, --timbre X,Y)
  structure  a low-dimensional sequence learned from the sound itself (restyle SOURCE)
  midi       a piano roll from NAME.mid beside each NAME.wav (restyle SONG.mid); not with structure
  clap       CLAP audio embeddings (needs --clap FOLDER, a local CLAP model; generate --text)

Training writes MODEL.lmdiff.ckpt every 500 steps or minute: a killed run loses at most that,
and running the same command again resumes. --steps/--minutes count the total over runs, so
raise them to continue a finished model. MODEL.loss.png shows the loss curve.

presets: tiny (seconds; tests), small (a useful model on 2 CPU cores in <= 30 min from ~1 h of
audio), base (for a GPU).

examples:
  latentmorph train loops.lmindex -o loops.lmdiff --preset small --minutes 30
  latentmorph train my_sounds/ -o mine.lmdiff --conditions timbre,structure --steps 5000
  latentmorph train songs/ -o piano.lmdiff --conditions midi,timbre --preset small
  latentmorph train loops/ -o loops.lmdiff --conditions tempo,clap --clap ./clap-htsat
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a latent diffusion model on a corpus (for generate / restyle)",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", metavar="INDEX_OR_AUDIO", help=".lmindex folders, or audio files/folders")
    p.add_argument("-o", "--output", required=True, metavar="MODEL.lmdiff", help="the model file to write")
    p.add_argument("--preset", choices=["tiny", "small", "base"], default="tiny", help="model size (default tiny)")
    p.add_argument("--conditions", default="tempo,timbre,structure", metavar="LIST",
                   help="comma-separated, any of tempo,timbre,structure,midi,clap (default tempo,timbre,structure); "
                        "'none' for an unconditional model")
    when = p.add_mutually_exclusive_group()
    when.add_argument("--steps", type=number("train_steps"), metavar="N", help="train N steps in total (default: tiny 300, small 20000, base 200000)")
    when.add_argument("--minutes", type=number("minutes"), metavar="M", help="train M minutes in total instead")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda (optional; nothing needs a GPU)")
    p.add_argument("--arch", choices=["unet", "transformer"], default="unet",
                   help="denoiser: unet (default) or a causal transformer (the form real-time use needs)")
    add_codec_option(p, default=None, codec_help="codec for audio inputs (default: the index's, else embedded)")
    p.add_argument("--clap", metavar="FOLDER", help="local CLAP model folder (transformers format) for the clap condition")
    p.add_argument("--seed", type=number("seed"), default=0, help="seed of initialisation and batches (default 0)")
    p.add_argument("--threads", type=number("threads"), help="torch CPU threads (default: all cores; 1 can be much faster on a machine busy with other work)")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no summary line")
    add_force_option(p)
    p.set_defaults(func=run)


def parse_conditions(text: str) -> tuple[str, ...]:
    names = [c.strip() for c in text.split(",") if c.strip()]
    return () if names == ["none"] else tuple(names)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from latentmorph import api
    from latentmorph.outputs import Input, Output, guard_outputs

    ins = [Input(Path(p), tree=Path(p).is_dir()) for p in args.inputs]
    if args.clap:
        ins.append(Input(Path(args.clap), tree=True))
    from latentmorph.diffusion.trainer import checkpoint_path, plot_path

    out = Path(args.output)
    guard_outputs([Output(out, "-o", "model"), Output(checkpoint_path(out), "-o (its checkpoint)", "model"),
                   Output(plot_path(out), "-o (its loss curve)", "png")], ins, force=args.force)
    report = api.train(args.inputs, args.output, preset=args.preset, conditions=parse_conditions(args.conditions),
                       steps=args.steps, minutes=args.minutes, device=args.device, codec=codec_from_args(args, default=None), clap=args.clap,
                       seed=args.seed, progress=not args.quiet, arch=args.arch, threads=args.threads)
    if not args.quiet:
        print(report.summary())
        if report.plot:
            print(f"loss curve: {report.plot}")
    return 0
