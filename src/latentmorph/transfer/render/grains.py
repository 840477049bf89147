"""The ``grains`` renderer: overlap-add the corpus audio of the chosen grains.

Works with every codec (no decoder needed) and plays the corpus's real sound.
Consecutive frames that continue through a corpus file in order form a *run* and are
copied as one stretch of that file, so continuity costs nothing in quality. Runs
meet with power-complementary crossfades (sine in, cosine out, ``sin^2 + cos^2 = 1``)
one hop long, centred on the frame boundary: unrelated grains keep a constant
power across the seam and do not click. Kept source frames are runs of the source.
"""

from __future__ import annotations

import numpy as np

from latentmorph.audio.length import fit_length
from latentmorph.transfer.choices import KEEP_SOURCE, Choices
from latentmorph.transfer.render.envelope import frames_to_samples

_SOURCE = -10  # run key for "play the source"


def _runs(ids: np.ndarray, succ: np.ndarray) -> list[tuple[int, int]]:
    """Split ``ids [T]`` into runs ``[t0, t1)`` that play on in corpus order (or keep the source)."""
    T = ids.shape[0]
    if T == 0:
        return []
    prev, cur = ids[:-1], ids[1:]
    cont = np.where(prev >= 0, succ[np.maximum(prev, 0)] == cur, (prev == KEEP_SOURCE) & (cur == KEEP_SOURCE))
    cont &= ~((prev < 0) & (prev != KEEP_SOURCE))
    breaks = np.flatnonzero(~cont) + 1
    edges = np.concatenate([[0], breaks, [T]])
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def _segment(audio: np.ndarray, begin: int, length: int) -> np.ndarray:
    """``audio[begin : begin+length]`` with zeros outside the signal."""
    out = np.zeros(length, np.float32)
    a, b = max(begin, 0), min(begin + length, audio.shape[-1])
    if b > a:
        out[a - begin : b - begin] = audio[a:b]
    return out


def render_layer(ids: np.ndarray, corpus, succ: np.ndarray, source: np.ndarray, hop: int) -> np.ndarray:  # noqa: ANN001
    """One column of choices -> ``[T*hop]`` audio at the corpus rate.

    Args:
        ids: ``[T]`` grain ids (``KEEP_SOURCE`` plays ``source``; other negatives are silence).
        corpus: index surface (``grains``, ``file_audio``).
        succ: ``[N]`` successor of each grain.
        source: ``[S]`` the source channel at the corpus rate.
        hop: samples per frame.
    """
    T = ids.shape[0]
    n = T * hop
    half = hop // 2
    fade = 2 * half
    ramp = np.sin(0.5 * np.pi * (np.arange(fade) + 0.5) / fade).astype(np.float32)
    out = np.zeros(n, np.float32)
    g = corpus.grains
    for t0, t1 in _runs(ids, succ):
        gid = int(ids[t0])
        if gid < 0 and gid != KEEP_SOURCE:
            continue
        lo = t0 * hop - (half if t0 > 0 else 0)
        hi = t1 * hop + (half if t1 < T else 0)
        if gid == KEEP_SOURCE:
            seg = _segment(source, lo, hi - lo)
        else:
            audio = corpus.file_audio(int(g.file_id[gid]), int(g.aug[gid]))
            ch = min(int(g.channel[gid]), audio.shape[0] - 1)
            begin = int(g.start[gid]) + (lo - t0 * hop)
            seg = _segment(audio[ch], begin, hi - lo)
        if t0 > 0:
            seg[:fade] *= ramp
        if t1 < T:
            seg[-fade:] *= ramp[::-1]
        a, b = max(lo, 0), min(hi, n)
        out[a:b] += seg[a - lo : b - lo]
    return out


def render_grains(choices: list[Choices], corpus, succ: np.ndarray, source: np.ndarray, hop: int) -> np.ndarray:  # noqa: ANN001
    """All channels: ``[C, T*hop]`` at the corpus rate.

    Blend columns are mixed with gains ``sqrt(weight)`` (power-preserving for unrelated
    grains); ``amount < 1`` (strength) crossfades towards the source the same way.

    Args:
        choices: one :class:`Choices` per source channel.
        corpus: index surface.
        succ: ``[N]`` successor of each grain.
        source: ``[C, S]`` the source at the corpus rate.
        hop: samples per frame.
    """
    outs = []
    for c, ch in enumerate(choices):
        T = ch.frames
        n = T * hop
        src = fit_length(source[c], n)
        amount = frames_to_samples(ch.amount, hop, n)
        acc = np.zeros(n, np.float32)
        for k in range(ch.ids.shape[1]):
            w = ch.weights[:, k]
            if not np.any(w > 0):
                continue
            layer = render_layer(ch.ids[:, k], corpus, succ, src, hop)
            if ch.ids.shape[1] > 1 or np.any(w != 1):
                layer *= np.sqrt(np.clip(frames_to_samples(w, hop, n), 0, None))
            acc += layer
        if np.any(ch.amount < 1):
            acc = np.sqrt(amount) * acc + np.sqrt(np.clip(1 - amount, 0, None)) * src
        outs.append(acc)
    return np.stack(outs).astype(np.float32)
