"""Model configuration and the presets ``tiny``, ``small``, ``base``.

A :class:`ModelConfig` is everything needed to rebuild the network of a model file;
it is stored in the file as JSON and validated field by field when read back.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from latentmorph.errors import ModelError

#: Every condition a model can be trained with.
CONDITIONS = ("tempo", "timbre", "structure", "midi", "clap")

#: Denoiser architectures.
ARCHS = ("unet", "transformer")


@dataclass(frozen=True)
class ModelConfig:
    """Sizes and settings of one diffusion model.

    Attributes:
        preset: the preset it started from.
        arch: ``"unet"`` (default) or ``"transformer"`` (causal).
        dim: latent dimension of the codec.
        channels, levels: UNet width at full resolution and number of resolutions.
        width, layers, heads: transformer size.
        emb: global embedding size (flow time + timbre + CLAP).
        crop: training crop in latent frames.
        timbre_dim, struct_dim: sizes of the timbre vector and structure sequence.
        enc_hidden: width of the condition encoders.
        midi_dim: channels the 128-pitch piano roll is projected to.
        clap_dim: CLAP embedding size (0 when not trained with CLAP).
        conditions: the conditions the model was trained with.
        drop: probability of dropping each condition in a training example.
        batch, lr, ema: training batch size, Adam learning rate, EMA decay.
        codec_spec, fingerprint, sample_rate, hop: the codec the latents come from.
    """

    preset: str = "tiny"
    arch: str = "unet"
    dim: int = 64
    channels: int = 32
    levels: int = 2
    width: int = 64
    layers: int = 2
    heads: int = 4
    emb: int = 64
    crop: int = 32
    timbre_dim: int = 4
    struct_dim: int = 4
    enc_hidden: int = 32
    midi_dim: int = 16
    clap_dim: int = 0
    conditions: tuple[str, ...] = ("tempo", "timbre", "structure")
    drop: float = 0.2
    batch: int = 8
    lr: float = 2e-3
    ema: float = 0.995
    codec_spec: str = "embedded"
    fingerprint: str = ""
    sample_rate: int = 44100
    hop: int = 1024

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["conditions"] = list(self.conditions)
        return d

    @classmethod
    def from_dict(cls, d: Any, where: str = "model") -> "ModelConfig":
        """Rebuild from stored JSON, checking every field's type and range (``ModelError``)."""
        if not isinstance(d, dict):
            raise ModelError(f"{where}: config is not a JSON object")
        known = {f.name: f for f in fields(cls)}
        extra = set(d) - set(known)
        missing = set(known) - set(d)
        if extra or missing:
            raise ModelError(f"{where}: config fields differ (missing {sorted(missing)}, unknown {sorted(extra)})")
        out: dict[str, Any] = {}
        for name, f in known.items():
            v = d[name]
            if f.type in ("int",):
                if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= 1_000_000:
                    raise ModelError(f"{where}: config {name}={v!r} is not a sensible integer")
            elif f.type == "float":
                if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0.0 <= float(v) <= 1.0:
                    raise ModelError(f"{where}: config {name}={v!r} is not a number in 0..1")
                v = float(v)
            elif f.type == "str":
                if not isinstance(v, str) or len(v) > 1000:
                    raise ModelError(f"{where}: config {name} is not a string")
            else:  # conditions
                if not isinstance(v, list) or not all(isinstance(c, str) and c in CONDITIONS for c in v):
                    raise ModelError(f"{where}: config conditions {v!r} are not among {', '.join(CONDITIONS)}")
                v = tuple(v)
            out[name] = v
        cfg = cls(**out)
        cfg.check(where)
        return cfg

    def check(self, where: str = "model") -> None:
        """Raise :class:`ModelError` for sizes that cannot build a network."""
        problems = []
        if self.arch not in ARCHS:
            problems.append(f"arch {self.arch!r}")
        if not (1 <= self.levels <= 6 and 1 <= self.channels and 1 <= self.dim and 8 <= self.crop):
            problems.append("sizes")
        if self.width % max(self.heads, 1) or self.heads < 1:
            problems.append("width/heads")
        if ("clap" in self.conditions) != (self.clap_dim > 0):
            problems.append("clap_dim")
        if self.sample_rate < 1000 or self.hop < 1:
            problems.append("codec rate/hop")
        if problems:
            raise ModelError(f"{where}: config has unusable {', '.join(problems)}")


PRESETS: dict[str, ModelConfig] = {
    "tiny": ModelConfig(),
    "small": ModelConfig(preset="small", channels=64, levels=3, width=128, layers=4, emb=128, crop=128,
                         timbre_dim=4, struct_dim=4, enc_hidden=64, batch=16, lr=1e-3, ema=0.999),
    "base": ModelConfig(preset="base", channels=192, levels=4, width=384, layers=8, heads=6, emb=256, crop=256,
                        timbre_dim=6, struct_dim=6, enc_hidden=128, batch=32, lr=5e-4, ema=0.9995),
}


def preset_config(preset: str, **changes: Any) -> ModelConfig:
    """The preset's config with ``changes`` applied; :class:`ModelError` for an unknown preset."""
    if preset not in PRESETS:
        raise ModelError(f"preset {preset!r}: use one of {', '.join(PRESETS)}")
    return replace(PRESETS[preset], **changes)
