"""``--weights PATH`` alone: which codec are these weights for?

* a file ending in ``.pt`` / ``.ckpt``: Music2Latent (``music2latent.pt``);
* a file ending in ``.ts``: a RAVE TorchScript export;
* a folder whose ``config.json`` says ``"model_type": "encodec"`` or ``"dac"``: EnCodec or DAC.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from latentmorph.errors import CodecError

SUFFIXES = {".pt": "music2latent", ".ckpt": "music2latent", ".ts": "rave"}
MODEL_TYPES = ("encodec", "dac")


def codec_for_weights(path: str | os.PathLike) -> str:
    """The registry name of the codec ``path`` holds weights for.

    Raises:
        CodecError: one line naming the path when it is missing or of no known kind.
    """
    p = Path(path).expanduser()
    if p.is_dir():
        cfg = p / "config.json"
        try:
            model_type = json.loads(cfg.read_text()).get("model_type")
        except (OSError, ValueError, AttributeError):
            raise CodecError(f"{p}: folder has no readable config.json; a weights folder for encodec or dac needs one (or give --codec)") from None
        if model_type not in MODEL_TYPES:
            raise CodecError(f"{cfg}: model_type {model_type!r} is not one latentmorph runs ({', '.join(MODEL_TYPES)}); give --codec")
        return str(model_type)
    if not p.exists():
        raise CodecError(f"{p}: weights not found (file or folder given by --weights)")
    codec = SUFFIXES.get(p.suffix.lower())
    if codec is None:
        raise CodecError(f"{p}: cannot tell which codec these weights are for (known: .pt Music2Latent, .ts RAVE, a transformers folder); give --codec")
    return codec


def codec_with_weights(codec: str | None, weights: str | None, default: str | None = None) -> str | None:
    """The spec for ``--codec`` + ``--weights``: ``--weights`` alone implies its codec.

    ``default`` is what ``--codec`` holds when the user did not give it (some commands
    default it to ``embedded``); then the weights decide.
    """
    if not weights:
        return codec
    if codec is None or codec == default:
        codec = codec_for_weights(weights)
    return f"{codec}{',' if ':' in codec else ':'}weights={weights}"
