"""``latentmorph export``: the real-time engine and its corpus as one TorchScript file for nn~."""

from __future__ import annotations

import argparse
from pathlib import Path

from latentmorph.cli.common import add_force_option, number
from latentmorph.cli.stream import add_stream_options

DESCRIPTION = """\
Write the real-time latent granular engine, with the whole corpus inside (grain
features, successors and audio as buffers), as a TorchScript file that nn~ loads in
Max/MSP or Pure Data, or any program with plain `torch.jit.load` (latentmorph not
needed). It follows nn~'s conventions: method `forward` ([channels in, ratio 1,
channels out, ratio 1]) and attributes continuity, wet, k, avoid_repeat and
follow_loudness with get_/set_ methods. Run the host at 44.1 kHz (the corpus rate).

In Max:  [nn~ lgr.ts forward]   messages: [set continuity 3(, [set wet 0.5(

examples:
  latentmorph export --index rain.lmindex -o rain.ts
  latentmorph export --index bells.lmindex -o bells.ts --channels 2 --lag 0 --continuity 3
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export the real-time engine with its corpus as TorchScript for nn~ (Max/Pd)",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-o", "--output", required=True, metavar="OUT.ts", help="TorchScript file to write (.ts)")
    p.add_argument("--channels", type=number("channels"), default=1, help="independent audio channels of the module (default 1)")
    p.add_argument("--model", metavar="MODEL.lmdiff", help="diffusion restyle model (not exportable yet: see docs/realtime.md)")
    add_stream_options(p)
    p.add_argument("--quiet", action="store_true", help="no summary line")
    add_force_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from latentmorph.errors import LatentmorphError, ModelError
    from latentmorph.stream.export import export_module

    out = Path(args.output)
    if out.suffix.lower() != ".ts":
        raise LatentmorphError(f"{out}: the export is a TorchScript file; name it NAME.ts")
    if args.model:
        raise ModelError(f"{args.model}: exporting the diffusion restyle is not available in this build "
                         "(it does not run in real time yet; see docs/realtime.md)")
    from latentmorph.outputs import Input, Output, guard_outputs

    guard_outputs([Output(out, "-o", "torchscript")], [Input(Path(args.index), tree=True)], force=args.force)
    from latentmorph.cli.stream import streamer_from_args

    facts = export_module(streamer_from_args(args), out, channels=args.channels)
    if not args.quiet:
        print(f"{out}: {facts['grains']} grains, {facts['bytes'] / 1e6:.1f} MB, {facts['channels']} channel(s), "
              f"{facts['sample_rate']} Hz, latency {facts['latency']} samples "
              f"({facts['latency'] / facts['sample_rate'] * 1e3:.1f} ms)")
    return 0


__all__ = ["add_parser", "run"]
