"""Objective metrics for a transfer output: content kept, style reached, artefacts, sanity.

``evaluate(out, out_sr, source, source_sr, corpus)`` runs them all; the modules hold
one family each (``content``, ``style``, ``artefacts``, ``sanity``) over the features in
``features`` (own numpy STFT, mel, MFCC, chroma, onsets, YIN pitch; no downloaded weights).
"""

from latentmorph.evaluate.report import evaluate, format_report

__all__ = ["evaluate", "format_report"]
