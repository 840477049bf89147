"""Options shared by ``generate`` and ``restyle``."""

from __future__ import annotations

import argparse
from pathlib import Path

from latentmorph.errors import ConditionError
from latentmorph.cli.common import add_force_option, number


def parse_point(text: str) -> tuple[float, float]:
    """``"X,Y"`` -> ``(X, Y)``; :class:`ConditionError` otherwise."""
    try:
        x, y = (float(v) for v in text.split(","))
    except ValueError:
        raise ConditionError(f"--timbre {text}: expected X,Y (two numbers, e.g. --timbre=-0.5,1.2)") from None
    return x, y


def add_render_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--steps", type=number("sample_steps"), default=20, help="Euler steps from noise to sound (default 20)")
    p.add_argument("--seed", type=number("seed"), default=1, help="starting noise: same seed, same output (default 1)")
    p.add_argument("--render", choices=["decode", "grains"], default="decode",
                   help="decode: the codec's decoder (default); grains: play the corpus grains nearest to the "
                        "generated latents (real corpus audio; needs --index)")
    p.add_argument("--index", metavar="NAME.lmindex", help="corpus index for --render grains (the model's codec)")
    p.add_argument("--sr", type=number("sr"), help="output sample rate")
    p.add_argument("--threads", type=number("threads"), help="torch CPU threads (default: all cores; 1 can be much faster on a machine busy with other work)")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no summary line")
    add_force_option(p)


def check_paths(output: str, *inputs: str | None, index: str | None = None, clap: str | None = None,
                force: bool = False) -> None:
    """The output guard of every diffusion command (``latentmorph.outputs``), before any work.

    Refuses an output that is one of the inputs (path or inode), lies inside the index or CLAP
    folder, is an existing file of another kind (without ``--force``) or cannot be written.
    """
    from latentmorph.audio import check_output_path
    from latentmorph.outputs import Input, Output, guard_outputs

    check_output_path(output)
    ins = [Input(Path(p)) for p in inputs if p]
    ins += [Input(Path(p), tree=True) for p in (index, clap) if p]
    guard_outputs([Output(Path(output), "-o", "audio")], ins, force=force)


def load_timbre(path: str | None, max_seconds: float | None = None):  # noqa: ANN201
    if path is None:
        return None
    from latentmorph.audio import load

    return load(path, max_seconds=max_seconds, warn_silence=False)


def report(args: argparse.Namespace, out, sr: int) -> None:  # noqa: ANN001
    if not args.quiet:
        print(f"{args.output}: {out.shape[-1] / sr:.2f} s, {out.shape[0]} channel(s), {sr} Hz")
