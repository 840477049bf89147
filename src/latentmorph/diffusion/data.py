"""Training data: latent sequences from corpus indexes, crops, and per-file conditions.

Training latents come from ``.lmindex`` corpus indexes, so every codec works. Each
(file, channel) of the original (un-augmented) audio is one sequence ``[D, T_i]``.
A training example is a crop of ``crop`` frames (wrapping round short files, which
suits loops) plus a second, independent crop of the same sequence for the timbre
encoder. Per-file conditions are computed once: the beat phase from a beat tracker
(``features.tempo``), a piano roll from a MIDI file beside the audio (``NAME.mid``),
a CLAP audio embedding.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from latentmorph.codecs import Codec, get_codec
from latentmorph.errors import ConditionError, CorpusError


@dataclass
class TrainSet:
    """Sequences and their conditions (lists aligned by sequence).

    Attributes:
        sequences: ``[D, T_i]`` float32 raw latents.
        names: display name (file path) per sequence.
        phase: ``[T_i]`` beat phase in [0, 1), or ``None`` where no beat was found.
        roll: ``[128, T_i]`` piano roll, or ``None``.
        clap: ``[clap_dim]`` embedding, or ``None``.
        codec: the codec of the latents.
        signature: what the inputs were (checkpoints refuse to resume on other data).
    """

    sequences: list[np.ndarray]
    names: list[str]
    codec: Codec
    phase: list[np.ndarray | None] = field(default_factory=list)
    roll: list[np.ndarray | None] = field(default_factory=list)
    clap: list[np.ndarray | None] = field(default_factory=list)
    signature: list[Any] = field(default_factory=list)

    @property
    def frames(self) -> int:
        return int(sum(s.shape[1] for s in self.sequences))

    def stats(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-dimension mean and std ``[D]`` over every frame."""
        allf = np.concatenate(self.sequences, axis=1).astype(np.float64)
        return allf.mean(1).astype(np.float32), allf.std(1).astype(np.float32)

    def batch(self, rng: np.random.Generator, crop: int, size: int) -> dict[str, np.ndarray]:
        """One training batch.

        Returns:
            ``x [B, D, crop]`` crops, ``timbre_x [B, D, crop]`` other crops of the same
            sequences, ``phase [B, crop]`` + ``has_phase [B]``, ``roll [B, 128, crop]`` +
            ``has_roll [B]``, ``clap [B, K]`` + ``has_clap [B]`` (absent keys when unused).
        """
        lengths = np.array([s.shape[1] for s in self.sequences], dtype=np.float64)
        pick = rng.choice(len(self.sequences), size=size, p=lengths / lengths.sum())
        out: dict[str, list] = {k: [] for k in ("x", "timbre_x", "phase", "has_phase", "roll", "has_roll", "clap", "has_clap")}
        for i in pick:
            seq = self.sequences[i]
            T = seq.shape[1]
            idx = (int(rng.integers(T)) + np.arange(crop)) % T
            idx2 = (int(rng.integers(T)) + np.arange(crop)) % T
            out["x"].append(seq[:, idx])
            out["timbre_x"].append(seq[:, idx2])
            if self.phase:
                p = self.phase[i]
                out["phase"].append(np.zeros(crop, np.float32) if p is None else p[idx])
                out["has_phase"].append(float(p is not None))
            if self.roll:
                r = self.roll[i]
                out["roll"].append(np.zeros((128, crop), np.float32) if r is None else r[:, idx])
                out["has_roll"].append(float(r is not None))
            if self.clap:
                out["clap"].append(self.clap[i])
                out["has_clap"].append(1.0)
        return {k: np.stack(v).astype(np.float32) for k, v in out.items() if v}


def _is_index(p: Any) -> bool:
    return isinstance(p, (str, os.PathLike)) and Path(p).is_dir() and (Path(p) / "manifest.json").exists()


def open_indexes(inputs: Sequence[Any], codec: str | Codec | None, progress: bool) -> list[Any]:
    """``.lmindex`` paths / loaded indexes as they are; audio files and folders indexed into the cache."""
    from latentmorph.corpus import CorpusIndex, load_index
    from latentmorph.transfer.corpus import open_corpus

    if not inputs:
        raise CorpusError("train: no inputs given (an .lmindex or audio files/folders)")
    c = get_codec(codec) if codec is not None else None
    indexes, audio = [], []
    for p in inputs:
        if isinstance(p, CorpusIndex) or hasattr(p, "grains"):
            indexes.append(p)
        elif _is_index(p):
            indexes.append(load_index(p, c) if c is not None else load_index(p))
        elif str(p).endswith(".lmindex"):
            raise CorpusError(f"{p}: index not found (or not an index folder)")
        else:
            audio.append(p)
    if audio:
        ref = c or (indexes[0].codec() if indexes else get_codec(None))
        indexes.append(open_corpus(corpus=audio, codec=ref, progress=progress))
    fps = {ix.fingerprint for ix in indexes}
    if len(fps) > 1:
        raise CorpusError(f"{getattr(indexes[-1], 'path', 'index')}: the inputs were made with different codecs ({', '.join(sorted(fps))})")
    return indexes


def sequences_of(index: Any) -> list[tuple[int, int, np.ndarray]]:
    """``[(file_id, channel, latents [D, T])]`` of the original audio in an index, frames in order."""
    g = index.grains
    fid, ch, fr = np.asarray(g.file_id), np.asarray(g.channel), np.asarray(g.frame)
    rows = np.flatnonzero(np.asarray(g.aug) == 0)
    order = rows[np.lexsort((fr[rows], ch[rows], fid[rows]))]
    if order.size == 0:
        return []
    key = fid[order].astype(np.int64) * 4096 + ch[order]
    cuts = np.flatnonzero(np.diff(key)) + 1
    lat = np.asarray(index.latents)
    out = []
    for part in np.split(order, cuts):
        out.append((int(fid[part[0]]), int(ch[part[0]]), np.ascontiguousarray(lat[part].T.astype(np.float32))))
    return out


@functools.lru_cache(maxsize=2)
def _clap_cached(folder: str, mtime: float):  # noqa: ANN202
    from latentmorph.diffusion.features.clap import ClapEmbedder

    return ClapEmbedder(folder)


def clap_embedder(folder: str | os.PathLike):  # noqa: ANN201
    """A :class:`ClapEmbedder` of ``folder``, kept while the folder is unchanged (loading takes seconds)."""
    p = Path(folder)
    try:
        mtime = p.stat().st_mtime
    except OSError:
        mtime = -1.0
    return _clap_cached(str(p.resolve()), mtime)


def midi_beside(path: str) -> Path | None:
    """``NAME.mid`` / ``NAME.midi`` next to an audio file, if there is one."""
    for ext in (".mid", ".midi", ".MID"):
        q = Path(path).with_suffix(ext)
        if q.exists():
            return q
    return None


def build_trainset(indexes: list[Any], conditions: Sequence[str], *, clap: str | os.PathLike | None = None,
                   min_frames: int = 4, progress: bool = False) -> TrainSet:
    """Collect sequences and per-file conditions from ``indexes`` (see module docstring)."""
    codec = indexes[0].codec()
    fr = codec.frame_rate
    seqs, names, phases, rolls, claps, sig = [], [], [], [], [], []
    embedder = None
    if "clap" in conditions:
        if clap is None:
            raise ConditionError("clap: training with the clap condition needs --clap FOLDER (a local CLAP model)")
        embedder = clap_embedder(clap)
    if "tempo" in conditions:
        from latentmorph.diffusion.features.tempo import beat_phase, track_beats
    if "midi" in conditions:
        from latentmorph.diffusion.features.midi import piano_roll, read_midi
    for ix in indexes:
        sig.append([str(getattr(ix, "path", "")), ix.fingerprint, len(ix.files), len(ix)])
        per_file: dict[int, dict[str, Any]] = {}
        for file_id, _channel, lat in sequences_of(ix):
            if lat.shape[1] < min_frames:
                continue
            rec = ix.files[file_id]
            if file_id not in per_file:
                info: dict[str, Any] = {}
                if "tempo" in conditions or embedder is not None:
                    wave = ix.file_audio(file_id)
                    if "tempo" in conditions:
                        bt = track_beats(wave, ix.sample_rate)
                        info["beats"] = None if not np.isfinite(bt.bpm) or len(bt.beats) < 2 else bt.beats
                    if embedder is not None:
                        info["clap"] = embedder.embed_audio(wave, ix.sample_rate).astype(np.float32)
                if "midi" in conditions:
                    mid = midi_beside(rec.path)
                    info["notes"] = read_midi(mid) if mid is not None else None
                per_file[file_id] = info
            info = per_file[file_id]
            T = lat.shape[1]
            seqs.append(lat)
            names.append(str(rec.path))
            if "tempo" in conditions:
                phases.append(None if info["beats"] is None else beat_phase(info["beats"], fr, T).astype(np.float32))
            if "midi" in conditions:
                rolls.append(None if info["notes"] is None else piano_roll(info["notes"], fr, T).astype(np.float32))
            if embedder is not None:
                claps.append(info["clap"])
    if not seqs:
        raise CorpusError(f"{getattr(indexes[0], 'path', 'index')}: no file long enough to train on (need {min_frames} frames)")
    if "midi" in conditions and all(r is None for r in rolls):
        raise ConditionError("midi: no training file has a MIDI file beside it (NAME.mid next to NAME.wav)")
    return TrainSet(seqs, names, codec, phases, rolls, claps, sig)
