"""Objective metrics for a transfer output: content kept, style reached, artefacts, sanity.

``evaluate(out, out_sr, source, source_sr, corpus)`` runs them all; the modules hold
one family each (``content``, ``style``, ``artefacts``, ``sanity``, and ``continuity``
of grain choices) over the features in
``features`` (own numpy STFT, mel, MFCC, chroma, onsets, YIN pitch; no downloaded weights).
"""

from latentmorph.evaluate.continuity import continuity, jump_positions
from latentmorph.evaluate.report import evaluate, format_report

__all__ = ["continuity", "evaluate", "format_report", "jump_positions"]
