"""Shared fixtures: paths to the bundled real-audio excerpts, a sine, a corpus folder of excerpts."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).parent / "data"

# Belt and braces: the code under test loads models from local folders only; these make the
# Hugging Face libraries refuse any network access too, and keep Gradio from phoning home.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Folder of short real recordings (see tests/data/LICENSES.md)."""
    return DATA


@pytest.fixture
def sine():
    """``sine(freq, seconds, sr)`` -> float32 ``[samples]`` at amplitude 0.5."""

    def make(freq: float = 440.0, seconds: float = 1.0, sr: int = 44100) -> np.ndarray:
        t = np.arange(int(seconds * sr)) / sr
        return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)

    return make


def write_excerpts(folder: Path, names: tuple[str, ...] | list[str], seconds: float) -> Path:
    """``folder`` (created) holding the first ``seconds`` of each bundled recording in
    ``names`` as a WAV file of the same stem: a small real corpus to index."""
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        wave, sr = sf.read(DATA / name, dtype="float32")
        sf.write(folder / (Path(name).stem + ".wav"), wave[: int(seconds * sr)], sr)
    return folder


@pytest.fixture(scope="session")
def excerpt_corpus():
    """``excerpt_corpus(folder, names, seconds)`` -> ``folder``: see :func:`write_excerpts`."""
    return write_excerpts
