"""The one check that data was made by the codec about to read it, with one message.

Latents, index shards, packs and diffusion models are only meaningful to the codec that made
them (same name, options and weights: its ``fingerprint``). Every reader calls
:func:`check_fingerprint`, so a mismatch always reads::

    WHERE: WHAT made with codec SPEC (FINGERPRINT), not SPEC (FINGERPRINT); HOW TO FIX
"""

from __future__ import annotations

import os

from latentmorph.errors import CodecError, LatentmorphError


def describe(fingerprint: str, spec: str | None = None) -> str:
    """``"spec (fingerprint)"``, or the fingerprint alone when the spec is unknown or the same text."""
    return f"{spec} ({fingerprint})" if spec and spec != fingerprint else fingerprint


def check_fingerprint(
    where: str | os.PathLike,
    what: str,
    made: str,
    expected: str,
    *,
    made_spec: str | None = None,
    expected_spec: str | None = None,
    fix: str,
    error: type[LatentmorphError] = CodecError,
) -> None:
    """Raise ``error`` unless fingerprint ``made`` (what ``what`` at ``where`` was made with) is ``expected``.

    Args:
        where: the file or folder named first in the message.
        what: what it holds (``"latents"``, ``"index"``, ``"pack"``, ``"model"``).
        made / made_spec: the fingerprint (and spec) stored with the data.
        expected / expected_spec: the codec about to use it.
        fix: what the user should do, ending the one-line message.
        error: the :class:`~latentmorph.errors.LatentmorphError` kind to raise.
    """
    if made == expected:
        return
    raise error(
        f"{os.fspath(where)}: {what} made with codec {describe(made, made_spec)}, "
        f"not {describe(expected, expected_spec)}; {fix}"
    )
