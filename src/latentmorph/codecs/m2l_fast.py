"""How the Music2Latent UNet runs on a CPU: precision, threads, inference mode, torch.compile.

:class:`UNetRunner` wraps the package's ``UNet`` and offers the two calls the codec needs,
``encode`` (spectrogram -> latents) and ``denoise`` (latents + noise -> spectrogram), each
under ``torch.inference_mode()`` and, when chosen, ``torch.autocast("cpu", bfloat16)``
and ``torch.compile``.

Cost: decoding is ~290 GFLOP per second of audio, encoding ~42 (``torch.utils.flop_counter``),
so fp32 decoding in real time would need ~90 % of the fp32 peak of two AVX-512 cores.

Precision (``precision=``):
    ``"fp32"``: the reference. ``"bf16"``: bfloat16 autocast (convolutions, matmuls and
    attention in bf16, norms in fp32). ``"auto"`` (the codec's default): bf16 only where
    the CPU has native bf16 arithmetic (AMX-BF16 or AVX512-BF16 on x86, FEAT_BF16 on Arm
    Macs), a cached probe measured it faster and within 25 dB SNR of fp32, and the input
    has at least 16 latent frames; everything else in fp32. See
    :mod:`latentmorph.codecs.m2l_precision` for the probe and the short-input rule.

Earlier measurements on a Xeon @ 2.5 GHz with AVX-512 but *no* native bf16 (2 shared
cores, 2-3 s clips, random-weight model, speed relative to the package's own inference
in the same run): this runner in fp32 0.93-1.61x (encode) and 1.07-1.40x (decode),
bit-identical; emulated bf16 0.49-0.90x and 0.50-0.76x, i.e. slower, so ``auto`` stays
fp32 there. On the Xeon with AMX-BF16 see docs/codecs.md (``bench/bench_m2l.py``).

Memory layout (``channels_last=True``, the default): the model's 4-D weights and its inputs
are channels-last (NHWC). With NCHW tensors oneDNN reorders every convolution's input and
output into its own blocked layout and back: profiling a 10 s bf16 encode on the Xeon with
AMX showed 60 % of the time in ``aten::copy_``. Measured on a 5 s input (same process, load
~2.5): bf16 autocast encode 1.72 s NCHW -> 0.71 s channels-last (2.4x), fp32 2.17 -> 1.87 s;
casting the weights to bf16 instead of autocast was slower (0.85 s). Values: fp32
channels-last against fp32 NCHW 90 dB SNR (another summation order).

Compilation (``compile=True``): ``torch.compile`` (inductor) of the encoder and of the
denoising UNet. Kernels are cached on disk (``<latentmorph cache>/inductor``) so the
one-time compile cost is paid once, not per run: cold, compiling the decoder for one input
length took ~10 min on 2 busy cores (encoder + decoder ~4 min more); with the kernels
cached the first call took 50 s. Output within 3e-6 relative L2 of fp32 eager (SNR 108 dB).
On the dev machine it did not pay: two runs on a 2.1 s clip gave decode 1.86x and 1.06x
the package's speed (eager fp32 in the same runs: 1.22x and 1.17x) and encode 1.17x and
0.74x; the convolutions, which are most of the time, run in oneDNN either way. So it is
off by default; it may help on other CPUs, measure with the benchmark. The first input
length gets a static graph; a different length makes torch recompile once with dynamic
lengths. When compilation is unavailable (no C++ compiler, unsupported platform) or
fails, it warns once and runs eager.
"""

from __future__ import annotations

import os
import platform
import subprocess
import warnings
from contextlib import nullcontext
from functools import lru_cache
from typing import Any, Callable

import torch

from latentmorph.codecs.m2l_weights import cache_dir
from latentmorph.errors import CodecError

PRECISIONS = ("auto", "fp32", "bf16")


@lru_cache(maxsize=1)
def native_bf16() -> bool:
    """True when this CPU does bfloat16 arithmetic in hardware (not emulated)."""
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64", "i686", "x86"):
        try:
            with open("/proc/cpuinfo") as f:
                flags = set()
                for line in f:
                    if line.startswith("flags"):
                        flags.update(line.split(":", 1)[1].split())
                        break
        except OSError:
            return False
        has_hw = bool({"amx_bf16", "avx512_bf16"} & flags)
        try:
            return has_hw and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            return False
    if machine in ("arm64", "aarch64") and platform.system() == "Darwin":
        try:
            out = subprocess.run(["sysctl", "-n", "hw.optional.arm.FEAT_BF16"], capture_output=True, text=True, timeout=2)
            return out.stdout.strip() == "1"
        except (OSError, subprocess.SubprocessError):
            return False
    return False


def resolve_precision(precision: str) -> str:
    """Check a precision name and normalise it (``"auto"`` stays ``"auto"``: see :func:`auto_bf16`)."""
    p = str(precision).lower()
    if p not in PRECISIONS:
        raise CodecError(f"music2latent: precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return p


def to_channels_last(model: Any) -> Any:
    """Convert ``model``'s 4-D weights to channels-last (NHWC) memory, in place; returns it.

    Values are unchanged; only the strides move. Idempotent.
    """
    return model.to(memory_format=torch.channels_last)


def auto_bf16(model: Any, op: str, frames: int, channels_last: bool = True) -> bool:
    """What ``precision="auto"`` does for ``op`` (``"encode"``/``"decode"``) on ``frames`` latent frames.

    bf16 only on CPUs with native bf16, where the cached probe of
    :mod:`latentmorph.codecs.m2l_precision` measured it faster and within tolerance, and
    only for inputs of at least ``MIN_BF16_FRAMES`` frames.
    """
    from latentmorph.codecs import m2l_precision

    if frames < m2l_precision.MIN_BF16_FRAMES or not native_bf16():
        return False
    return m2l_precision.choose(model, channels_last=channels_last)[op]


def set_threads(threads: int | None) -> int:
    """Set torch's intra-op thread count (``None``/0 keeps it); returns the count in use."""
    if threads:
        torch.set_num_threads(int(threads))
    return torch.get_num_threads()


def inductor_cache_dir() -> str:
    """Point inductor's on-disk kernel cache at latentmorph's cache (unless the user set one)."""
    path = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    if not path:
        path = str(cache_dir() / "inductor")
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = path
    os.makedirs(path, exist_ok=True)
    return path


class _Compiled:
    """A module compiled lazily on first call; falls back to eager (with one warning) on failure."""

    def __init__(self, fn: Callable[..., Any], label: str) -> None:
        self.eager = fn
        self.label = label
        self.compiled: Callable[..., Any] | None = None
        self.failed = False

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.failed:
            return self.eager(*args, **kwargs)
        try:
            if self.compiled is None:
                inductor_cache_dir()
                try:
                    import torch._inductor.config as inductor_config

                    inductor_config.fx_graph_cache = True
                except (ImportError, AttributeError):
                    pass
                self.compiled = torch.compile(self.eager)
            return self.compiled(*args, **kwargs)
        except Exception as err:  # noqa: BLE001  (any compiler failure -> eager)
            self.failed = True
            first = str(err).strip().splitlines()[0][:160] if str(err).strip() else type(err).__name__
            warnings.warn(f"music2latent: torch.compile unavailable for the {self.label} ({first}); running eager", stacklevel=2)
            return self.eager(*args, **kwargs)


class UNetRunner:
    """Runs the package's ``UNet`` for inference with the chosen speed options.

    Args:
        model: a ``music2latent.models.UNet`` in eval mode.
        precision: ``"auto"``, ``"fp32"`` or ``"bf16"`` (see the module docstring and
            :mod:`latentmorph.codecs.m2l_precision`). ``"auto"`` decides per call from
            the operation and the input length.
        compile: compile with inductor (cached on disk); eager fallback with a warning.
        threads: torch intra-op threads (``None`` keeps torch's setting).
        channels_last: run the convolutions on channels-last (NHWC) tensors; the model's
            4-D weights are converted in place (the model is shared per weights file).
    """

    def __init__(self, model: Any, precision: str = "auto", compile: bool = False, threads: int | None = None,
                 channels_last: bool = True) -> None:
        self.model = model.eval()
        self.channels_last = bool(channels_last)
        if self.channels_last:
            to_channels_last(self.model)
        self.precision = resolve_precision(precision)
        if self.precision == "bf16" and not native_bf16():
            warnings.warn("music2latent: this CPU has no native bf16; bf16 is emulated and usually slower than fp32", stacklevel=2)
        self.threads = set_threads(threads)
        self.compile = bool(compile)
        self._encoder: Callable[..., Any] = self.model.encoder
        self._unet: Callable[..., Any] = self.model
        if self.compile:
            self._encoder = _Compiled(self.model.encoder, "encoder")
            self._unet = _Compiled(self.model, "decoder")
        #: what the last call ran in ("fp32" or "bf16")
        self.last_precision: str | None = None

    def uses_bf16(self, op: str, frames: int) -> bool:
        """Whether ``op`` (``"encode"``/``"decode"``) on ``frames`` latent frames runs in bf16."""
        if self.precision == "auto":
            return auto_bf16(self.model, op, frames, self.channels_last)
        return self.precision == "bf16"

    def _autocast(self, op: str, frames: int):  # noqa: ANN202
        bf16 = self.uses_bf16(op, frames)
        self.last_precision = "bf16" if bf16 else "fp32"
        if bf16:
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return nullcontext()

    def encode(self, spec: torch.Tensor, extract_features: bool = False) -> torch.Tensor:
        """``[B, 2, 1024, 8*T]`` normalised STFT -> ``[B, 64, T]`` (or ``[B, 8192, T]`` features)."""
        spec = self._layout(spec)
        with torch.inference_mode(), self._autocast("encode", spec.shape[-1] // 8):
            if extract_features:  # the pre-bottleneck features are not worth a compiled graph of their own
                out = self.model.encoder(spec, extract_features=True)
            else:
                out = self._encoder(spec)
        return out.float()

    def denoise(self, latents: torch.Tensor, noisy: torch.Tensor, sigma: float) -> torch.Tensor:
        """One consistency step: latents ``[B, 64, T]`` + noisy spectrogram ``[B, 2, 1024, 8*T]`` at ``sigma`` -> clean spectrogram."""
        noisy = self._layout(noisy)
        with torch.inference_mode(), self._autocast("decode", latents.shape[-1]):
            out = self._unet(latents, noisy, sigma)
        return out.float().contiguous()

    def _layout(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, H, W]`` in the memory layout the runner's convolutions want."""
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    @property
    def compile_failed(self) -> bool:
        """True when compilation was asked for but the runner fell back to eager."""
        return any(isinstance(f, _Compiled) and f.failed for f in (self._encoder, self._unet))
