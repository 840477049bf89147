"""Latent diffusion on codec latents: train on your sounds, generate and restyle with control.

A rectified-flow model (:mod:`flow`) over normalised latent frames ``[B, dim, T]`` of any
codec, a 1-D UNet with adaptive group norm (:mod:`unet`, default) or a causal transformer
(:mod:`transformer`), conditions each dropped at random in training (:mod:`conditions`:
tempo, timbre, structure, midi, clap) and classifier-free guidance (:mod:`guidance`).

    train(inputs, "model.lmdiff")                    -> TrainReport
    generate("model.lmdiff", seconds=8, bpm=120)     -> (wave [1, S], sr)
    restyle("model.lmdiff", wave, sr, timbre_from=(target, sr2)) -> (wave [C, S], sr)
    timbre_map("model.lmdiff", [(wave, sr), ...])    -> TimbreMap
"""

from latentmorph.diffusion.model import DiffusionModel
from latentmorph.diffusion.model_file import load_model
from latentmorph.diffusion.sample import generate, restyle
from latentmorph.diffusion.timbre import TimbreMap, timbre_map
from latentmorph.diffusion.train import TrainReport, train

__all__ = ["DiffusionModel", "TimbreMap", "TrainReport", "generate", "load_model", "restyle", "timbre_map", "train"]
