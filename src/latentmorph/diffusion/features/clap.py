"""CLAP text and audio embeddings from a local folder (extra ``latentmorph[transformers]``).

:class:`ClapEmbedder` loads ``transformers.ClapModel`` and ``transformers.ClapProcessor`` from a
folder written by ``save_pretrained`` (``local_files_only=True``, safetensors weights only):
nothing is ever downloaded. Get real weights on a connected machine with::

    from transformers import ClapModel, ClapProcessor
    ClapModel.from_pretrained("laion/clap-htsat-unfused").save_pretrained("clap-htsat-unfused")
    ClapProcessor.from_pretrained("laion/clap-htsat-unfused").save_pretrained("clap-htsat-unfused")

and copy the folder over. :func:`save_random_clap` writes a tiny randomly initialised model of
the same architecture with a real (small) byte-level BPE tokenizer, for tests and benchmarks.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np

from latentmorph.errors import ConditionError

INSTALL_HINT = "CLAP needs the transformers package: pip install 'latentmorph[transformers]'"

#: Files a CLAP folder must hold (weights as safetensors: pickled weights are never loaded).
REQUIRED_FILES = ("config.json", "preprocessor_config.json")
_WEIGHTS = ("model.safetensors", "model.safetensors.index.json")
_TOKENIZER = (("tokenizer.json",), ("vocab.json", "merges.txt"))


def _transformers():
    try:
        import transformers
    except ImportError:
        raise ConditionError(INSTALL_HINT) from None
    return transformers


def _fix_hint(folder: Path) -> str:
    return (
        f"save one on a connected machine with ClapModel/ClapProcessor.from_pretrained('laion/clap-htsat-unfused')"
        f".save_pretrained('{folder}') (see docs/conditions.md)"
    )


def check_clap_folder(folder: str | os.PathLike) -> Path:
    """The folder as a :class:`Path` when it looks like a saved CLAP; ConditionError otherwise."""
    if not isinstance(folder, (str, os.PathLike)):
        raise ConditionError(f"CLAP weights must be a local folder path, got {type(folder).__name__}")
    path = Path(folder)
    if not path.exists():
        raise ConditionError(
            f"{path}: no CLAP folder here (model names are never downloaded); {_fix_hint(path)}"
        )
    if not path.is_dir():
        raise ConditionError(f"{path}: is a file, not a CLAP folder; {_fix_hint(path)}")
    missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
    if not any((path / name).is_file() for name in _WEIGHTS):
        missing.append("model.safetensors")
    if not any(all((path / name).is_file() for name in group) for group in _TOKENIZER):
        missing.append("tokenizer.json or vocab.json + merges.txt")
    if missing:
        raise ConditionError(f"{path}: incomplete CLAP folder (missing {', '.join(missing)}); {_fix_hint(path)}")
    try:
        model_type = json.loads((path / "config.json").read_text(encoding="utf-8")).get("model_type")
    except (OSError, ValueError, AttributeError) as err:
        raise ConditionError(f"{path}: config.json is unreadable ({type(err).__name__})") from None
    if model_type != "clap":
        raise ConditionError(f"{path}: config.json describes a {model_type!r} model, not CLAP")
    return path


class ClapEmbedder:
    """Text and audio embeddings of a CLAP model saved in a local folder.

    Attributes:
        dim: projection (embedding) dimension.
        sample_rate: the feature extractor's rate (48000 for real CLAP); audio is resampled to it.
    """

    def __init__(self, folder: str | os.PathLike, *, device: str = "cpu") -> None:
        path = check_clap_folder(folder)
        tf = _transformers()
        import torch

        try:
            self._processor = tf.ClapProcessor.from_pretrained(path, local_files_only=True)
            self._model = tf.ClapModel.from_pretrained(path, local_files_only=True, use_safetensors=True)
        except Exception as err:  # corrupt JSON, wrong shapes, bad tokenizer files...
            first = str(err).strip().splitlines()[0][:200] if str(err).strip() else ""
            raise ConditionError(f"{path}: cannot load CLAP ({type(err).__name__}: {first})") from None
        self._torch = torch
        self._device = torch.device(device)
        self._model.to(self._device).eval()
        self.folder = path
        self.dim = int(self._model.config.projection_dim)
        fe = self._processor.feature_extractor
        self.sample_rate = int(fe.sampling_rate)
        self._chunk = int(round(float(fe.nb_max_samples)))

    def _normalise(self, x) -> np.ndarray:
        x = x.detach().to("cpu", self._torch.float32).numpy()
        norm = np.linalg.norm(x, axis=-1, keepdims=True)
        return (x / np.maximum(norm, 1e-12)).astype(np.float32)

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        """float32 ``[B, dim]`` L2-normalised text embeddings of ``texts``."""
        if isinstance(texts, str):
            texts = [texts]
        texts = [str(t) for t in texts]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        tok = self._processor.tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
        tok = {k: v.to(self._device) for k, v in tok.items()}
        with self._torch.inference_mode():
            feats = self._model.get_text_features(**tok)
        return self._normalise(feats)

    def embed_audio(self, wave: np.ndarray, sr: int) -> np.ndarray:
        """float32 ``[dim]`` L2-normalised embedding of ``wave`` ([C, S] or [S], any rate).

        The mono mix is resampled to :attr:`sample_rate`; audio longer than the extractor's
        window (10 s for real CLAP) is cut into consecutive windows whose embeddings are
        averaged, so the result is deterministic and covers the whole clip.
        """
        from latentmorph.audio.resample import resample
        from latentmorph.evaluate.features import mono

        x = mono(wave)
        if x.size == 0 or not np.all(np.isfinite(x)):
            raise ConditionError("CLAP audio: empty, or holds NaN/Inf samples")
        x = resample(x.astype(np.float32), int(sr), self.sample_rate)
        chunks = [x[i : i + self._chunk] for i in range(0, x.shape[0], self._chunk)]
        if len(chunks) > 1 and chunks[-1].shape[0] < self._chunk // 4:
            chunks = chunks[:-1]  # a short tail would be repeat-padded into a loop of itself
        fe = self._processor.feature_extractor
        feats = fe(chunks, sampling_rate=self.sample_rate, return_tensors="pt")
        inputs = {k: v.to(self._device) for k, v in feats.items() if k in ("input_features", "is_longer")}
        with self._torch.inference_mode():
            emb = self._model.get_audio_features(**inputs)
        per_chunk = self._normalise(emb)
        mean = per_chunk.mean(axis=0)
        return (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)


_TOKENIZER_TEXT = (
    "a drum loop at one hundred and twenty beats per minute",
    "soft piano chords with reverb",
    "a distorted electric guitar riff",
    "rain falling on a tin roof",
    "wind howling through trees",
    "a choir singing a low drone",
    "bright bells ringing in a church",
    "fast tabla rhythm with bass strokes",
    "speech of a man reading the news",
    "ambient synth pad, slow and dark",
    "string ensemble playing a sad melody",
    "breakbeat with a heavy kick and crisp snare",
)


def _tiny_tokenizer(tf, work: Path):
    """A small byte-level BPE vocabulary (RoBERTa special tokens), trained here on a few sentences."""
    from tokenizers import ByteLevelBPETokenizer

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        list(_TOKENIZER_TEXT) * 4,
        vocab_size=600,
        min_frequency=1,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
        show_progress=False,
    )
    bpe.save_model(str(work))  # vocab.json + merges.txt
    return tf.RobertaTokenizerFast(
        vocab_file=str(work / "vocab.json"), merges_file=str(work / "merges.txt"), model_max_length=64
    )


def tiny_clap_config(tf, vocab_size: int):
    """A few-layer, narrow ClapConfig with the real architecture (HTS-AT audio tower, RoBERTa text tower)."""
    text = dict(
        vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=80, type_vocab_size=1, pad_token_id=1,
        bos_token_id=0, eos_token_id=2, projection_dim=16,
    )
    audio = dict(
        window_size=8, num_mel_bins=64, spec_size=256, patch_size=4, patch_stride=(4, 4),
        depths=[1, 1, 1, 1], num_attention_heads=[1, 2, 2, 4], patch_embeds_hidden_size=16,
        hidden_size=128, projection_dim=16, enable_fusion=False,
    )
    return tf.ClapConfig(text_config=text, audio_config=audio, projection_dim=16)


def save_random_clap(folder: str | os.PathLike, *, seed: int = 0) -> Path:
    """Write a tiny randomly initialised CLAP (weights, config, processor, tokenizer) to ``folder``.

    Saved with ``save_pretrained`` (safetensors), loadable offline by :class:`ClapEmbedder` and
    ``ClapProcessor.from_pretrained(folder)``. The folder must not exist or be empty; it is
    written beside itself first and renamed into place, so a failed run leaves nothing.
    """
    tf = _transformers()
    import torch

    target = Path(folder)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ConditionError(f"{target}: exists and is not an empty folder; choose a new folder for the CLAP model")
    parent = target.parent if str(target.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent))
    try:
        tok_dir = work / "_tok"
        tok_dir.mkdir()
        tokenizer = _tiny_tokenizer(tf, tok_dir)
        config = tiny_clap_config(tf, vocab_size=len(tokenizer))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            model = tf.ClapModel(config).eval()
        model.save_pretrained(work, safe_serialization=True)
        processor = tf.ClapProcessor(feature_extractor=tf.ClapFeatureExtractor(truncation="rand_trunc"), tokenizer=tokenizer)
        processor.save_pretrained(work)
        shutil.rmtree(tok_dir)
        if target.exists():
            target.rmdir()  # empty, checked above
        os.replace(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return target
