"""Options shared by ``generate`` and ``restyle``."""

from __future__ import annotations

import argparse
from pathlib import Path

from latentmorph.errors import ConditionError


def parse_point(text: str) -> tuple[float, float]:
    """``"X,Y"`` -> ``(X, Y)``; :class:`ConditionError` otherwise."""
    try:
        x, y = (float(v) for v in text.split(","))
    except ValueError:
        raise ConditionError(f"--timbre {text}: expected X,Y (two numbers, e.g. --timbre=-0.5,1.2)") from None
    return x, y


def add_render_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--steps", type=int, default=20, help="Euler steps from noise to sound (default 20)")
    p.add_argument("--seed", type=int, default=1, help="starting noise: same seed, same output (default 1)")
    p.add_argument("--render", choices=["decode", "grains"], default="decode",
                   help="decode: the codec's decoder (default); grains: play the corpus grains nearest to the "
                        "generated latents (real corpus audio; needs --index)")
    p.add_argument("--index", metavar="NAME.lmindex", help="corpus index for --render grains (the model's codec)")
    p.add_argument("--sr", type=int, help="output sample rate")
    p.add_argument("--threads", type=int, help="torch CPU threads (default 1 for the tiny and small presets)")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no summary line")


def check_paths(output: str, *inputs: str | None) -> None:
    """Refuse an output that is one of the inputs; check its extension before any work."""
    from latentmorph.audio import check_output_path
    from latentmorph.errors import AudioError

    check_output_path(output)
    out = Path(output).resolve()
    for p in inputs:
        if p and Path(p).resolve() == out:
            raise AudioError(f"{output}: the output is one of the inputs")


def load_timbre(path: str | None, max_seconds: float | None = None):  # noqa: ANN201
    if path is None:
        return None
    from latentmorph.audio import load

    return load(path, max_seconds=max_seconds, warn_silence=False)


def report(args: argparse.Namespace, out, sr: int) -> None:  # noqa: ANN001
    if not args.quiet:
        print(f"{args.output}: {out.shape[-1] / sr:.2f} s, {out.shape[0]} channel(s), {sr} Hz")
