"""Exceptions that carry a one-line, user-facing message.

Everything a user can cause (a bad file, a wrong flag, missing weights) raises a
subclass of :class:`LatentmorphError`. The CLI prints ``str(err)`` on one line and
exits non-zero; it never shows a traceback for these.
"""

from __future__ import annotations


class LatentmorphError(Exception):
    """Base class for user-facing errors. ``exit_code`` is what the CLI returns."""

    exit_code: int = 2


class AudioError(LatentmorphError):
    """An audio file or array that cannot be used (missing, corrupt, NaN, too long...)."""


class AudioTooLong(AudioError):
    """An audio file over the length limit (``--max-seconds``); worth retrying when the limit moves."""


class CodecError(LatentmorphError):
    """A codec that cannot be used (unknown name, missing package or weights)."""


class CorpusError(LatentmorphError):
    """A corpus or index that cannot be used (missing, empty, built with another codec)."""


class ModelError(LatentmorphError):
    """A trained model file that cannot be used (missing, damaged, another codec, bad options)."""


class ConditionError(LatentmorphError):
    """A condition input that cannot be used (a MIDI file with no notes, a missing CLAP folder...)."""
