"""Codec registry: names -> constructors, plus a truthful "is it usable here?" check.

A codec spec is ``NAME`` or ``NAME:key=value,key=value`` (e.g.
``embedded:hop=512`` or ``music2latent:weights=/path/music2latent.pt``). A first part
without ``=`` that looks like a path (has ``/``, ``.`` or ``~``) is the weights path:
``encodec:/models/encodec_24khz``, ``dac:./dac_44khz``, ``rave:vintage.ts,sr=48000``.
"""

from __future__ import annotations

import importlib
import inspect
import math
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


#: Largest integer a codec option may take (a hop or length beyond this is a typo).
MAX_INT_OPTION = 2**31 - 1


def _expected_type(param: inspect.Parameter) -> type | None:
    """``bool``/``int``/``float``/``str`` from a constructor parameter's annotation or default."""
    ann = param.annotation if isinstance(param.annotation, str) else getattr(param.annotation, "__name__", "")
    names = [t.strip() for t in str(ann).split("|") if t.strip() not in ("None", "")]
    kinds = {"bool": bool, "int": int, "float": float, "str": str}
    if names and names[0] in kinds:
        return kinds[names[0]]
    default = param.default
    if default is not inspect.Parameter.empty and default is not None:
        return type(default)
    return None


def check_spec_options(entry: CodecEntry, options: dict[str, Any], spec: str) -> dict[str, Any]:
    """Check codec options against the factory's signature; one-line :class:`CodecError` otherwise.

    Unknown names, wrong types (``hop=abc``), NaN/inf, negative numbers and zero where the
    default is positive are refused here, before the codec is built.
    """
    try:
        params = inspect.signature(entry.factory).parameters
    except (TypeError, ValueError):
        return options
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    out = {}
    for key, value in options.items():
        param = params.get(key)
        if param is None or param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            if takes_any:
                out[key] = value
                continue
            known = ", ".join(k for k, p in params.items() if k != "self" and p.kind is not inspect.Parameter.VAR_KEYWORD)
            raise CodecError(f"codec {entry.name}: bad option {key!r} in {spec!r} (unknown; options: {known})")
        kind = _expected_type(param)
        out[key] = _check_value(entry.name, key, value, kind, param.default, spec)
    return out


def _check_value(codec: str, key: str, value: Any, kind: type | None, default: Any, spec: str) -> Any:
    def bad(why: str) -> CodecError:
        return CodecError(f"codec {codec}: bad option {key}={value!r} in {spec!r}: {why}")

    if value is None or kind is None or kind is str:
        if kind is str and not isinstance(value, str):
            return str(value)
        return value
    if kind is bool:
        if not isinstance(value, bool):
            raise bad("must be true or false")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad(f"must be {'an integer' if kind is int else 'a number'}")
    if not math.isfinite(float(value)):
        raise bad("must be a finite number")
    if kind is int:
        if abs(value) > MAX_INT_OPTION:
            raise bad("is too large")
        if float(value) != int(value):
            raise bad("must be an integer")
        value = int(value)
    positive = isinstance(default, (int, float)) and not isinstance(default, bool) and default > 0
    if value < 0 or (positive and value == 0):
        raise bad("must be above 0" if positive else "must not be negative")
    if key == "sample_rate":
        from latentmorph.numbers import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE

        if not MIN_SAMPLE_RATE <= value <= MAX_SAMPLE_RATE:
            raise bad(f"must lie in {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE} Hz")
    return value


def entry_for(name: str) -> CodecEntry:
    """The registry entry for ``name`` (or an alias); imports only that built-in codec's module."""
    key = _ALIASES.get(name, name)
    if key not in _REGISTRY and name in _BUILTIN_MODULES:
        importlib.import_module(f"latentmorph.codecs.{_BUILTIN_MODULES[name]}")
        key = _ALIASES.get(name, name)
    if key not in _REGISTRY:
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
    if spec is not None and not isinstance(spec, str):
        raise CodecError(f"codec spec must be a string like 'embedded:hop=512' or a Codec, got {type(spec).__name__}")
    text = spec or DEFAULT_CODEC
    name, spec_options = parse_spec(text)
    entry = entry_for(name)
    merged = {**spec_options, **options}
    sha = merged.pop("weights_sha256", None)
    merged = check_spec_options(entry, merged, text)
    if sha is not None:  # a stored spec: the weights by content, wherever they are now
        from latentmorph.codecs.weights_files import locate_weights

        merged["weights"] = str(locate_weights(entry.name, merged.get("weights"), str(sha)))
    try:
        codec = entry.factory(**merged)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError) as err:
        raise CodecError(f"codec {entry.name}: bad option in {text!r} ({err})") from None
    if options:  # keyword overrides: the spec that rebuilds this instance is the merged one
        text = entry.name + (":" + ",".join(f"{k}={v}" for k, v in {**spec_options, **options}.items())
                             if spec_options or options else "")
    codec.spec = text
    return codec


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

#: Built-in codec names and aliases -> their module in ``latentmorph.codecs``. Asking for one
#: imports only its module (``embedded`` needs numpy only; the neural ones import torch).
_BUILTIN_MODULES = {
    "embedded": "embedded", "dsp": "embedded", "default": "embedded",
    "music2latent": "music2latent", "m2l": "music2latent",
    "dac": "dac", "encodec": "encodec", "rave": "rave",
}


def _ensure_builtins() -> None:
    global _BUILTINS_LOADED
    if _BUILTINS_LOADED:
        return
    _BUILTINS_LOADED = True
    for module in dict.fromkeys(_BUILTIN_MODULES.values()):  # codec modules register themselves
        importlib.import_module(f"latentmorph.codecs.{module}")
