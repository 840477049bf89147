"""Real-time latent granular transfer: causal block streaming and a TorchScript export.

``Streamer(index, **options).process(block)`` transforms ``[C, n]`` blocks causally;
``transfer_causal`` is the whole-file reference with the same settings; ``export_module``
writes an nn~-compatible TorchScript file. See docs/realtime.md.
"""

from latentmorph.stream.offline import transfer_causal
from latentmorph.stream.streamer import DEFAULTS, Streamer

__all__ = ["DEFAULTS", "Streamer", "transfer_causal"]
