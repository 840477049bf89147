"""TorchScript export for nn~ (Max/MSP, Pure Data): the corpus and the engine in one file.

The exported module follows the conventions of the ``nn_tilde`` Python package (which
pins its own torch, so it is not a dependency here; the conventions are rebuilt):

* ``forward`` is the registered method: ``forward_params`` buffer
  ``[in_channels, in_ratio, out_channels, out_ratio]`` = ``[C, 1, C, 1]``, labels in
  ``forward_input_labels`` / ``forward_output_labels``; ``get_methods()`` lists it.
* Attributes are tuples with a ``<name>_params`` buffer of type codes (bool 0, int 1,
  float 2), a ``get_<name>()`` returning the tuple and a ``set_<name>(value) -> int``
  setter (0 = accepted, 1 = refused); ``get_attributes()`` lists them.
* ``get_sample_rate()`` / ``set_sample_rate(sr)`` (the engine runs at the corpus rate).

Extra methods: ``reset()``, ``get_latency()`` (samples). Everything the module reads
(grain features, successors, corpus audio, analysis matrices) is a buffer inside it, so
``torch.jit.load(path)`` needs neither latentmorph nor the index.
"""

# no `from __future__ import annotations`: TorchScript reads the class annotations below.
import os
import warnings
from typing import Any, List, Tuple

import torch

from latentmorph.atomic import atomic_path
from latentmorph.errors import LatentmorphError
from latentmorph.stream.core import StreamCore

#: nn~ attribute type codes (``nn_tilde.TYPE_HASH``).
TYPE_CODES = {bool: 0, int: 1, float: 2}


class NNTildeStream(torch.nn.Module):
    """nn~ wrapper of a :class:`StreamCore` (``forward(x [1, C, n]) -> [1, C, n]``)."""

    _methods: List[str]
    _attributes: List[str]
    forward_input_labels: List[str]
    forward_output_labels: List[str]
    continuity: Tuple[float]
    wet: Tuple[float]
    k: Tuple[int]
    avoid_repeat: Tuple[int]
    follow_loudness: Tuple[bool]

    def __init__(self, core: StreamCore, sample_rate: int) -> None:
        super().__init__()
        self.core = core
        C = core.channels
        self.sr = int(sample_rate)
        self.register_buffer("forward_params", torch.tensor([C, 1, C, 1]))
        self.forward_input_labels = [f"(signal) source {i}" for i in range(C)]
        self.forward_output_labels = [f"(signal) transfer {i}" for i in range(C)]
        self._methods = ["forward"]
        values: dict[str, Any] = dict(continuity=float(core.continuity), wet=float(core.wet), k=int(core.k),
                                      avoid_repeat=int(core.avoid_repeat), follow_loudness=bool(core.follow_loudness))
        self._attributes = list(values)
        for name, v in values.items():
            setattr(self, name, (v,))
            self.register_buffer(f"{name}_params", torch.tensor([TYPE_CODES[type(v)]], dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` ``[B, C, n]`` with ``B * C`` = the exported channel count -> same shape."""
        B, C, n = x.shape[0], x.shape[1], x.shape[2]
        if B * C != self.core.channels:
            raise RuntimeError("latentmorph stream: batch x channels must equal the exported channel count")
        return self.core(x.reshape(B * C, n).float()).reshape(B, C, n)

    @torch.jit.export
    def get_methods(self) -> List[str]:
        return self._methods

    @torch.jit.export
    def get_attributes(self) -> List[str]:
        return self._attributes

    @torch.jit.export
    def get_sample_rate(self) -> int:
        return self.sr

    @torch.jit.export
    def set_sample_rate(self, sample_rate: int) -> None:
        """Recorded only: the engine runs at the corpus rate (see ``get_sample_rate``)."""
        pass

    @torch.jit.export
    def get_latency(self) -> int:
        return self.core.latency

    @torch.jit.export
    def reset(self) -> None:
        self.core.reset()

    @torch.jit.export
    def get_continuity(self) -> Tuple[float]:
        return self.continuity

    @torch.jit.export
    def set_continuity(self, continuity0: float) -> int:
        if continuity0 < 0.0:
            return 1
        self.continuity = (continuity0,)
        self.core.continuity = continuity0
        return 0

    @torch.jit.export
    def get_wet(self) -> Tuple[float]:
        return self.wet

    @torch.jit.export
    def set_wet(self, wet0: float) -> int:
        if wet0 < 0.0 or wet0 > 1.0:
            return 1
        self.wet = (wet0,)
        self.core.wet = wet0
        return 0

    @torch.jit.export
    def get_k(self) -> Tuple[int]:
        return self.k

    @torch.jit.export
    def set_k(self, k0: int) -> int:
        if k0 < 1 or k0 > self.core.k_max:
            return 1
        self.k = (k0,)
        self.core.k = k0
        return 0

    @torch.jit.export
    def get_avoid_repeat(self) -> Tuple[int]:
        return self.avoid_repeat

    @torch.jit.export
    def set_avoid_repeat(self, avoid_repeat0: int) -> int:
        if avoid_repeat0 < 0 or avoid_repeat0 > self.core.repeat_max:
            return 1
        self.avoid_repeat = (avoid_repeat0,)
        self.core.avoid_repeat = avoid_repeat0
        return 0

    @torch.jit.export
    def get_follow_loudness(self) -> Tuple[bool]:
        return self.follow_loudness

    @torch.jit.export
    def set_follow_loudness(self, follow_loudness0: bool) -> int:
        self.follow_loudness = (follow_loudness0,)
        self.core.follow_loudness = follow_loudness0
        return 0


def script(module: torch.nn.Module) -> torch.jit.ScriptModule:
    """``torch.jit.script`` without its deprecation warning (TorchScript is what nn~ loads)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.script(module)


def script_module(core: StreamCore, sample_rate: int, *, test_buffer: int = 4096) -> torch.jit.ScriptModule:
    """Script the nn~ wrapper and check ``forward`` the way nn~ registration does
    (a zero buffer ``[1, C, test_buffer]`` must come back ``[1, C, test_buffer]`` float)."""
    scripted = script(NNTildeStream(core, sample_rate).eval())
    C = core.channels
    with torch.no_grad():
        y = scripted(torch.zeros(1, C, test_buffer))
    if tuple(y.shape) != (1, C, test_buffer) or y.dtype != torch.float32:
        raise LatentmorphError(f"export: forward gave {tuple(y.shape)} {y.dtype}, nn~ expects (1, {C}, {test_buffer}) float32")
    scripted.reset()
    return scripted


def export_module(streamer, path: str | os.PathLike, *, channels: int = 1) -> dict[str, Any]:  # noqa: ANN001
    """Write ``streamer``'s engine (corpus inside) as a TorchScript file for nn~.

    Args:
        streamer: a :class:`latentmorph.stream.Streamer`.
        path: output ``.ts`` file (written atomically).
        channels: independent audio channels of the module.

    Returns:
        Facts for the CLI: ``grains``, ``bytes``, ``latency``, ``sample_rate``, ``channels``.
    """
    core = streamer._make(int(channels))
    scripted = script_module(core, streamer.sample_rate)
    with atomic_path(path, suffix=".ts") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(scripted, str(tmp))
    return dict(grains=len(streamer.tables), bytes=os.path.getsize(path), latency=core.latency,
                sample_rate=streamer.sample_rate, channels=int(channels))
