"""The ``decode`` renderer: matched latents through the codec's decoder (the reference method)."""

from __future__ import annotations

import numpy as np

from latentmorph.codecs import Codec
from latentmorph.transfer.choices import KEEP_SOURCE, Choices


def matched_latents(choices: list[Choices], corpus_latents: np.ndarray, source_latents: np.ndarray) -> np.ndarray:
    """The latent sequence the choices describe.

    Args:
        choices: one :class:`Choices` per source channel.
        corpus_latents: ``[N, dim]`` index latents.
        source_latents: ``[C, dim, T]``.

    Returns:
        ``[C, dim, T]``: per frame ``(1 - amount) * source + amount * sum_k w_k * corpus[id_k]``,
        where a kept frame's "corpus" latent is the source's own.
    """
    out = np.empty_like(source_latents, dtype=np.float32)
    for c, ch in enumerate(choices):
        src = source_latents[c].T  # [T, dim]
        picked = corpus_latents[np.maximum(ch.ids, 0)]  # [T, k, dim]
        picked = np.where((ch.ids == KEEP_SOURCE)[..., None], src[:, None, :], picked)
        blended = np.einsum("tk,tkd->td", ch.weights, picked)
        a = ch.amount[:, None]
        out[c] = ((1.0 - a) * src + a * blended).T
    return out


def render_decode(choices: list[Choices], corpus_latents: np.ndarray, source_latents: np.ndarray,
                  codec: Codec) -> np.ndarray:
    """Decode the matched latents: ``[C, T*hop]`` at the codec rate, latency removed.

    A codec that delays its output declares ``latency_samples`` (samples at its rate); they
    are cut here so the result lines up with the source.
    """
    lat = matched_latents(choices, corpus_latents, source_latents)
    wave = np.asarray(codec.decode(lat), dtype=np.float32)
    latency = int(codec.latency_samples)
    wave = wave[:, latency:]
    n = lat.shape[-1] * codec.hop
    if wave.shape[-1] < n:
        wave = np.pad(wave, ((0, 0), (0, n - wave.shape[-1])))
    return wave[:, :n]
