"""``train()``: fit a latent diffusion model on corpus latents, resumably.

Each step draws its batch, noise and condition dropout from generators seeded by
``(seed, step)``, so a run interrupted and resumed from its checkpoint takes the same
steps as an uninterrupted one. The checkpoint ``MODEL.lmdiff.ckpt`` (weights, EMA,
optimiser, losses) is replaced atomically every ``checkpoint_steps`` steps or
``checkpoint_seconds`` seconds, whichever comes first, so a kill loses at most that
much; running the same command again resumes from it. Finished, it writes the model
(EMA weights) and a loss-curve PNG ``MODEL.loss.png`` (when matplotlib is installed).
"""

from __future__ import annotations

import copy
import json
import math
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from latentmorph.atomic import atomic_path
from latentmorph.codecs import Codec
from latentmorph.diffusion.conditions import Conds, random_drop
from latentmorph.diffusion.config import CONDITIONS, ModelConfig, preset_config
from latentmorph.diffusion.data import TrainSet, build_trainset, open_indexes
from latentmorph.diffusion.flow import flow_loss
from latentmorph.diffusion.model import DiffusionModel
from latentmorph.diffusion.threads import torch_threads
from latentmorph.diffusion.model_file import FORMAT, SUFFIX, VERSION, parse_json, read_blob, save_model, write_blob
from latentmorph.errors import ConditionError, ModelError

#: Steps a run takes when neither ``steps`` nor ``minutes`` is given.
DEFAULT_STEPS = {"tiny": 300, "small": 20000, "base": 200000}


@dataclass
class TrainReport:
    """What :func:`train` did.

    Attributes:
        path: the model file written.
        steps: total optimiser steps of the model (including resumed ones).
        resumed_from: step the run resumed at (0 = fresh).
        seconds: training wall time over all runs.
        losses: loss per step (all runs).
        frames_per_second: latent frames per second of training in this run.
        files, frames: sequences and latent frames trained on.
        parameters: parameter count.
        checkpoint, plot: paths (``plot`` is ``None`` without matplotlib).
    """

    path: Path
    steps: int
    resumed_from: int
    seconds: float
    losses: list[float]
    frames_per_second: float
    files: int
    frames: int
    parameters: int
    checkpoint: Path
    plot: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def final_loss(self) -> float:
        tail = self.losses[-max(1, len(self.losses) // 10):]
        return float(np.mean(tail)) if tail else float("nan")

    def summary(self) -> str:
        resumed = f", resumed at step {self.resumed_from}" if self.resumed_from else ""
        return (f"{self.path}: {self.steps} steps{resumed}, loss {self.final_loss:.3f}, {self.files} sequences / "
                f"{self.frames} frames, {self.parameters / 1e6:.2f} M parameters, "
                f"{self.frames_per_second:.0f} frames/s, {self.seconds / 60:.1f} min")


def checkpoint_path(output: Path) -> Path:
    return output.with_name(output.name + ".ckpt")


def plot_path(output: Path) -> Path:
    return output.with_suffix(".loss.png")


def check_train_options(output: Path, conditions: Sequence[str], steps: int | None, minutes: float | None,
                        device: str) -> None:
    if output.suffix != SUFFIX:
        raise ModelError(f"{output}: the model file name must end in {SUFFIX}")
    if output.is_dir():
        raise ModelError(f"{output}: is a folder, expected a model file name")
    bad = [c for c in conditions if c not in CONDITIONS]
    if bad:
        raise ConditionError(f"conditions {','.join(bad)}: use any of {', '.join(CONDITIONS)}")
    if "structure" in conditions and "midi" in conditions:
        raise ConditionError("conditions: structure and midi are two forms of the structure input; train with one of them")
    if steps is not None and minutes is not None:
        raise ModelError("give --steps or --minutes, not both")
    if steps is not None and int(steps) < 1:
        raise ModelError(f"--steps {steps}: must be at least 1")
    if minutes is not None and not float(minutes) > 0:
        raise ModelError(f"--minutes {minutes}: must be above 0")
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise ModelError(f"--device {device}: use cpu or cuda")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError(f"--device {device}: no CUDA GPU is available here; use --device cpu")


def _conds(model: DiffusionModel, batch: dict[str, torch.Tensor], z: torch.Tensor) -> Conds:
    """Conditions of a training batch before dropout (keep = presence)."""
    cfg = model.config
    values, keep = {}, {}
    B = z.shape[0]
    if "tempo" in cfg.conditions:
        values["tempo"], keep["tempo"] = batch["phase"], batch["has_phase"]
    if "structure" in cfg.conditions:
        values["structure"], keep["structure"] = model.encode_structure(z), torch.ones(B, device=z.device)
    if "midi" in cfg.conditions:
        values["midi"], keep["midi"] = batch["roll"], batch["has_roll"]
    if "timbre" in cfg.conditions:
        values["timbre"] = model.encode_timbre(model.normalize(batch["timbre_x"]))
        keep["timbre"] = torch.ones(B, device=z.device)
    if "clap" in cfg.conditions:
        values["clap"], keep["clap"] = batch["clap"], batch["has_clap"]
    return Conds(values, keep)


def _drop(conds: Conds, p: float, gen: torch.Generator, device: torch.device) -> Conds:
    cpu = Conds(conds.values, {k: v.cpu() for k, v in conds.keep.items()})
    dropped = random_drop(cpu, p, gen)
    return Conds(conds.values, {k: v.to(device) for k, v in dropped.keep.items()})


def _ckpt_save(path: Path, cfg: ModelConfig, signature: Any, step: int, elapsed: float, losses: list[float],
               model: DiffusionModel, ema: DiffusionModel, opt: torch.optim.Optimizer) -> None:
    blob = {
        "format": FORMAT, "version": VERSION, "kind": "checkpoint",
        "config": json.dumps(cfg.to_dict(), sort_keys=True),
        "signature": json.dumps(signature, sort_keys=True),
        "step": int(step), "elapsed": float(elapsed),
        "losses": torch.tensor(losses, dtype=torch.float32),
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "ema": {k: v.detach().cpu() for k, v in ema.state_dict().items()},
        "opt": _to_cpu(opt.state_dict()),
    }
    write_blob(path, blob)


def _to_cpu(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu()
    if isinstance(x, dict):
        return {k: _to_cpu(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_to_cpu(v) for v in x]
    return x


def _ckpt_load(path: Path, cfg: ModelConfig, signature: Any, model: DiffusionModel, ema: DiffusionModel,
               opt: torch.optim.Optimizer) -> tuple[int, float, list[float]]:
    """Restore a checkpoint into ``model``/``ema``/``opt``; refuse one of other settings or data."""
    from latentmorph.diffusion.model_file import build_checked

    blob = read_blob(path, "checkpoint")
    stored = ModelConfig.from_dict(parse_json(path, blob, "config"), str(path))
    if stored != cfg:
        diff = [k for k, v in cfg.to_dict().items() if stored.to_dict().get(k) != v]
        raise ModelError(f"{path}: checkpoint of a run with other settings ({', '.join(diff)}); "
                         "delete it to start afresh or choose another -o")
    if parse_json(path, blob, "signature") != json.loads(json.dumps(signature)):
        raise ModelError(f"{path}: checkpoint of a run on other training data (or another codec); "
                         "delete it to start afresh or choose another -o")
    step, elapsed, losses = blob.get("step"), blob.get("elapsed"), blob.get("losses")
    if not isinstance(step, int) or step < 0 or not isinstance(elapsed, float) or not isinstance(losses, torch.Tensor) \
            or losses.dim() != 1 or losses.dtype != torch.float32 or losses.numel() != step:
        raise ModelError(f"{path}: checkpoint counters are damaged")
    model.load_state_dict(build_checked(path, cfg, blob.get("model")).state_dict())
    ema.load_state_dict(build_checked(path, cfg, blob.get("ema")).state_dict())
    try:
        opt.load_state_dict(blob["opt"])
    except (KeyError, ValueError, TypeError, RuntimeError) as err:
        raise ModelError(f"{path}: checkpoint optimiser state is damaged ({type(err).__name__})") from None
    return step, elapsed, losses.tolist()


@torch.no_grad()
def fit_timbre_map(model: DiffusionModel, data: TrainSet, device: torch.device) -> np.ndarray:
    """Timbre vectors of every training sequence; store their 2-D PCA in the model. Returns ``[N, timbre_dim]``."""
    if "timbre" not in model.config.conditions:
        return np.zeros((0, model.config.timbre_dim), np.float32)
    vecs = []
    for seq in data.sequences:
        z = model.normalize(torch.from_numpy(seq)[None].to(device))
        vecs.append(model.encode_timbre(z)[0].cpu().numpy())
    v = np.stack(vecs).astype(np.float64)
    mean = v.mean(0)
    axes = np.eye(2, v.shape[1])
    if v.shape[0] >= 2:
        _, _, vt = np.linalg.svd(v - mean, full_matrices=False)
        axes[: min(2, vt.shape[0])] = vt[:2]
    proj = (v - mean) @ axes.T
    scale = np.maximum(proj.std(0), 1e-3) if v.shape[0] >= 2 else np.ones(2)
    model.timbre_mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
    model.timbre_axes.copy_(torch.as_tensor(axes, dtype=torch.float32))
    model.timbre_scale.copy_(torch.as_tensor(scale, dtype=torch.float32))
    return v.astype(np.float32)


def plot_losses(path: Path, losses: list[float], title: str) -> Path | None:
    """A loss-curve PNG (raw and smoothed); ``None`` with a warning when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        warnings.warn("no loss plot: matplotlib is not installed (pip install 'latentmorph[plot]')", stacklevel=2)
        return None
    y = np.asarray(losses, dtype=np.float64)
    k = max(1, len(y) // 50)
    smooth = np.convolve(y, np.ones(k) / k, mode="valid") if len(y) >= k else y
    fig, ax = plt.subplots(figsize=(7, 3.5), dpi=100)
    ax.plot(np.arange(1, len(y) + 1), y, lw=0.5, alpha=0.4, label="loss per step")
    ax.plot(np.arange(k, k + len(smooth)), smooth, lw=1.5, label=f"mean of {k}")
    ax.set_xlabel("step"); ax.set_ylabel("flow MSE"); ax.set_yscale("log"); ax.set_title(title)
    ax.legend(); fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path


def train(
    inputs: Sequence[Any],
    output: str | os.PathLike,
    *,
    preset: str = "tiny",
    conditions: Sequence[str] = ("tempo", "timbre", "structure"),
    steps: int | None = None,
    minutes: float | None = None,
    device: str = "cpu",
    codec: str | Codec | None = None,
    clap: str | os.PathLike | None = None,
    seed: int = 0,
    progress: bool = True,
    arch: str = "unet",
    batch: int | None = None,
    crop: int | None = None,
    lr: float | None = None,
    checkpoint_steps: int = 500,
    checkpoint_seconds: float = 60.0,
    plot: bool = True,
    threads: int | None = None,
    on_step: Callable[[int, float], None] | None = None,
) -> TrainReport:
    """Train a latent diffusion model and write it to ``output`` (``.lmdiff``).

    Args:
        inputs: ``.lmindex`` folders / loaded indexes, or audio files and folders (indexed
            first into the cache with the codec).
        output: the model file; ``output + ".ckpt"`` is its resumable checkpoint and
            ``MODEL.loss.png`` its loss curve.
        preset: ``tiny`` (seconds, tests), ``small`` (CPU), ``base`` (GPU).
        conditions: any of ``tempo``, ``timbre``, ``structure``, ``midi``, ``clap``.
        steps, minutes: how long to train in total (counting resumed steps/time); one of them.
        device: ``cpu`` or ``cuda``.
        codec: codec for audio inputs (default: the index's, else embedded).
        clap: local CLAP folder (``clap`` condition).
        seed: seeds the initialisation and every step's batch/noise/dropout.
        arch: ``unet`` (default) or ``transformer`` (causal).
        batch, crop, lr: override the preset's batch size, crop length (frames), learning rate.
        checkpoint_steps, checkpoint_seconds: checkpoint interval.
        plot: write the loss-curve PNG.
        threads: torch CPU threads (default: torch's setting; see :mod:`latentmorph.diffusion.threads`).
        on_step: called ``(step, loss)`` after each step (hooks, tests).

    Returns:
        a :class:`TrainReport`.
    """
    output = Path(output)
    conditions = tuple(dict.fromkeys(conditions))
    check_train_options(output, conditions, steps, minutes, device)
    for p in inputs:
        if isinstance(p, (str, os.PathLike)) and Path(p).resolve() == output.resolve():
            raise ModelError(f"{output}: the output is one of the inputs")
    with torch_threads(threads):
        return _prepare(inputs, output, preset, conditions, steps, minutes, device, codec, clap, seed, progress, arch,
                        batch, crop, lr, checkpoint_steps, checkpoint_seconds, plot, on_step)


def _prepare(inputs: Sequence[Any], output: Path, preset: str, conditions: tuple[str, ...], steps: int | None,
             minutes: float | None, device: str, codec: str | Codec | None, clap: str | os.PathLike | None, seed: int,
             progress: bool, arch: str, batch: int | None, crop: int | None, lr: float | None, checkpoint_steps: int,
             checkpoint_seconds: float, plot: bool, on_step: Callable[[int, float], None] | None) -> TrainReport:
    """Index the inputs, collect the training set, build the model, run :func:`_run`."""
    dev = torch.device(device)
    indexes = open_indexes(inputs, codec, progress)
    data = build_trainset(indexes, conditions, clap=clap, progress=progress)
    c = data.codec
    changes: dict[str, Any] = dict(arch=arch, dim=c.dim, conditions=conditions, codec_spec=str(getattr(indexes[0], "codec_spec", c.name)),
                                   fingerprint=c.fingerprint, sample_rate=int(c.sample_rate), hop=int(c.hop))
    if "clap" in conditions:
        clap0 = data.clap[0]
        assert clap0 is not None, "the clap condition gives every file an embedding"
        changes["clap_dim"] = int(clap0.shape[0])
    for k, v in (("batch", batch), ("crop", crop), ("lr", lr)):
        if v is not None:
            changes[k] = v
    cfg = preset_config(preset, **changes)
    try:
        cfg.check()
    except ModelError as err:
        raise ModelError(f"{output}: {err}") from None
    total_steps = None if minutes is not None else int(steps or DEFAULT_STEPS[preset])
    torch.manual_seed(seed)
    model = DiffusionModel(cfg)
    return _run(model, cfg, data, output, dev, total_steps, minutes, seed, progress, checkpoint_steps,
                checkpoint_seconds, plot, on_step)


def _run(model: DiffusionModel, cfg: ModelConfig, data: TrainSet, output: Path, dev: torch.device,
         total_steps: int | None, minutes: float | None, seed: int, progress: bool, checkpoint_steps: int,
         checkpoint_seconds: float, plot: bool, on_step: Callable[[int, float], None] | None) -> TrainReport:
    """The training loop of :func:`train` (model built, options checked)."""
    mean, std = data.stats()
    model.set_latent_stats(mean, std)
    model.to(dev)
    ema = copy.deepcopy(model)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    signature = {"inputs": data.signature, "seed": int(seed)}
    ckpt = checkpoint_path(output)
    start, elapsed = 0, 0.0
    losses: list[float] = []
    if ckpt.exists():
        start, elapsed, losses = _ckpt_load(ckpt, cfg, signature, model, ema, opt)
    resumed_from = start

    from tqdm import tqdm

    budget = math.inf if minutes is None else float(minutes) * 60.0  # read only when training by time
    bar_total = total_steps if total_steps is not None else int(math.ceil(budget))
    bar = tqdm(total=bar_total, initial=min(start, bar_total) if total_steps is not None else int(min(elapsed, budget)),
               desc="train", unit="step" if total_steps is not None else "s", file=sys.stderr,
               disable=not progress or not sys.stderr.isatty(), dynamic_ncols=True)
    run_start = time.perf_counter()
    last_save = run_start
    step = start
    model.train()

    def done() -> bool:
        if total_steps is not None:
            return step >= total_steps
        return elapsed + (time.perf_counter() - run_start) >= budget

    frames_seen = 0
    while not done():
        gen = torch.Generator().manual_seed(int(seed) * 1_000_003 + step)
        rng = np.random.default_rng([int(seed), step])
        b = {k: torch.from_numpy(v).to(dev) for k, v in data.batch(rng, cfg.crop, cfg.batch).items()}
        z = model.normalize(b["x"])
        conds = _drop(_conds(model, b, z), cfg.drop, gen, dev)
        loss = flow_loss(lambda x, a: model.velocity(x, a, conds), z, gen)  # noqa: B023  (called in this iteration)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        decay = min(cfg.ema, (1.0 + step) / (10.0 + step))
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.mul_(decay).add_(pm.detach(), alpha=1.0 - decay)
        value = float(loss.detach())
        if not math.isfinite(value):
            raise ModelError(f"{output}: training diverged (loss {value}) at step {step}; try a lower learning rate")
        losses.append(value)
        step += 1
        frames_seen += cfg.batch * cfg.crop
        now = time.perf_counter()
        if total_steps is not None:
            bar.update(1)
        else:
            bar.n = int(min(elapsed + now - run_start, budget)); bar.refresh()
        bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}", step=step, refresh=False)
        if step % checkpoint_steps == 0 or now - last_save >= checkpoint_seconds:
            _ckpt_save(ckpt, cfg, signature, step, elapsed + now - run_start, losses, model, ema, opt)
            last_save = now
        if on_step is not None:
            on_step(step, value)
    bar.close()
    run_seconds = time.perf_counter() - run_start
    elapsed += run_seconds
    if step > resumed_from:
        _ckpt_save(ckpt, cfg, signature, step, elapsed, losses, model, ema, opt)
    ema.eval()
    fit_timbre_map(ema, data, dev)
    ema.cpu()
    # no wall times in the file: the same data, seed and steps give the same bytes
    meta = {"steps": step, "final_loss": float(np.mean(losses[-20:])) if losses else None,
            "sequences": len(data.sequences), "frames": data.frames, "seed": int(seed),
            "files": sorted({Path(n).name for n in data.names})[:200]}
    save_model(output, ema, meta)
    png = plot_losses(plot_path(output), losses, f"{output.name}: {cfg.preset} {cfg.arch}") if plot and losses else None
    return TrainReport(output, step, resumed_from, elapsed, losses,
                       frames_seen / run_seconds if run_seconds > 0 else 0.0, len(data.sequences), data.frames,
                       ema.parameter_count(), ckpt, png)
