"""Latent diffusion on codec latents: train on your sounds, generate and restyle with control.

A rectified-flow model (:mod:`flow`) over normalised latent frames ``[B, dim, T]`` of any
codec, a 1-D UNet with adaptive group norm (:mod:`unet`, default) or a causal transformer
(:mod:`transformer`), conditions each dropped at random in training (:mod:`conditions`:
tempo, timbre, structure, midi, clap) and classifier-free guidance (:mod:`guidance`).

    train(inputs, "model.lmdiff")                    -> TrainReport
    generate("model.lmdiff", seconds=8, bpm=120)     -> (wave [1, S], sr)
    restyle("model.lmdiff", wave, sr, timbre_from=(target, sr2)) -> (wave [C, S], sr)
    timbre_map("model.lmdiff", [(wave, sr), ...])    -> TimbreMap


The names below are imported on first use, so ``latentmorph.diffusion.features.tempo``
and ``.midi`` stay free of torch.
"""

import importlib
from typing import Any

_WHERE = {
    "DiffusionModel": "model", "load_model": "model_file", "generate": "sample", "restyle": "sample",
    "TimbreMap": "timbre", "timbre_map": "timbre", "TrainReport": "trainer", "train": "trainer",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"latentmorph.diffusion.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'latentmorph.diffusion' has no attribute {name!r}")
