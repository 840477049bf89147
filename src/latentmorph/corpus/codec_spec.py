"""Turning a codec into a spec string that rebuilds it (stored in the index)."""

from __future__ import annotations

import inspect
from typing import Any

from latentmorph.codecs import Codec, get_codec
from latentmorph.errors import CodecError


def resolve_codec(codec: str | Codec | None) -> tuple[Codec, str]:
    """Return ``(codec instance, spec string)``.

    A string spec is kept as given. For an instance we rebuild a spec from the
    constructor arguments found in ``config()`` and keep it only if it reproduces the
    same fingerprint; otherwise the bare codec name is stored (then
    :meth:`CorpusIndex.codec` asks for the instance to be passed in).
    """
    if not isinstance(codec, Codec):
        c = get_codec(codec)
        return c, str(codec or c.name)
    spec = getattr(codec, "spec", None)
    if isinstance(spec, str):
        return codec, spec
    try:
        params = inspect.signature(type(codec).__init__).parameters
        config = codec.config()
        defaults = type(codec)()  # type: ignore[call-arg]
        options: dict[str, Any] = {
            k: v for k, v in config.items() if k in params and isinstance(v, (int, float, str, bool)) and getattr(defaults, k, None) != v
        }
        text = codec.name + (":" + ",".join(f"{k}={v}" for k, v in sorted(options.items())) if options else "")
        if get_codec(text).fingerprint == codec.fingerprint:
            return codec, text
    except (CodecError, TypeError, ValueError):
        pass
    return codec, codec.name
