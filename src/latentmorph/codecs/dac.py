"""DAC, the Descript Audio Codec (Kumar et al. 2023), as a latentmorph codec, through ``transformers.DacModel``.

Weights: a local folder (``dac:PATH``, ``--weights PATH``, ``$LATENTMORPH_DAC_WEIGHTS`` or
``<cache>/weights/dac_44khz``), see :mod:`latentmorph.codecs.hf_local`. Nothing is downloaded.
Weights licence: MIT (``descript/dac_44khz``).

Latents are the **continuous pre-quantisation embeddings**: the encoder's output
(1024 dims for the 44.1 kHz model) before the residual vector quantiser and its
projections; the decoder is run on them directly (no RVQ), so a round trip has no
quantisation error. 44.1 kHz model: mono, hop 512 (86.13 frames/s).
"""

from __future__ import annotations

import os

from latentmorph.codecs import hf_local
from latentmorph.codecs.hf_codec import TransformersCodec
from latentmorph.codecs.registry import CodecEntry, register

ENV_WEIGHTS = "LATENTMORPH_DAC_WEIGHTS"
DEFAULT_FOLDER = "dac_44khz"
HOW_TO_GET = (
    "on a connected machine run `huggingface-cli download descript/dac_44khz --local-dir dac_44khz`, "
    "copy the folder here and pass dac:FOLDER or --weights FOLDER"
)


class DacCodec(TransformersCodec):
    """DAC 44.1 kHz: mono network, 86.13 frames/s x 1024 (pre-quantisation).

    Args:
        weights: folder with ``config.json`` + ``model.safetensors``.
        chunk_seconds: longest piece run through the network at once (memory); 30 s.
        context_seconds: real signal on each side of a piece; 1 s.

    Shapes: ``encode([C, S]) -> [C, 1024, ceil(S / 512)]``; ``decode([C, 1024, T]) -> [C, 512 T]``.
    """

    name = "dac"
    model_type = "dac"
    model_class = "DacModel"
    how_to_get = HOW_TO_GET

    @classmethod
    def find_folder(cls, weights: str | os.PathLike | None) -> str:
        """``weights``, else ``$LATENTMORPH_DAC_WEIGHTS``, else the latentmorph cache's default folder(s)."""
        return hf_local.find_folder("DAC", weights, ENV_WEIGHTS, (DEFAULT_FOLDER,), HOW_TO_GET)


register(
    CodecEntry(
        name="dac",
        factory=DacCodec,
        description="DAC 44.1 kHz via transformers (pre-quantisation embeddings, 1024 dims); needs a local weights folder (MIT)",
        check=DacCodec.check,
    )
)
