"""latentmorph's one cache folder and the one environment variable that moves it.

Everything latentmorph caches lives under :func:`cache_dir`:

- ``indexes/``            indexes built for ``transfer --corpus FILES`` (one per file set + codec)
- ``weights/``            neural-codec weights found by content hash
- ``weight_hashes.json``  weights digests keyed by path + size + mtime
- ``inductor/``           ``torch.compile`` kernels (Music2Latent ``--compile``)
- ``m2l_precision.json``  the measured bf16/fp32 choice per CPU + torch version

``$LATENTMORPH_CACHE_DIR`` picks the folder; else ``$XDG_CACHE_HOME/latentmorph``; else
``~/.cache/latentmorph``. ``$LATENTMORPH_CACHE`` (which once moved only the cached
indexes) is a deprecated alias, read when ``LATENTMORPH_CACHE_DIR`` is unset.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

#: The environment variable that moves the cache folder.
ENV_CACHE_DIR = "LATENTMORPH_CACHE_DIR"
#: Deprecated alias of :data:`ENV_CACHE_DIR`, honoured when that one is unset.
ENV_CACHE_DEPRECATED = "LATENTMORPH_CACHE"

_warned = False


def cache_dir() -> Path:
    """The cache folder (not created here; writers create what they need)."""
    global _warned
    env = os.environ.get(ENV_CACHE_DIR)
    if env:
        return Path(env).expanduser()
    old = os.environ.get(ENV_CACHE_DEPRECATED)
    if old:
        if not _warned:
            _warned = True
            warnings.warn(f"${ENV_CACHE_DEPRECATED} is deprecated; set ${ENV_CACHE_DIR} instead", DeprecationWarning, stacklevel=2)
        return Path(old).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "latentmorph"
