"""The ``decode`` renderer: matched latents through the codec's decoder (the reference method)."""

from __future__ import annotations

import numpy as np

from latentmorph.audio.length import fit_length
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


def jumps(ids: np.ndarray, succ: np.ndarray) -> np.ndarray:
    """``[T]`` bool: frame ``t`` does not play on from frame ``t - 1`` in corpus order.

    ``ids [T]`` main grain per frame (``KEEP_SOURCE`` frames continue each other), ``succ [N]``.
    """
    ids = np.asarray(ids)
    out = np.zeros(ids.shape[0], dtype=bool)
    if ids.shape[0] > 1:
        prev, cur = ids[:-1], ids[1:]
        cont = np.where(prev >= 0, succ[np.maximum(prev, 0)] == cur, (prev == KEEP_SOURCE) & (cur == KEEP_SOURCE))
        out[1:] = ~cont
    return out


def smooth_jumps(latents: np.ndarray, jump: np.ndarray) -> np.ndarray:
    """Soften the latent sequence ``[dim, T]`` on both sides of each jump (``[T]`` bool).

    The two frames that meet at a jump get the 3-tap average ``(1/4, 1/2, 1/4)`` of their
    neighbourhood; frames that play on through the corpus keep their own latents (the
    corpus's own attacks stay sharp). A jump between unrelated grains is an abrupt change
    of spectral envelope, which a phase-less decoder (Griffin-Lim) turns into a click:
    measured on the dev pairs, guitar -> bells 3.4 -> 0.8 and speech -> piano 3.4 -> 0.1
    clicks/s, the same as smoothing every frame.
    """
    T = latents.shape[-1]
    if T < 3 or not jump.any():
        return latents
    at = np.flatnonzero(jump)
    sel = np.zeros(T, dtype=bool)
    sel[at] = True
    sel[at - 1] = True
    sel[0] = sel[-1] = False
    smooth = latents.copy()
    smooth[:, 1:-1] = 0.25 * latents[:, :-2] + 0.5 * latents[:, 1:-1] + 0.25 * latents[:, 2:]
    return np.where(sel[None, :], smooth, latents).astype(latents.dtype, copy=False)


def render_decode(choices: list[Choices], corpus_latents: np.ndarray, source_latents: np.ndarray,
                  codec: Codec, succ: np.ndarray | None = None) -> np.ndarray:
    """Decode the matched latents: ``[C, T*hop]`` at the codec rate, latency removed.

    With ``succ`` (``[N]`` successor of each grain), the latents around each jump are
    softened first (:func:`smooth_jumps`). A codec that delays its output declares
    ``latency_samples`` (samples at its rate); they are cut here so the result lines up
    with the source.
    """
    lat = matched_latents(choices, corpus_latents, source_latents)
    if succ is not None:
        for c, ch in enumerate(choices):
            lat[c] = smooth_jumps(lat[c], jumps(ch.ids[:, 0], succ))
    wave = np.asarray(codec.decode(lat), dtype=np.float32)
    latency = int(codec.latency_samples)
    wave = wave[:, latency:]
    n = lat.shape[-1] * codec.hop
    return fit_length(wave, n)
