"""CLAP embedder on a tiny randomly initialised CLAP saved with save_pretrained and loaded offline."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("transformers")

from latentmorph.diffusion.features.clap import ClapEmbedder, save_random_clap  # noqa: E402
from latentmorph.errors import ConditionError  # noqa: E402

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def clap_dir(tmp_path_factory) -> Path:
    return save_random_clap(tmp_path_factory.mktemp("clap") / "tiny-clap", seed=0)


@pytest.fixture(scope="module")
def embedder(clap_dir) -> ClapEmbedder:
    return ClapEmbedder(clap_dir)


def test_saved_folder_is_a_real_offline_clap(clap_dir, embedder):
    names = {p.name for p in clap_dir.iterdir()}
    assert {"config.json", "model.safetensors", "preprocessor_config.json", "vocab.json", "merges.txt"} <= names
    assert not any(n.endswith(".bin") for n in names)  # safetensors only, nothing pickled
    processor = embedder._processor  # loaded from the folder by ClapEmbedder's own offline path
    ids = processor.tokenizer(["a drum loop"])["input_ids"][0]
    assert ids[0] == processor.tokenizer.bos_token_id and ids[-1] == processor.tokenizer.eos_token_id
    assert processor.tokenizer.decode(ids, skip_special_tokens=True) == "a drum loop"  # a real BPE round trip
    config = json.loads((clap_dir / "config.json").read_text())
    assert config["model_type"] == "clap" and config["text_config"]["num_hidden_layers"] <= 2
    assert sum(p.stat().st_size for p in clap_dir.iterdir()) < 5_000_000  # tiny


def test_text_embeddings(embedder, clap_dir):
    texts = ["a drum loop", "rain falling on a tin roof", "a drum loop"]
    vec = embedder.embed_text(texts)
    assert vec.shape == (3, embedder.dim) and vec.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vec, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(vec[0], vec[2])  # same text, same vector
    assert not np.allclose(vec[0], vec[1], atol=1e-3)  # different texts, different vectors
    # a second load of the same folder gives the same numbers; another seed does not
    again = ClapEmbedder(clap_dir).embed_text(texts[:1])
    np.testing.assert_allclose(again[0], vec[0], atol=1e-6)
    assert embedder.embed_text([]).shape == (0, embedder.dim)


def test_audio_embeddings(embedder):
    wave, sr = sf.read(DATA / "drums_amen.flac", dtype="float32")
    assert embedder.sample_rate == 48000 and sr == 44100  # resampled inside
    a = embedder.embed_audio(wave, sr)
    assert a.shape == (embedder.dim,) and a.dtype == np.float32
    assert np.linalg.norm(a) == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_array_equal(a, embedder.embed_audio(wave, sr))  # deterministic
    stereo = np.stack([wave, wave])
    np.testing.assert_allclose(embedder.embed_audio(stereo, sr), a, atol=1e-6)  # [C, S] mixed to mono
    other, sr2 = sf.read(DATA / "water_ufoai.flac", dtype="float32")
    assert not np.allclose(embedder.embed_audio(other, sr2), a, atol=1e-3)
    # longer than the 10 s window: consecutive windows, still one unit vector, still deterministic
    long = np.tile(other, 2)  # 16 s
    first = embedder.embed_audio(long, sr2)
    assert np.linalg.norm(first) == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_array_equal(first, embedder.embed_audio(long, sr2))


def test_another_seed_gives_other_weights(tmp_path, embedder):
    other = ClapEmbedder(save_random_clap(tmp_path / "seed1", seed=1))
    assert not np.allclose(other.embed_text(["a drum loop"]), embedder.embed_text(["a drum loop"]), atol=1e-3)


def _one_line(err: pytest.ExceptionInfo) -> str:
    msg = str(err.value)
    assert "\n" not in msg
    return msg


def test_missing_and_wrong_folders(tmp_path):
    with pytest.raises(ConditionError) as err:
        ClapEmbedder(tmp_path / "nowhere")
    msg = _one_line(err)
    assert str(tmp_path / "nowhere") in msg and "save_pretrained" in msg
    with pytest.raises(ConditionError) as err:
        ClapEmbedder("laion/clap-htsat-unfused")  # a hub name is never downloaded
    assert "never downloaded" in _one_line(err)
    a_file = tmp_path / "weights.bin"
    a_file.write_bytes(b"\0" * 10)
    with pytest.raises(ConditionError) as err:
        ClapEmbedder(a_file)
    assert "not a CLAP folder" in _one_line(err)
    with pytest.raises(ConditionError):
        ClapEmbedder(123)  # type: ignore[arg-type]


def test_unusable_device_is_one_line(clap_dir):
    with pytest.raises(ConditionError) as err:
        ClapEmbedder(clap_dir, device="nonsense-device")
    assert "nonsense-device" in _one_line(err)


def test_incomplete_and_damaged_folders(tmp_path, clap_dir):
    part = tmp_path / "part"
    shutil.copytree(clap_dir, part)
    (part / "model.safetensors").unlink()
    with pytest.raises(ConditionError) as err:
        ClapEmbedder(part)
    assert "incomplete" in _one_line(err) and "model.safetensors" in str(err.value)
    broken = tmp_path / "broken"
    shutil.copytree(clap_dir, broken)
    (broken / "model.safetensors").write_bytes(b"not safetensors at all")
    with pytest.raises(ConditionError) as err:
        ClapEmbedder(broken)
    assert str(broken) in _one_line(err) and "cannot load" in str(err.value)
    other = tmp_path / "other"
    shutil.copytree(clap_dir, other)
    (other / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ConditionError) as err:
        ClapEmbedder(other)
    assert "not CLAP" in _one_line(err)


def test_save_refuses_a_non_empty_folder(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(ConditionError):
        save_random_clap(tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]  # no temporary folder left


def test_without_transformers_one_line_install_hint(monkeypatch, clap_dir):
    monkeypatch.setitem(sys.modules, "transformers", None)  # import transformers -> ImportError
    with pytest.raises(ConditionError) as err:
        ClapEmbedder(clap_dir)
    assert "pip install 'latentmorph[transformers]'" in _one_line(err)
