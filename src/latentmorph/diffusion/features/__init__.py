"""Signal-side condition extractors for latent diffusion (numpy in, numpy out).

- :mod:`.tempo`: beat tracking, global tempo, beat-phase sawtooth (numpy/scipy);
- :mod:`.midi`: safe Standard MIDI File reader/writer and piano roll (standard library);
- :mod:`.clap`: CLAP text/audio embeddings from a local folder (extra ``latentmorph[transformers]``,
  imported only when one of its names is used).
"""

from __future__ import annotations

from latentmorph.diffusion.features.midi import Note, piano_roll, read_midi, write_midi
from latentmorph.diffusion.features.tempo import (
    BeatTrack,
    beat_phase,
    estimate_bpm,
    phase_from_bpm,
    tempo_adherence,
    track_beats,
)

_LAZY = {  # CLAP needs transformers: imported on first use only
    "ClapEmbedder": "latentmorph.diffusion.features.clap",
    "save_random_clap": "latentmorph.diffusion.features.clap",
}

__all__ = [
    "BeatTrack",
    "ClapEmbedder",
    "Note",
    "beat_phase",
    "estimate_bpm",
    "phase_from_bpm",
    "piano_roll",
    "read_midi",
    "save_random_clap",
    "tempo_adherence",
    "track_beats",
    "write_midi",
]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
