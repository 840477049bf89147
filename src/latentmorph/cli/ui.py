"""``latentmorph ui``: the web studio in the browser."""

from __future__ import annotations

import argparse
from latentmorph.cli.common import number

DESCRIPTION = """\
Start the web studio: a page in the browser to upload or record a sound, pick a corpus,
tune every transfer option with sliders, hear and download the result, see the source
and output spectrograms, the evaluate scores and the corpus map (every grain in 2-D, the
path the output took, click a point to hear it). With a diffusion model (--model, or a
.lmdiff under a --root) a Diffusion tab generates and restyles.

Only files under the --root folders (default: the current folder) are listed or read.
The server binds to loopback (127.0.0.1) unless --host says otherwise, sends no
analytics, makes no share link and needs no internet. Needs: pip install 'latentmorph[ui]'.

examples:
  latentmorph ui --root ~/sounds                       # then open http://127.0.0.1:7860
  latentmorph ui --root corpora/ --root takes/ --port 8000 --max-seconds 60
  latentmorph ui --root sounds/ --model sounds/drums.lmdiff --concurrency 2
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ui", help="the web studio: transfer, explore corpora and generate in the browser",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=number("port"), default=7860, help="TCP port (default 7860; 0 = any free port)")
    p.add_argument("--root", action="append", metavar="DIR", default=None,
                   help="a folder whose audio, .lmindex and .lmdiff files the page may list and read (repeatable; default .)")
    p.add_argument("--model", metavar="MODEL.lmdiff", help="a diffusion model for the Diffusion tab")
    p.add_argument("--clap", metavar="DIR", help="a local CLAP model folder for the Diffusion tab's text prompts")
    p.add_argument("--max-seconds", type=number("max_seconds"), default=120.0, metavar="S",
                   help="refuse uploaded or picked audio longer than S seconds (default 120)")
    p.add_argument("--max-upload-mb", type=number("max_upload_mb"), default=50.0, metavar="MB", help="largest uploaded file (default 50 MiB)")
    p.add_argument("--concurrency", type=number("concurrency"), default=1, metavar="N",
                   help="jobs that run at once; others wait in the queue (default 1)")
    p.add_argument("--queue-size", type=number("queue_size"), default=16, metavar="N", help="jobs that may wait; more are refused (default 16)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from latentmorph.ui.jobs import Limits
    from latentmorph.ui.server import LOOPBACK, start

    limits = Limits(max_seconds=args.max_seconds, max_upload_mb=args.max_upload_mb,
                    concurrency=args.concurrency, queue_size=args.queue_size)
    if args.host not in LOOPBACK:
        print(f"latentmorph ui: warning: listening on {args.host}: other machines can reach this page "
              "(there is no login)")
    start(args.root or ["."], host=args.host, port=args.port, model=args.model, clap=args.clap, limits=limits,
          block=True)
    return 0


__all__ = ["add_parser", "run"]
