"""Grain levels: the loudness of each grain's own audio, measured once.

A grain's level is the RMS, in dB (floored at -100 dB), of the hop of audio the grain
covers in its own channel at the codec rate: ``to_db(rms_envelope(audio[ch], hop))[frame]``.
The index stores it beside the grain table (``level`` in ``grains-<gen>.npz``), computed
at build time while the file is loaded anyway, so transfer's audible-grain filter
(:func:`latentmorph.transfer.space.audible`) never re-reads the corpus.
"""

from __future__ import annotations

import numpy as np

from latentmorph.audio import rms_envelope, to_db


def wave_levels(wave: np.ndarray, hop: int, frames: int) -> np.ndarray:
    """Levels ``[channels * frames]`` float32 (channel-major, the grain-table order) of one
    file's audio ``wave [channels, samples]`` at the codec rate, for ``frames`` latent frames.

    A frame past the end of the audio gets the level of the last frame.
    """
    wave = np.asarray(wave)
    if wave.ndim == 1:
        wave = wave[None]
    out = np.empty((wave.shape[0], int(frames)), np.float32)
    t = np.arange(int(frames))
    for ch in range(wave.shape[0]):
        env = to_db(rms_envelope(wave[ch], int(hop)))
        out[ch] = env[np.minimum(t, env.shape[0] - 1)]
    return out.reshape(-1)


def corpus_levels(corpus) -> np.ndarray:  # noqa: ANN001
    """``[N]`` float32 levels of every grain of ``corpus`` measured from its audio
    (``grains``, ``hop``, ``file_audio(file_id, aug)``): for corpora without stored levels.

    Each (file, augmentation) is read once.
    """
    g = corpus.grains
    hop = int(corpus.hop)
    out = np.full(len(g.file_id), -100.0, dtype=np.float32)
    file_id, aug, channel, frame = (np.asarray(x) for x in (g.file_id, g.aug, g.channel, g.frame))
    if out.size == 0:
        return out
    key = file_id.astype(np.int64) * (int(aug.max()) + 1) + aug
    order = np.argsort(key, kind="stable")
    bounds = np.flatnonzero(np.diff(key[order])) + 1
    for rows in np.split(order, bounds):
        audio = corpus.file_audio(int(file_id[rows[0]]), int(aug[rows[0]]))
        for ch in np.unique(channel[rows]):
            sel = rows[channel[rows] == ch]
            env = to_db(rms_envelope(audio[min(int(ch), audio.shape[0] - 1)], hop))
            out[sel] = env[np.minimum(frame[sel], env.shape[0] - 1)]
    return out
