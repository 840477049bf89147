"""The demo: a bundled CC0 guitar chord re-voiced by a bundled CC0 choir/drone corpus.

Writes, into one folder, the two inputs, the default transfer, the reference workflow
(independent nearest-neighbour picks, decoded, 20% dry) for comparison, a codec round
trip, and two clips of the bundled demo diffusion model (``data/demo.lmdiff``, made by
``scripts/train_demo_model``): one generated with the choir's timbre and the guitar
restyled with it; then prints the objective metrics of both transfers side by side.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from latentmorph.audio import load, save


@dataclass
class DemoResult:
    """Paths written by :func:`run_demo` and the metrics of the two transfers."""

    folder: Path
    files: dict[str, Path]
    metrics: dict[str, dict]


def bundled_audio(name: str) -> Path:
    """Path of a bundled file (``"guitar_em9.flac"``, ``"choir_drone.flac"``, ``"demo.lmdiff"``)."""
    return Path(str(resources.files("latentmorph.data").joinpath(name)))


def diffusion_clips(folder: Path, source, sr: int, target, target_sr: int) -> dict[str, Path]:  # noqa: ANN001
    """With the bundled demo diffusion model: a generated clip and the guitar restyled with the choir's timbre."""
    from latentmorph.diffusion import generate, restyle

    model = bundled_audio("demo.lmdiff")
    gen, gen_sr = generate(model, seconds=4.0, timbre_from=(target, target_sr), steps=20, seed=1)
    out = {"generated": save(folder / "6_generated_choir_timbre.wav", gen, gen_sr)}
    res, res_sr = restyle(model, source, sr, timbre_from=(target, target_sr), steps=20, seed=1)
    out["restyled"] = save(folder / "7_guitar_restyled_as_choir.wav", res, res_sr)
    return out


def run_demo(folder: str | os.PathLike = "demo_out", *, codec: str = "embedded", progress: bool = True) -> DemoResult:
    """Run the demo into ``folder`` and return what it wrote and measured."""
    from latentmorph.corpus import build_index
    from latentmorph.evaluate import evaluate
    from latentmorph.transfer import PRESETS, transfer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    source_path, corpus_path = bundled_audio("guitar_em9.flac"), bundled_audio("choir_drone.flac")
    source, sr = load(source_path)
    corpus, corpus_sr = load(corpus_path)

    index = build_index([corpus_path], folder / "choir.lmindex", codec, progress=progress).index
    files = {
        "source": save(folder / "1_source_guitar.wav", source, sr),
        "corpus": save(folder / "2_corpus_choir.wav", corpus, corpus_sr),
    }
    default, out_sr = transfer(source, sr, index=index, progress=progress)
    files["transfer"] = save(folder / "3_guitar_as_choir.wav", default, out_sr)
    reference, ref_sr = transfer(source, sr, index=index, **PRESETS["reference"])
    files["reference"] = save(folder / "4_guitar_as_choir_reference.wav", reference, ref_sr)
    codec_obj = index.codec()
    files["roundtrip"] = save(folder / "5_guitar_codec_roundtrip.wav", codec_obj.decode_audio(codec_obj.encode_audio(source, sr), sr)[:, : source.shape[1]], sr)

    files.update(diffusion_clips(folder, source, sr, corpus, corpus_sr))

    corpus_arg = [(corpus, corpus_sr)]
    metrics = {
        "default": evaluate(default, out_sr, source, sr, corpus_arg),
        "reference": evaluate(reference, ref_sr, source, sr, corpus_arg),
    }
    return DemoResult(folder, files, metrics)
