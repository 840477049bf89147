"""A faithful re-implementation of the reference workflow, the baseline every default must beat.

What the published latent-granular recipe does on every run:

1. encode every corpus file with the codec (no index, no cache: done again each run);
2. encode the source;
3. for each source frame, take the corpus frame with the highest cosine similarity,
   found by a plain distance computation (a normalised matrix product and argmax);
4. decode the chosen latent sequence with the codec's decoder;
5. mix 80 % of that with 20 % of the dry source.

No loudness following, no continuity, no crossfades beyond what the decoder gives.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from latentmorph.audio import load
from latentmorph.codecs import Codec
from latentmorph.evaluate.continuity import continuity as _continuity
from latentmorph.evaluate.continuity import jump_positions


def encode_corpus(paths: list[Path], codec: Codec) -> tuple[np.ndarray, np.ndarray]:
    """Encode every corpus file: ``(latents [N, dim], where [N, 3] = (file, channel, frame))``."""
    rows, where = [], []
    for i, p in enumerate(paths):
        wave, sr = load(p, warn_silence=False)
        z = codec.encode_audio(wave, sr)  # [C, D, T]
        for ch in range(z.shape[0]):
            rows.append(z[ch].T)
            t = np.arange(z.shape[2])
            where.append(np.stack([np.full_like(t, i), np.full_like(t, ch), t], axis=1))
    return np.concatenate(rows).astype(np.float32), np.concatenate(where)


def nearest(queries: np.ndarray, database: np.ndarray, block: int = 4096) -> np.ndarray:
    """Index of the most cosine-similar database row for each query row, ``[M]`` int64."""
    q = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
    d = database / np.maximum(np.linalg.norm(database, axis=1, keepdims=True), 1e-12)
    best = np.full(q.shape[0], -np.inf, dtype=np.float32)
    idx = np.zeros(q.shape[0], dtype=np.int64)
    for start in range(0, d.shape[0], block * 16):
        sims = q @ d[start : start + block * 16].T
        j = sims.argmax(axis=1)
        s = sims[np.arange(q.shape[0]), j]
        better = s > best
        best[better] = s[better]
        idx[better] = j[better] + start
    return idx


def reference_transfer(
    source: np.ndarray, sr: int, corpus_paths: list[Path], codec: Codec, *, wet: float = 0.8
) -> tuple[np.ndarray, int, dict]:
    """Run the reference workflow on a mono or multi-channel ``source`` ``[channels, samples]``.

    Returns:
        ``(out [channels, samples] at sr, sr, info)``; ``info`` has ``times`` (seconds:
        ``encode`` = corpus + source, ``search``, ``render`` = decode + mix), the chosen
        ``ids`` per source frame of channel 0 and ``where`` (file, channel, frame) per corpus row.
    """
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    database, where = encode_corpus(corpus_paths, codec)
    z = codec.encode_audio(source, sr)  # [C, D, T]
    times["encode"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    chosen = [nearest(z[ch].T, database) for ch in range(z.shape[0])]
    times["search"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    matched = np.stack([database[ids].T for ids in chosen])  # [C, D, T]
    wet_audio = codec.decode_audio(matched, sr)
    n = source.shape[-1]
    wet_audio = wet_audio[:, :n]
    if wet_audio.shape[-1] < n:
        wet_audio = np.pad(wet_audio, ((0, 0), (0, n - wet_audio.shape[-1])))
    out = wet * wet_audio + (1.0 - wet) * source
    times["render"] = time.perf_counter() - t0
    return out.astype(np.float32), sr, {"times": times, "ids": chosen[0], "where": where}


def continuity(ids: np.ndarray, where: np.ndarray) -> dict:
    """:func:`latentmorph.evaluate.continuity.continuity` over ``where`` = ``[N, 3]`` (file, channel, frame)."""
    return _continuity(ids, where[:, 0], where[:, 1], where[:, 2])


def jump_boundaries(ids: np.ndarray, where: np.ndarray, hop: int, codec_sr: int, out_sr: int) -> np.ndarray:
    """Output samples where the chosen grain does not continue the previous one (see ``jump_positions``)."""
    return jump_positions(ids, where[:, 0], where[:, 1], where[:, 2], hop=hop, codec_sr=codec_sr, out_sr=out_sr)
