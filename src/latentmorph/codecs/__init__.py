"""Codecs behind one interface (:class:`Codec`) and a registry of them."""

from latentmorph.codecs.base import Codec
from latentmorph.codecs.registry import DEFAULT_CODEC, CodecStatus, get_codec, list_codecs, parse_spec, register

__all__ = ["DEFAULT_CODEC", "Codec", "CodecStatus", "get_codec", "list_codecs", "parse_spec", "register"]
