"""EnCodec (Défossez et al. 2022, Meta) as a latentmorph codec, through ``transformers.EncodecModel``.

Weights: a local folder (``encodec:PATH``, ``--weights PATH``, ``$LATENTMORPH_ENCODEC_WEIGHTS``,
or ``<cache>/weights/encodec_24khz`` / ``encodec_48khz``), see :mod:`latentmorph.codecs.hf_local`.
Nothing is downloaded. Weights licence: MIT (the ``facebook/encodec_*`` checkpoints).

Latents are the **continuous pre-quantisation embeddings**: the SEANet encoder's output
(128 dims) before the residual vector quantiser. They are decoded by the SEANet decoder
directly, without the RVQ, so a round trip has no quantisation error and blends of latents
are meaningful. 24 kHz model: mono, hop 320 (75 frames/s). 48 kHz model: stereo network,
hop 320 (150 frames/s); each of your channels goes in on both of its inputs (channels are
encoded independently, like every latentmorph codec) and its two outputs are averaged.

The 48 kHz model normalises every 1 s chunk to unit RMS and keeps the scale beside the
codes; we run the encoder on the signal at its own level instead, so latents carry loudness,
frame ``t`` depends only on the audio around it, and decoding needs no side information.
"""

from __future__ import annotations

import os

from latentmorph.codecs import hf_local
from latentmorph.codecs.hf_codec import TransformersCodec
from latentmorph.codecs.registry import CodecEntry, register

ENV_WEIGHTS = "LATENTMORPH_ENCODEC_WEIGHTS"
DEFAULT_FOLDERS = ("encodec_24khz", "encodec_48khz")
HOW_TO_GET = (
    "on a connected machine run `huggingface-cli download facebook/encodec_24khz --local-dir encodec_24khz` "
    "(or facebook/encodec_48khz), copy the folder here and pass encodec:FOLDER or --weights FOLDER"
)


class EncodecCodec(TransformersCodec):
    """EnCodec 24 kHz (mono, 75 frames/s x 128) or 48 kHz (stereo network, 150 frames/s x 128).

    Args:
        weights: folder with ``config.json`` + ``model.safetensors`` (see the module docstring).
        chunk_seconds: longest piece run through the network at once (memory); 30 s.
        context_seconds: real signal on each side of a piece (its LSTM and convolutions see it).

    Shapes: ``encode([C, S]) -> [C, 128, ceil(S / 320)]``; ``decode([C, 128, T]) -> [C, 320 T]``.
    """

    name = "encodec"
    model_type = "encodec"
    model_class = "EncodecModel"
    how_to_get = HOW_TO_GET

    @classmethod
    def find_folder(cls, weights: str | os.PathLike | None) -> str:
        """``weights``, else ``$LATENTMORPH_ENCODEC_WEIGHTS``, else the latentmorph cache's default folder(s)."""
        return hf_local.find_folder("EnCodec", weights, ENV_WEIGHTS, DEFAULT_FOLDERS, HOW_TO_GET)


register(
    CodecEntry(
        name="encodec",
        factory=EncodecCodec,
        description="EnCodec 24/48 kHz via transformers (pre-quantisation embeddings, 128 dims); needs a local weights folder (MIT)",
        check=EncodecCodec.check,
    )
)
