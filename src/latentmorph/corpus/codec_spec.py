"""Turning a codec into a spec string that rebuilds it (stored in the index)."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from latentmorph.codecs import Codec, get_codec, parse_spec
from latentmorph.errors import CodecError


def portable_spec(codec: Codec, spec: str) -> str:
    """``spec`` with the weights made independent of the working folder.

    For a codec with weights (its ``weights_path`` and ``weights_sha`` declarations), the stored spec
    names the absolute, resolved weights path and their content hash
    (``music2latent:weights=/abs/m2l.pt,weights_sha256=0123...``); when that path is gone on
    load, :func:`latentmorph.codecs.weights_files.locate_weights` finds the same content by hash.
    Codecs without weights keep ``spec`` as given.
    """
    path, sha = codec.weights_path, codec.weights_sha
    if path is None or not sha:
        return spec
    name, options = parse_spec(spec)
    options["weights"] = str(Path(path).expanduser().resolve())
    options["weights_sha256"] = sha
    return name + ":" + ",".join(f"{k}={v}" for k, v in options.items())


def _instance_options(codec: Codec) -> str:
    """A spec for a codec instance with weights: its name plus the constructor options found in ``config()``."""
    params = inspect.signature(type(codec).__init__).parameters
    options = {k: v for k, v in codec.config().items() if k in params and k != "weights" and isinstance(v, (int, float, str, bool))}
    return codec.name + (":" + ",".join(f"{k}={v}" for k, v in options.items()) if options else "")


def resolve_codec(codec: str | Codec | None) -> tuple[Codec, str]:
    """Return ``(codec instance, spec string)``.

    A string spec is kept as given, and so is the spec an instance was built from
    (:attr:`Codec.spec`, set by ``get_codec``). For an instance made directly we rebuild a spec from the
    constructor arguments found in ``config()`` and keep it only if it reproduces the
    same fingerprint; otherwise the bare codec name is stored (then
    :meth:`CorpusIndex.codec` asks for the instance to be passed in).
    """
    if not isinstance(codec, Codec):
        c = get_codec(codec)
        return c, portable_spec(c, str(codec or c.name))
    if codec.spec is not None:
        return codec, portable_spec(codec, codec.spec)
    if codec.weights_path is not None:
        return codec, portable_spec(codec, _instance_options(codec))
    try:
        params = inspect.signature(type(codec).__init__).parameters
        config = codec.config()
        defaults = type(codec)()
        options: dict[str, Any] = {
            k: v for k, v in config.items() if k in params and isinstance(v, (int, float, str, bool)) and getattr(defaults, k, None) != v
        }
        text = codec.name + (":" + ",".join(f"{k}={v}" for k, v in sorted(options.items())) if options else "")
        if get_codec(text).fingerprint == codec.fingerprint:
            return codec, text
    except (CodecError, TypeError, ValueError):
        pass
    return codec, codec.name
