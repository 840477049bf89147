"""Randomly initialised weights of the real EnCodec/DAC architectures, saved in the real format.

For tests (``size="tiny"``: a few thousand parameters, same layer types and file layout) and
benchmarks (``size="real"``: the configurations of ``facebook/encodec_24khz``,
``facebook/encodec_48khz`` and ``descript/dac_44khz``, so speed is that of the real
networks). The folders are what ``save_pretrained`` writes plus the feature extractor's
``preprocessor_config.json``, loaded by the codecs through their normal path.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from latentmorph.codecs.hf_local import require_transformers

_ENCODEC: dict[str, dict[str, Any]] = {
    "24khz": {"sampling_rate": 24000, "audio_channels": 1, "target_bandwidths": [1.5, 3.0, 6.0, 12.0, 24.0]},
    "48khz": {
        "sampling_rate": 48000, "audio_channels": 2, "normalize": True, "chunk_length_s": 1.0, "overlap": 0.01,
        "use_causal_conv": False, "norm_type": "time_group_norm", "target_bandwidths": [3.0, 6.0, 12.0, 24.0],
    },
}
_TINY_ENCODEC = {"upsampling_ratios": [8, 8], "num_filters": 4, "hidden_size": 8, "num_residual_layers": 1, "codebook_size": 16, "num_lstm_layers": 1}
_TINY_DAC = {"encoder_hidden_size": 4, "downsampling_ratios": [8, 8], "decoder_hidden_size": 16, "n_codebooks": 2, "codebook_size": 16, "codebook_dim": 4}


def save_random_encodec(folder: str | os.PathLike, variant: str = "24khz", size: str = "tiny", seed: int = 0) -> Path:
    """Write a random EnCodec (``variant`` ``"24khz"`` or ``"48khz"``) to ``folder``; returns it."""
    require_transformers("encodec")
    import torch
    from transformers import EncodecConfig, EncodecFeatureExtractor, EncodecModel

    kw = dict(_ENCODEC[variant])
    if size == "tiny":
        kw.update(_TINY_ENCODEC)
    torch.manual_seed(seed)
    config = EncodecConfig(**kw)
    return _save(EncodecModel(config), EncodecFeatureExtractor(feature_size=config.audio_channels, sampling_rate=config.sampling_rate), folder)


def save_random_dac(folder: str | os.PathLike, size: str = "tiny", seed: int = 0) -> Path:
    """Write a random DAC 44.1 kHz to ``folder``; returns it."""
    require_transformers("dac")
    import torch
    from transformers import DacConfig, DacFeatureExtractor, DacModel

    kw: dict[str, Any] = {"sampling_rate": 44100}
    if size == "tiny":
        kw.update(_TINY_DAC)
    torch.manual_seed(seed)
    config = DacConfig(**kw)
    return _save(DacModel(config), DacFeatureExtractor(sampling_rate=44100, hop_length=config.hop_length), folder)


def _save(model: Any, extractor: Any, folder: str | os.PathLike) -> Path:
    out = Path(folder)
    model.save_pretrained(str(out), safe_serialization=True)
    extractor.save_pretrained(str(out))
    return out
