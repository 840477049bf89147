"""Codec registry: names -> constructors, plus a truthful "is it usable here?" check.

A codec spec is ``NAME`` or ``NAME:key=value,key=value`` (e.g.
``embedded:hop=512`` or ``music2latent:weights=/path/music2latent.pt``). A first part
without ``=`` that looks like a path (has ``/``, ``.`` or ``~``) is the weights path:
``encodec:/models/encodec_24khz``, ``dac:./dac_44khz``, ``rave:vintage.ts,sr=48000``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from latentmorph.codecs.base import Codec
from latentmorph.errors import CodecError

DEFAULT_CODEC = "embedded"


@dataclass(frozen=True)
class CodecEntry:
    """A registered codec: how to build it and how to tell whether it can run here."""

    name: str
    factory: Callable[..., Codec]
    description: str
    #: Returns ``(usable, reason)`` without building the codec (cheap, no network).
    check: Callable[[], tuple[bool, str]]
    aliases: tuple[str, ...] = ()


_REGISTRY: dict[str, CodecEntry] = {}
_ALIASES: dict[str, str] = {}


def register(entry: CodecEntry) -> None:
    """Add a codec to the registry (plug-ins call this)."""
    _REGISTRY[entry.name] = entry
    for alias in entry.aliases:
        _ALIASES[alias] = entry.name


def _coerce(value: str) -> Any:
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """Split ``"name:k=v,k2=v2"`` into ``("name", {"k": v, "k2": v2})``."""
    name, _, rest = spec.partition(":")
    options: dict[str, Any] = {}
    parts = [p.strip() for p in rest.split(",")] if "=" in rest else [rest.strip()]
    if parts and parts[0] and "=" not in parts[0] and any(ch in parts[0] for ch in "/.~\\"):
        options["weights"] = parts.pop(0)  # "encodec:PATH", "rave:PATH.ts": a bare first part that looks like a path is the weights
    for part in filter(None, parts):
        key, eq, value = part.partition("=")
        if not eq:
            raise CodecError(f"codec option {part!r} in {spec!r} must look like key=value")
        options[key.strip().replace("-", "_")] = _coerce(value.strip())
    return name.strip().lower(), options


def entry_for(name: str) -> CodecEntry:
    """The registry entry for ``name`` (or an alias)."""
    _ensure_builtins()
    key = _ALIASES.get(name, name)
    if key not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY))
        raise CodecError(f"unknown codec {name!r}; available: {known}")
    return _REGISTRY[key]


def get_codec(spec: str | Codec | None = None, **options: Any) -> Codec:
    """Build a codec from a spec string (``None`` gives the embedded default).

    Keyword ``options`` override those in the spec. A :class:`Codec` instance is
    returned as is.
    """
    if isinstance(spec, Codec):
        return spec
    name, spec_options = parse_spec(spec or DEFAULT_CODEC)
    entry = entry_for(name)
    merged = {**spec_options, **options}
    sha = merged.pop("weights_sha256", None)
    if sha is not None:  # a stored spec: the weights by content, wherever they are now
        from latentmorph.codecs.weights_files import locate_weights

        merged["weights"] = str(locate_weights(entry.name, merged.get("weights"), str(sha)))
    try:
        return entry.factory(**merged)
    except TypeError as err:
        raise CodecError(f"codec {entry.name}: bad option ({err})") from None


@dataclass(frozen=True)
class CodecStatus:
    """One line of ``latentmorph codecs``."""

    name: str
    usable: bool
    reason: str
    description: str


def list_codecs() -> list[CodecStatus]:
    """Every registered codec and whether it can run on this machine right now."""
    _ensure_builtins()
    out = []
    for entry in _REGISTRY.values():
        try:
            usable, reason = entry.check()
        except Exception as err:  # a broken plug-in must not break the listing
            usable, reason = False, f"check failed: {err}"
        out.append(CodecStatus(entry.name, usable, reason, entry.description))
    return out


_BUILTINS_LOADED = False


def _ensure_builtins() -> None:
    global _BUILTINS_LOADED
    if _BUILTINS_LOADED:
        return
    _BUILTINS_LOADED = True
    from latentmorph.codecs import embedded  # noqa: F401  (codec modules register themselves)
    from latentmorph.codecs import music2latent  # noqa: F401
    from latentmorph.codecs import dac, encodec, rave  # noqa: F401
