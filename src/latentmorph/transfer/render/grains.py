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


def _layer_runs(ids: np.ndarray, succ: np.ndarray, hop: int) -> list[tuple[int, int, int, int, int]]:
    """Runs of one column that play something: ``(t0, t1, gid, lo, hi)``, ``[lo, hi)`` the
    output samples the run covers including its half-hop crossfades."""
    T = ids.shape[0]
    half = hop // 2
    out = []
    for t0, t1 in _runs(ids, succ):
        gid = int(ids[t0])
        if gid < 0 and gid != KEEP_SOURCE:
            continue
        out.append((t0, t1, gid, t0 * hop - (half if t0 > 0 else 0), t1 * hop + (half if t1 < T else 0)))
    return out


def read_segments(corpus, wants: list[tuple[int, int, int]]) -> list[np.ndarray]:  # noqa: ANN001
    """Corpus audio for each wanted ``(gid, begin offset, length)``: ``length`` samples of
    the grain's own channel from ``start + offset``, zeros outside the file.

    The requests are served file by file (sorted by file and augmentation), so each
    (file, augmentation) is read once per call whatever the order the grains are played
    in; memory stays at the segments themselves plus the corpus's file cache. Files the
    corpus holds already (``audio_cached``, where it has one) are served first: the reads
    that follow then push out files this call is done with, so a cache smaller than the
    corpus keeps a steady share of hits between transfers instead of losing all of them
    to one pass in file order.
    """
    g = corpus.grains
    gids = np.array([w[0] for w in wants], dtype=np.int64)
    out: list[np.ndarray] = [np.empty(0, np.float32)] * len(wants)
    if not wants:
        return out
    files, augs = g.file_id[gids], g.aug[gids]
    later = np.zeros(len(wants), bool)
    held = getattr(corpus, "audio_cached", None)
    if held is not None:
        keys, inverse = np.unique(np.stack([files, augs], 1), axis=0, return_inverse=True)
        later = ~np.array([held(int(f), int(a)) for f, a in keys], bool)[inverse.reshape(-1)]
    for r in np.lexsort((augs, files, later)):
        gid, offset, length = wants[int(r)]
        audio = corpus.file_audio(int(g.file_id[gid]), int(g.aug[gid]))
        ch = min(int(g.channel[gid]), audio.shape[0] - 1)
        out[int(r)] = _segment(audio[ch], int(g.start[gid]) + offset, length)
    return out


def _layer_wants(runs: list[tuple[int, int, int, int, int]], hop: int) -> list[tuple[int, int, int]]:
    return [(gid, lo - t0 * hop, hi - lo) for t0, t1, gid, lo, hi in runs if gid != KEEP_SOURCE]


def render_layer(ids: np.ndarray, corpus, succ: np.ndarray, source: np.ndarray, hop: int,  # noqa: ANN001
                 segments: list[np.ndarray] | None = None) -> np.ndarray:
    """One column of choices -> ``[T*hop]`` audio at the corpus rate.

    Args:
        ids: ``[T]`` grain ids (``KEEP_SOURCE`` plays ``source``; other negatives are silence).
        corpus: index surface (``grains``, ``file_audio``).
        succ: ``[N]`` successor of each grain.
        source: ``[S]`` the source channel at the corpus rate.
        hop: samples per frame.
        segments: the corpus audio of this column's runs, as :func:`read_segments` returns
            it for :func:`_layer_wants`; read here when not given.
    """
    T = ids.shape[0]
    n = T * hop
    half = hop // 2
    fade = 2 * half
    ramp = np.sin(0.5 * np.pi * (np.arange(fade) + 0.5) / fade).astype(np.float32)
    out = np.zeros(n, np.float32)
    runs = _layer_runs(ids, succ, hop)
    if segments is None:
        segments = read_segments(corpus, _layer_wants(runs, hop))
    pieces = iter(segments)
    for t0, t1, gid, lo, hi in runs:
        seg = _segment(source, lo, hi - lo) if gid == KEEP_SOURCE else next(pieces)
        if t0 > 0:
            seg[:fade] *= ramp
        if t1 < T:
            seg[-fade:] *= ramp[::-1]
        a, b = max(lo, 0), min(hi, n)
        out[a:b] += seg[a - lo : b - lo]
    return out


#: Corpus audio (samples) held at once while rendering: columns are rendered in batches
#: of about this much, each batch reading every file it needs once (256 MB of float32).
BATCH_SAMPLES = 1 << 26


def render_grains(choices: list[Choices], corpus, succ: np.ndarray, source: np.ndarray, hop: int) -> np.ndarray:  # noqa: ANN001
    """All channels: ``[C, T*hop]`` at the corpus rate.

    Blend columns are mixed with gains ``sqrt(weight)`` (power-preserving for unrelated
    grains); ``amount < 1`` (strength) crossfades towards the source the same way. The
    corpus audio is read file by file (:func:`read_segments`) for a batch of columns at
    a time (:data:`BATCH_SAMPLES`), so each file is read once per batch: once for the
    default single-column matchers, and memory stays bounded for wide blends.

    Args:
        choices: one :class:`Choices` per source channel.
        corpus: index surface.
        succ: ``[N]`` successor of each grain.
        source: ``[C, S]`` the source at the corpus rate.
        hop: samples per frame.
    """
    columns = [(c, k) for c, ch in enumerate(choices) for k in range(ch.ids.shape[1]) if np.any(ch.weights[:, k] > 0)]
    wants = {col: _layer_wants(_layer_runs(choices[col[0]].ids[:, col[1]], succ, hop), hop) for col in columns}
    batches: list[list[tuple[int, int]]] = []
    size = 0
    for col in columns:
        need = sum(w[2] for w in wants[col])
        if not batches or (size + need > BATCH_SAMPLES and batches[-1]):
            batches.append([])
            size = 0
        batches[-1].append(col)
        size += need
    srcs = []
    accs = []
    for c, ch in enumerate(choices):
        n = ch.frames * hop
        srcs.append(fit_length(source[c], n))
        accs.append(np.zeros(n, np.float32))
    for batch in batches:
        got = iter(read_segments(corpus, [w for col in batch for w in wants[col]]))
        for c, k in batch:
            ch = choices[c]
            n = ch.frames * hop
            w = ch.weights[:, k]
            layer = render_layer(ch.ids[:, k], corpus, succ, srcs[c], hop, [next(got) for _ in wants[(c, k)]])
            if ch.ids.shape[1] > 1 or np.any(w != 1):
                layer *= np.sqrt(np.clip(frames_to_samples(w, hop, n), 0, None))
            accs[c] += layer
    outs = []
    for c, ch in enumerate(choices):
        acc = accs[c]
        if np.any(ch.amount < 1):
            amount = frames_to_samples(ch.amount, hop, ch.frames * hop)
            acc = np.sqrt(amount) * acc + np.sqrt(np.clip(1 - amount, 0, None)) * srcs[c]
        outs.append(acc)
    return np.stack(outs).astype(np.float32)
