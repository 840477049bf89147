"""Turn generated latents into audio: the codec's decoder, or corpus grains.

``grains`` plays real corpus audio: for every generated latent frame it finds the nearest
corpus grains and picks among them with the transfer engine's continuity search
(Viterbi), then overlap-adds them with the transfer's grain renderer. No decoder
artefacts, and it works with codecs that cannot decode.
"""

from __future__ import annotations

import numpy as np

from latentmorph.errors import LatentmorphError
from latentmorph.transfer import match as matchers
from latentmorph.transfer.choices import Choices
from latentmorph.transfer.engine import LOUDNESS_WEIGHT, _score_fn
from latentmorph.transfer.render import render_grains
from latentmorph.transfer.search import score_to_distance, topk
from latentmorph.transfer.space import MatchSpace, audible, loudness_dims
from latentmorph.transfer.windows import corpus_windows, expand, source_windows, successors

RENDERS = ("decode", "grains")


def grains_for_latents(latents: np.ndarray, index, *, k: int = 8, continuity: float = 2.0,  # noqa: ANN001
                       avoid_repeat: int = 8) -> np.ndarray:
    """Corpus grains nearest to ``latents [C, D, T]`` -> audio ``[C, T * hop]`` at the index's rate.

    Matching is cosine similarity in the corpus-standardised space (the generated latents
    already live in the training corpus's space, so no source re-scaling).
    """
    c = index.codec()
    space = MatchSpace.fit(np.asarray(index.latents), loudness_dims(c), "corpus", LOUDNESS_WEIGHT)
    feats = space.corpus(np.asarray(index.latents))
    g = index.grains
    succ = successors(np.asarray(g.file_id), np.asarray(g.channel), np.asarray(g.aug), np.asarray(g.frame))
    win, valid = corpus_windows(feats, succ, 1, skip_edges=True)
    loud = audible(index, c, read_audio=True)
    if (valid & loud).any():
        valid = valid & loud
    if not valid.any():
        raise LatentmorphError(f"{index.path}: the index holds no usable grains")
    norms = np.linalg.norm(win, axis=1)
    next_valid = np.where((succ >= 0) & valid[np.maximum(succ, 0)], succ, -1)
    C, _, T = latents.shape
    choices = []
    for ch in range(C):
        q, starts = source_windows(space.source(latents[ch].T), 1, 1)
        scores, ids = topk(q, win, int(k), "cosine", valid)
        pc = matchers.viterbi(scores, ids, next_valid, _score_fn(q, win, "cosine", norms),
                              continuity=float(continuity), repeat_positions=int(avoid_repeat))
        frame_ids = expand(pc.ids, starts, T, succ)[:, 0]
        choices.append(Choices.single(frame_ids, score_to_distance(pc.scores, "cosine")[np.minimum(np.arange(T), len(starts) - 1)]))
    silent = np.zeros((C, T * int(index.hop)), np.float32)
    return render_grains(choices, index, succ, silent, int(index.hop))
