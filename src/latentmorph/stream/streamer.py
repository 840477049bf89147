"""``Streamer``: causal latent granular transfer, one block at a time (numpy in/out)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from latentmorph.errors import AudioError, CodecError, LatentmorphError
from latentmorph.stream.core import StreamCore
from latentmorph.stream.tables import CorpusTables, build_tables

#: Streaming defaults (the offline transfer's where they are causal; see docs/realtime.md).
DEFAULTS: dict[str, Any] = dict(lag=1, k=8, continuity=2.0, avoid_repeat=8, follow_loudness=True, wet=1.0,
                                normalize="running", grain_filter=True, fade=None)


def check_options(lag: int, k: int, continuity: float, avoid_repeat: int, wet: float) -> None:
    """Raise :class:`LatentmorphError` (one line) for an option out of range."""
    if int(lag) < 0 or int(lag) > 32:
        raise LatentmorphError(f"lag {lag}: use 0..32 frames of look-ahead")
    if int(k) < 1:
        raise LatentmorphError("k must be at least 1")
    if float(continuity) < 0 or int(avoid_repeat) < 0:
        raise LatentmorphError("continuity and avoid_repeat must be 0 or more")
    if not 0.0 <= float(wet) <= 1.0:
        raise LatentmorphError("wet must lie in 0..1")


def open_tables(index: Any, normalize: str, grain_filter: bool) -> tuple[CorpusTables, Any]:
    """Open an index (object or ``.lmindex`` path) and flatten it; also return its codec."""
    from latentmorph.transfer.corpus import open_corpus

    corpus = open_corpus(index, None)
    codec = corpus.codec()
    if getattr(codec, "name", "") != "embedded":
        raise CodecError(f"{getattr(corpus, 'path', 'index')}: streaming needs an index built with the embedded codec "
                         f"(this one uses {codec.name}); rebuild it with `latentmorph index ... --codec embedded`")
    return build_tables(corpus, normalize=normalize, grain_filter=grain_filter), codec


def make_core(tables: CorpusTables, codec, channels: int, *, lag: int, k: int, continuity: float,  # noqa: ANN001
              avoid_repeat: int, follow_loudness: bool, wet: float, fade: int | None, running: bool = True) -> StreamCore:
    """A :class:`StreamCore` over ``tables`` with the embedded codec's analysis matrices."""
    t = torch.from_numpy
    return StreamCore(
        t(tables.feats), t(tables.valid), t(tables.succ), t(tables.offset), t(tables.audio), t(tables.keep),
        t(tables.mean), t(tables.scale), t(tables.weight), codec._window.clone(), codec._mel_t.clone(),
        codec._enc_matrix.clone(), hop=tables.hop, channels=channels, lag=lag, k=k, k_max=max(16, int(k)),
        continuity=continuity, avoid_repeat=avoid_repeat, repeat_max=max(64, int(avoid_repeat)),
        follow_loudness=follow_loudness, wet=wet, fade=tables.hop // 2 if fade is None else fade, running=running,
    )


class Streamer:
    """Causal block processing of latent granular transfer.

    ``process(block)`` takes ``[C, n]`` float audio at the index's sample rate (44.1 kHz
    for the embedded codec) for any ``n`` (1 sample, odd sizes, 0) and returns ``[C, n]``:
    the transfer of the input ``latency`` samples earlier. Nothing is computed from
    future input beyond that delay.

    Args:
        index: a corpus index (embedded codec) or a ``.lmindex`` path (or a ``(CorpusTables,
            codec)`` pair already flattened by :func:`~latentmorph.stream.tables.build_tables`).
        lag: look-ahead frames of the matcher; latency is ``(lag + 1) * hop`` samples.
        k: candidates per frame. continuity: cost of a jump. avoid_repeat: frames a grain
            is not reused within (0 allows). follow_loudness: follow the source's RMS.
        wet: dry/wet mix. normalize: ``"running"`` (default: the source standardised by
            its statistics so far), ``"corpus"`` or ``"none"``. grain_filter: skip
            edge/near-silent corpus grains. fade: crossfade samples at a jump (default hop/2).
        channels: fixed channel count (default: taken from the first block).
        jit: run the engine through ``torch.jit.script`` (about 1.6x faster per frame,
            the same samples; scripting takes a few seconds once).
    """

    def __init__(self, index: Any, *, channels: int | None = None, jit: bool = False, **options: Any) -> None:
        unknown = set(options) - set(DEFAULTS)
        if unknown:
            raise LatentmorphError(f"Streamer: unknown option(s) {', '.join(sorted(unknown))}; use {', '.join(DEFAULTS)}")
        self.options = {**DEFAULTS, **options}
        o = self.options
        check_options(o["lag"], o["k"], o["continuity"], o["avoid_repeat"], o["wet"])
        if isinstance(index, tuple) and len(index) == 2 and isinstance(index[0], CorpusTables):
            self.tables, self.codec = index  # (tables, codec) made by build_tables (benchmarks)
        else:
            self.tables, self.codec = open_tables(index, o["normalize"], bool(o["grain_filter"]))
        self.jit = bool(jit)
        self._core: StreamCore | None = None
        self._run: Any = None
        if channels is not None:
            self._start(int(channels))

    def _start(self, channels: int) -> None:
        self._core = self._make(channels)
        if self.jit:
            from latentmorph.stream.export import script

            self._run = script(self._core)
        else:
            self._run = self._core

    def _make(self, channels: int) -> StreamCore:
        if channels < 1:
            raise AudioError("Streamer: need at least one channel")
        o = self.options
        return make_core(self.tables, self.codec, channels, lag=int(o["lag"]), k=int(o["k"]),
                         continuity=float(o["continuity"]), avoid_repeat=int(o["avoid_repeat"]),
                         follow_loudness=bool(o["follow_loudness"]), wet=float(o["wet"]), fade=o["fade"],
                         running=o["normalize"] == "running")

    @property
    def core(self) -> StreamCore:
        """The torch engine (made on the first block when ``channels`` was not given)."""
        if self._core is None:
            self._start(1)
        assert self._core is not None  # _start made it
        return self._core

    @property
    def sample_rate(self) -> int:
        """Rate ``process`` expects and returns (the index's codec rate)."""
        return int(self.tables.sample_rate)

    @property
    def hop(self) -> int:
        return int(self.tables.hop)

    @property
    def latency(self) -> int:
        """Delay of the output behind the input, in samples (``(lag + 1) * hop``)."""
        return (int(self.options["lag"]) + 1) * self.hop

    def process(self, block: np.ndarray) -> np.ndarray:
        """``[C, n]`` (or ``[n]``) float audio -> ``[C, n]`` (same layout), float32."""
        x = np.asarray(block, dtype=np.float32)
        one_d = x.ndim == 1
        if one_d:
            x = x[None]
        if x.ndim != 2:
            raise AudioError(f"Streamer.process: expected [channels, samples], got shape {list(np.shape(block))}")
        if self._core is None:
            self._start(x.shape[0])
        assert self._core is not None  # _start made it
        if x.shape[0] != self._core.channels:
            raise AudioError(f"Streamer.process: got {x.shape[0]} channel(s), the stream has {self._core.channels}")
        if not np.isfinite(x).all():
            x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
        with torch.no_grad():
            y = self._run(torch.from_numpy(np.ascontiguousarray(x))).numpy().copy()
        return y[0] if one_d else y

    def warm_up(self, frames: int = 16) -> None:
        """Run ``frames`` hops of quiet noise through the engine, then :meth:`reset`.

        The TorchScript executor (``jit``) specialises its code on the first calls, which
        take far longer than later ones; do it before the first real block.
        """
        C = self.core.channels
        noise = np.random.default_rng(0).standard_normal((C, frames * self.hop)).astype(np.float32) * 1e-2
        for i in range(0, noise.shape[-1], 256):
            self.process(noise[:, i:i + 256])
        self.reset()

    def reset(self) -> None:
        """Forget the past: the next block starts a new stream."""
        if self._run is not None:
            self._run.reset()
