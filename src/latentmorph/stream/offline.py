"""``transfer_causal``: the whole-file reference of what :class:`Streamer` computes.

It runs the same causal settings the way the offline transfer runs (encode every frame
with the codec, search every frame at once, decide frame by frame, render the whole
signal, follow loudness over the whole signal), written independently of the block
engine in ``core.py``, so a test can show that cutting a file into blocks changes
nothing: ``Streamer`` gives these samples to float32 rounding.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from latentmorph.audio import as_2d, check_wave, resample
from latentmorph.errors import AudioError, LatentmorphError
from latentmorph.stream.core import (ACTIVE_DB, FLOOR_DB, FOLLOW_DIVISION, GAIN_RAMP, LIMIT_ATTACK, LIMIT_RELEASE,
                                     MAX_GAIN_DB, PEAK_CEILING, REPEAT_PENALTY, RUNNING_PRIOR, SILENCE_PEAK)
from latentmorph.stream.streamer import DEFAULTS, check_options, open_tables
from latentmorph.stream.tables import CorpusTables


def _queries(tables: CorpusTables, latents: np.ndarray, hops: np.ndarray, running: bool) -> np.ndarray:
    """Latent frames ``[T, dim]`` -> unit queries ``[T, D']``; ``hops`` ``[T, hop]`` is each
    frame's newest hop of source (its level decides whether it updates the running statistics)."""
    if not running:
        return tables.query(latents)
    x = latents[:, tables.keep].astype(np.float32)
    level = np.maximum(20 * np.log10(np.maximum(np.sqrt((hops.astype(np.float64) ** 2).mean(1)), 1e-12)), -100.0)
    mu, sd = tables.mean.astype(np.float64), tables.scale.astype(np.float64)
    s1, s2, n, top = np.zeros_like(mu), np.zeros_like(mu), 0.0, -1000.0
    q = np.empty_like(x)
    for t in range(x.shape[0]):
        top = max(top, level[t])
        if level[t] > top - ACTIVE_DB and level[t] > FLOOR_DB:
            xd = x[t].astype(np.float64)
            s1, s2, n = s1 + xd, s2 + xd * xd, n + 1.0
        mean = (s1 + RUNNING_PRIOR * mu) / (n + RUNNING_PRIOR)
        ex2 = (s2 + RUNNING_PRIOR * (sd * sd + mu * mu)) / (n + RUNNING_PRIOR)
        std = np.sqrt(np.maximum(ex2 - mean * mean, 0.0))
        std = np.where(std > 1e-6, std, 1.0)
        q[t] = ((x[t] - mean) / std).astype(np.float32) * tables.weight
    return (q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def _top(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Best ``k`` per row, best first: ``(scores [T, k], ids [T, k])``."""
    ids = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, ids, 1), ids


def _choose(tables: CorpusTables, q: np.ndarray, top: np.ndarray, ids: np.ndarray, unit: np.ndarray, k: int,
            lag: int, continuity: float, avoid_repeat: int) -> np.ndarray:
    """Grain per frame ``[T - lag]``: each frame the cheapest first step of a path over
    ``lag`` more frames, starting from the grain already chosen before it."""
    feats, succ, valid = tables.feats, tables.succ, tables.valid

    def cont_of(c: np.ndarray) -> np.ndarray:
        nxt = np.where(c >= 0, succ[np.maximum(c, 0)], -1)
        return np.where((nxt >= 0) & valid[np.maximum(nxt, 0)], nxt, -1)

    def cand_scores(t: int, c: np.ndarray) -> np.ndarray:
        s = (feats[np.maximum(c, 0)] @ q[t]).astype(np.float64)
        return np.where(c >= 0, s, -np.inf)

    T = q.shape[0]
    out = np.empty(max(0, T - lag), np.int64)
    prev = -1
    recent: list[int] = []
    for t in range(T - lag):
        u = unit[t + lag] if unit[t + lag] > 1e-9 else 1.0
        cont = cont_of(np.array([prev]))
        cand = np.concatenate([ids[t, :k], cont])
        sc = np.concatenate([top[t, :k].astype(np.float64), cand_scores(t, cont)])
        with np.errstate(invalid="ignore"):
            acc = (sc[0] - sc) / u
        if prev >= 0:
            acc = acc + continuity * (cand != cont[0])
        hist = np.array(recent[max(0, len(recent) - avoid_repeat):] if avoid_repeat else [], np.int64)
        acc = acc + REPEAT_PENALTY * np.isin(cand, hist)
        first, backs, cands = cand, [], [cand]
        for j in range(1, lag + 1):
            cj = cont_of(cand)
            new = np.concatenate([ids[t + j, :k], cj])
            ns = np.concatenate([top[t + j, :k].astype(np.float64), cand_scores(t + j, cj)])
            total = acc[:, None] + continuity * (new[None, :] != cj[:, None])
            back = np.argmin(total, axis=0)
            acc = total[back, np.arange(new.shape[0])] + (ns[0] - ns) / u + REPEAT_PENALTY * np.isin(new, hist)
            backs.append(back)
            cands.append(new)
            cand = new
        i = int(np.argmin(acc))
        for back in reversed(backs):
            i = int(back[i])
        prev = int(first[i])
        out[t] = prev
        recent.append(prev)
    return out


def _render(tables: CorpusTables, grains: np.ndarray, fade: int) -> np.ndarray:
    """Chosen grains ``[F]`` -> ``[F * hop]``: runs copied, jumps crossfaded after the boundary."""
    hop, audio, succ, offset = tables.hop, tables.audio, tables.succ, tables.offset
    x = np.arange(fade, dtype=np.float64)
    ramp_in = np.sin(0.5 * np.pi * (x + 0.5) / fade).astype(np.float32)
    ramp_out = ramp_in[::-1]
    out = np.zeros(grains.shape[0] * hop, np.float32)
    prev = -1
    for t, g in enumerate(grains):
        chunk = audio[offset[g]:offset[g] + hop].copy()
        if prev < 0 or succ[prev] != g:
            chunk[:fade] *= ramp_in
            if prev >= 0:
                chunk[:fade] += audio[offset[prev] + hop:offset[prev] + hop + fade] * ramp_out
        out[t * hop:(t + 1) * hop] = chunk
        prev = int(g)
    return out


def _ramped(values: np.ndarray, size: int, ramp: int | None = None) -> np.ndarray:
    """Per-piece values ``[P]`` -> ``[P * size]`` moving linearly from the previous piece's value
    to this one's over the first ``ramp`` samples (default: the whole piece)."""
    before = np.concatenate([values[:1], values[:-1]])
    r = np.minimum(np.arange(1, size + 1, dtype=np.float64) / min(ramp or size, size), 1.0)
    return (before[:, None] + (values - before)[:, None] * r[None, :]).reshape(-1)


def _follow(wet: np.ndarray, src: np.ndarray, hop: int) -> np.ndarray:
    """Scale ``wet [S]`` so each sub-frame's RMS is the source's (gains ramp from the last)."""
    div = FOLLOW_DIVISION if hop % FOLLOW_DIVISION == 0 else 1
    m = hop // div
    w = wet.astype(np.float64).reshape(-1, m)
    target = np.sqrt((src.astype(np.float64).reshape(-1, m) ** 2).mean(1))
    have = np.sqrt((w**2).mean(1))
    gain = np.where(have > 1e-9, np.minimum(target / np.maximum(have, 1e-300), 10 ** (MAX_GAIN_DB / 20)), 0.0)
    return (w.reshape(-1) * _ramped(gain, m, GAIN_RAMP)).astype(np.float32)


def _gate(wet: np.ndarray, src: np.ndarray, hop: int) -> np.ndarray:
    peak = np.abs(src).reshape(-1, hop).max(1)
    gate = (peak >= SILENCE_PEAK).astype(np.float64)
    if gate.all():
        return wet
    return (wet * _ramped(gate, hop)).astype(np.float32)


def _limit(y: np.ndarray, hop: int) -> np.ndarray:
    """Peak limiter hop by hop (look-ahead only inside each hop), as the block engine's."""
    i = np.arange(hop, dtype=np.float64)
    att, rel = 1.0 / LIMIT_ATTACK, 1.0 / LIMIT_RELEASE
    out = np.empty_like(y)
    prev = 1.0
    for t in range(y.shape[0] // hop):
        x = y[t * hop:(t + 1) * hop]
        need = np.minimum(PEAK_CEILING / np.maximum(np.abs(x.astype(np.float64)), 1e-12), 1.0)
        ahead = np.minimum.accumulate((need + i * att)[::-1])[::-1] - i * att
        env = np.minimum(np.minimum(prev + (i + 1.0) * rel, np.minimum.accumulate(ahead - i * rel) + i * rel), 1.0)
        prev = float(env[-1])
        out[t * hop:(t + 1) * hop] = np.clip((x.astype(np.float64) * env).astype(np.float32), -PEAK_CEILING, PEAK_CEILING)
    return out


def transfer_causal(source_wave: np.ndarray, source_sr: int, index: Any, **options: Any) -> tuple[np.ndarray, int]:
    """The streaming transfer of a whole file, computed offline (the block engine's reference).

    Args:
        source_wave: ``[samples]`` or ``[channels, samples]``.
        source_sr: its rate; audio is resampled to the index's rate and back.
        index: corpus index (embedded codec) or ``.lmindex`` path.
        **options: :class:`Streamer` options (``lag``, ``k``, ``continuity``, ...).

    Returns:
        ``(out, source_sr)``: ``out`` has the input's layout and length, and is delayed by
        the streamer's latency (``(lag + 1) * hop`` samples at the index rate), exactly as
        ``Streamer.process`` would return it block after block.
    """
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise LatentmorphError(f"transfer_causal: unknown option(s) {', '.join(sorted(unknown))}")
    o = {**DEFAULTS, **options}
    check_options(o["lag"], o["k"], o["continuity"], o["avoid_repeat"], o["wet"])
    one_d = np.ndim(source_wave) == 1
    try:
        wave = as_2d(source_wave)
    except ValueError as err:
        raise AudioError(f"source: {err}") from None
    wave = check_wave(wave, int(source_sr), "source", warn_silence=False)
    tables, codec = open_tables(index, o["normalize"], bool(o["grain_filter"]))
    hop, csr, lag = tables.hop, tables.sample_rate, int(o["lag"])
    src = resample(wave, int(source_sr), csr).astype(np.float32)
    C, N = src.shape
    latency = (lag + 1) * hop
    fade = max(1, min(hop, hop // 2 if o["fade"] is None else int(o["fade"])))
    n_valid = int(tables.valid.sum())
    k_max = max(1, min(max(16, int(o["k"])), n_valid))
    k = max(1, min(int(o["k"]), k_max))
    avoid = min(int(o["avoid_repeat"]), max(64, int(o["avoid_repeat"])))
    T = N // hop
    out = np.zeros((C, N), np.float32)
    if T > lag:
        shift = codec.n_fft - hop - (codec.n_fft - hop) // 2
        lat = codec.encode(np.pad(src, ((0, 0), (shift, 0))))[:, :, :T]
        mask = np.where(tables.valid, 0.0, -np.inf).astype(np.float32)
        for c in range(C):
            q = _queries(tables, lat[c].T, src[c, :T * hop].reshape(T, hop), o["normalize"] == "running")
            top, ids = _top(q @ tables.feats.T + mask, k_max)
            unit = np.cumsum((top[:, 0] - top[:, k - 1]).astype(np.float64)) / np.arange(1, T + 1)
            grains = _choose(tables, q, top, ids, unit, k, lag, float(o["continuity"]), avoid)
            wet = _render(tables, grains, fade)
            s = src[c, :wet.shape[0]]
            if o["follow_loudness"]:
                wet = _follow(wet, s, hop)
            wet = _gate(wet, s, hop)
            y = float(o["wet"]) * wet + (1.0 - float(o["wet"])) * s
            y = _limit(np.nan_to_num(y, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32), hop)
            n = min(y.shape[0], N - latency)
            out[c, latency:latency + n] = y[:n]
    if int(source_sr) != csr:
        out = resample(out, csr, int(source_sr))[:, :wave.shape[-1]]
    return (out[0] if one_d else out), int(source_sr)
