"""``generate`` and ``restyle``: sample latents with guidance, then render them to audio.

Both are numpy in, numpy out: audio ``[C, S]`` with its sample rate.
"""

from __future__ import annotations

import math
import os
from typing import Any, Sequence

import numpy as np
import torch

from latentmorph.audio import as_2d, check_wave, fit_length, resample
from latentmorph.diffusion.conditions import Conds
from latentmorph.diffusion.flow import euler_sample
from latentmorph.diffusion.guidance import cfg as single_cfg
from latentmorph.diffusion.guidance import dual_guidance
from latentmorph.diffusion.model import DiffusionModel
from latentmorph.diffusion.model_file import check_same_codec, load_model, model_codec
from latentmorph.diffusion.render import RENDERS, grains_for_latents
from latentmorph.diffusion.threads import with_model_threads
from latentmorph.diffusion.timbre import model_map, require, timbre_vector
from latentmorph.errors import ConditionError, ModelError
from latentmorph.transfer.render import safe_level

#: Longest generation, in seconds.
MAX_SECONDS = 600.0


def as_model(model: Any) -> DiffusionModel:
    """A loaded model, or load one from a path."""
    if isinstance(model, DiffusionModel):
        return model
    if isinstance(model, (str, os.PathLike)):
        return load_model(model)
    raise ModelError(f"model: expected a DiffusionModel or a .lmdiff path, got {type(model).__name__}")


def check_steps(steps: int) -> int:
    if isinstance(steps, bool) or int(steps) != steps or int(steps) < 1:
        raise ModelError(f"--steps {steps}: must be a whole number of at least 1")
    return int(steps)


def _render(model: DiffusionModel, latents: np.ndarray, render: str, index: Any, sr: int | None) -> tuple[np.ndarray, int]:
    """Latents ``[C, D, T]`` -> (audio ``[C, S]``, rate)."""
    codec = model_codec(model)
    if render == "decode":
        if not codec.can_decode:
            raise ModelError(f"codec {codec.name} cannot decode; use --render grains --index X")
        wave, rate = codec.decode(latents), codec.sample_rate
    else:
        wave, rate = grains_for_latents(latents, index), int(index.sample_rate)
    if sr is not None and int(sr) != rate:
        wave, rate = resample(wave, rate, int(sr)), int(sr)
    return safe_level(wave), rate


def _check_render(model: DiffusionModel, render: str, index: Any) -> Any:
    if render not in RENDERS:
        raise ModelError(f"render {render!r}: use decode or grains")
    if render == "decode":
        return None
    if index is None:
        raise ModelError("render grains needs an index (--index NAME.lmindex) to take grains from")
    if isinstance(index, (str, os.PathLike)):
        from latentmorph.corpus import load_index

        index = load_index(index)
    check_same_codec(model, index.fingerprint, str(getattr(index, "path", "index")))
    return index


def _timbre_input(model: DiffusionModel, timbre: Sequence[float] | None, timbre_from: tuple[np.ndarray, int] | None,
                  name: str = "--timbre-from") -> torch.Tensor | None:
    if timbre is not None and timbre_from is not None:
        raise ConditionError("give --timbre X,Y or --timbre-from FILE, not both")
    if timbre is not None:
        require(model, "timbre", "--timbre")
        xy = [float(v) for v in timbre]
        if len(xy) != 2 or not all(math.isfinite(v) for v in xy):
            raise ConditionError(f"--timbre {timbre}: expected two numbers X,Y")
        return torch.from_numpy(model_map(model).to_vector(xy))[None]
    if timbre_from is not None:
        wave, sr = timbre_from
        return torch.from_numpy(timbre_vector(model, model_codec(model), wave, sr, name))[None]
    return None


def _bar(steps: int, progress: bool, desc: str):  # noqa: ANN202
    from latentmorph.progress import bar

    return bar(steps, desc, progress, unit="step")


def _sample(model: DiffusionModel, shape: tuple[int, int, int], guide, steps: int, seed: int, progress: bool,  # noqa: ANN001
            desc: str, threads: int | None = None) -> np.ndarray:
    gen = torch.Generator().manual_seed(int(seed))
    bar = _bar(steps, progress, desc)
    with torch.no_grad():
        z = euler_sample(guide, shape, steps, gen, progress=lambda i: bar.update(1))
    bar.close()
    return model.denormalize(z).numpy().astype(np.float32)


@with_model_threads
def generate(
    model: Any,
    *,
    seconds: float = 8.0,
    bpm: float | None = None,
    timbre: Sequence[float] | None = None,
    timbre_from: tuple[np.ndarray, int] | None = None,
    text: str | None = None,
    clap: str | os.PathLike | None = None,
    guidance: float = 3.0,
    steps: int = 20,
    seed: int = 1,
    render: str = "decode",
    index: Any = None,
    sr: int | None = None,
    progress: bool = False,
    return_latents: bool = False,
    threads: int | None = None,
    timbre_name: str | None = None,
):
    """Generate audio from a model, optionally at a tempo, with a timbre, from a text.

    Args:
        model: a :class:`DiffusionModel` or ``.lmdiff`` path.
        seconds: length (> 0).
        bpm: tempo (the beat-phase sawtooth of a steady tempo); needs a ``tempo`` model.
        timbre: a point ``(X, Y)`` of the timbre map (``timbre_map``); or
        timbre_from: ``(wave [C, S], sr)`` whose timbre to take.
        text: a CLAP text prompt; needs ``clap`` (a local CLAP folder) and a ``clap`` model.
        guidance: classifier-free guidance weight over all given conditions (1 = plain
            conditional, 0 = unconditional).
        steps: Euler steps (>= 1).
        seed: the starting noise; same seed, same output.
        render: ``"decode"`` (the codec's decoder) or ``"grains"`` (nearest corpus grains of ``index``).
        index: a corpus index / ``.lmindex`` path of the model's codec (``render="grains"``).
        sr: output rate (default: the codec's / index's).
        progress: tqdm bar.
        return_latents: also return the generated latents ``[1, D, T]``.
        threads: torch CPU threads (default: 1 for models under 10 M parameters: tiny, small).

    Returns:
        ``(wave [1, S], sr)`` (plus latents with ``return_latents``).
    """
    m = as_model(model)
    steps = check_steps(steps)
    if not (isinstance(seconds, (int, float)) and math.isfinite(seconds) and 0 < seconds <= MAX_SECONDS):
        raise ModelError(f"--seconds {seconds}: must be above 0 (and at most {MAX_SECONDS:.0f})")
    if not math.isfinite(float(guidance)):
        raise ModelError(f"--guidance {guidance}: must be a number")
    index = _check_render(m, render, index)
    cfg = m.config
    T = max(1, int(math.ceil(seconds * cfg.frame_rate)))
    values: dict[str, torch.Tensor] = {}
    if bpm is not None:
        require(m, "tempo", "--bpm")
        if not (math.isfinite(float(bpm)) and 20.0 <= float(bpm) <= 400.0):
            raise ConditionError(f"--bpm {bpm}: use a tempo between 20 and 400 BPM")
        from latentmorph.diffusion.features.tempo import phase_from_bpm

        values["tempo"] = torch.from_numpy(np.asarray(phase_from_bpm(float(bpm), cfg.frame_rate, T), np.float32))[None]
    tv = _timbre_input(m, timbre, timbre_from, timbre_name or "--timbre-from")
    if tv is not None:
        values["timbre"] = tv
    if text is not None:
        require(m, "clap", "--text")
        if clap is None:
            raise ConditionError("--text needs --clap FOLDER (a local CLAP model folder)")
        from latentmorph.diffusion.data import clap_embedder

        emb = clap_embedder(clap).embed_text([text])
        if emb.shape[-1] != cfg.clap_dim:
            raise ConditionError(f"{clap}: CLAP embeddings have {emb.shape[-1]} dims, the model was trained with {cfg.clap_dim}")
        values["clap"] = torch.from_numpy(np.asarray(emb, np.float32))
    cond = Conds(values, {k: torch.ones(1) for k in values})
    if values:
        both = cond.cat(cond.keeping(()))

        def guide(x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
            v = m.velocity(torch.cat([x, x]), torch.cat([a, a]), both)
            return single_cfg(v[1:], v[:1], guidance)
    else:
        def guide(x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
            return m.velocity(x, a, cond)

    lat = _sample(m, (1, cfg.dim, T), guide, steps, seed, progress, "generate", threads)
    wave, rate = _render(m, lat, render, index, sr)
    wave = wave[:, : int(round(seconds * rate))]
    return (wave, rate, lat) if return_latents else (wave, rate)


@with_model_threads
def restyle(
    model: Any,
    source: np.ndarray | None = None,
    source_sr: int | None = None,
    *,
    midi: str | os.PathLike | None = None,
    timbre_from: tuple[np.ndarray, int] | None = None,
    timbre: Sequence[float] | None = None,
    guidance_structure: float = 1.0,
    guidance_timbre: float = 3.0,
    steps: int = 20,
    seed: int = 1,
    render: str = "decode",
    index: Any = None,
    sr: int | None = None,
    progress: bool = False,
    return_latents: bool = False,
    threads: int | None = None,
    timbre_name: str | None = None,
):
    """Keep a source's structure (audio, or a MIDI file's notes) and give it another timbre.

    Args:
        model: a :class:`DiffusionModel` or ``.lmdiff`` path.
        source, source_sr: audio ``[C, S]`` or ``[S]`` and its rate (the structure encoder
            reads it; channels are restyled independently); or
        midi: a ``.mid`` file (its piano roll; a model trained with ``midi``).
        timbre_from: ``(wave, sr)`` of the target timbre; or ``timbre``: a map point ``(X, Y)``.
        guidance_structure, guidance_timbre: the dual guidance weights ``S`` and ``T``.
        steps, seed, render, index, sr, progress: as for :func:`generate`.

    Returns:
        ``(wave [C, S], sr)``: as long as the source (MIDI: its last note's end); ``sr``
        defaults to ``source_sr`` (MIDI: the codec's rate).
    """
    m = as_model(model)
    steps = check_steps(steps)
    for name, w in (("--guidance-structure", guidance_structure), ("--guidance-timbre", guidance_timbre)):
        if not math.isfinite(float(w)):
            raise ModelError(f"{name} {w}: must be a number")
    if (source is None) == (midi is None):
        raise ConditionError("restyle: give a source sound or a MIDI file (one of them)")
    index = _check_render(m, render, index)
    codec = model_codec(m)
    cfg = m.config
    values: dict[str, torch.Tensor] = {}
    if midi is not None:
        require(m, "midi", "a MIDI source")
        from latentmorph.diffusion.features.midi import piano_roll, read_midi

        notes = read_midi(midi)
        roll = np.asarray(piano_roll(notes, cfg.frame_rate), np.float32)
        values["midi"] = torch.from_numpy(roll)[None]
        T, C = roll.shape[1], 1
        seconds, out_default = T / cfg.frame_rate, codec.sample_rate
    else:
        require(m, "structure", "an audio source")
        if source_sr is None:
            raise ConditionError("restyle: source_sr is needed with a source array")
        wave = check_wave(as_2d(np.asarray(source, np.float32)), int(source_sr), "source")
        lat = codec.encode_audio(wave, int(source_sr))  # [C, D, T]
        C, _, T = lat.shape
        with torch.no_grad():
            values["structure"] = m.encode_structure(m.normalize(torch.from_numpy(lat)))
        seconds, out_default = wave.shape[-1] / int(source_sr), int(source_sr)
    struct_name = "midi" if midi is not None else "structure"
    tv = _timbre_input(m, timbre, timbre_from, timbre_name or "--timbre-from")
    if tv is not None:
        values["timbre"] = tv.expand(C, -1)
    cond = Conds(values, {k: torch.ones(C) for k in values})
    if tv is not None:
        parts = cond.keeping(()).cat(cond.keeping((struct_name,)), cond)

        def guide(x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
            v = m.velocity(torch.cat([x, x, x]), torch.cat([a, a, a]), parts)
            n, s, f = v.chunk(3)
            return dual_guidance(n, s, f, guidance_structure, guidance_timbre)
    else:
        parts = cond.keeping(()).cat(cond)

        def guide(x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
            v = m.velocity(torch.cat([x, x]), torch.cat([a, a]), parts)
            n, f = v.chunk(2)
            return single_cfg(n, f, guidance_structure)

    lat_out = _sample(m, (C, cfg.dim, T), guide, steps, seed, progress, "restyle", threads)
    out, rate = _render(m, lat_out, render, index, sr if sr is not None else out_default)
    n = int(round(seconds * rate))
    out = fit_length(out, n)
    return (out, rate, lat_out) if return_latents else (out, rate)
