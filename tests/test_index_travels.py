"""Indexes that travel: the stored codec spec does not depend on the working folder, and
``--weights`` alone picks the codec whose weights they are."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

pytest.importorskip("transformers")

from latentmorph import audio  # noqa: E402
from latentmorph.cli import main  # noqa: E402
from latentmorph.codecs.detect import codec_for_weights  # noqa: E402
from latentmorph.codecs.random_weights import save_random_dac, save_random_encodec  # noqa: E402
from latentmorph.corpus import load_index  # noqa: E402
from latentmorph.errors import CodecError  # noqa: E402
from tests.test_neural_codecs import save_rave  # noqa: E402


@pytest.fixture
def clip(data_dir, tmp_path) -> Path:
    wave, sr = audio.load(data_dir / "guitar_sectoid.flac", sr=44100, mono=True)
    return audio.save(tmp_path / "corpus" / "g.wav", wave[:, : 44100 // 4], 44100)


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTMORPH_CACHE_DIR", str(tmp_path / "cache"))
    for var in ("LATENTMORPH_WEIGHTS_PATH", "LATENTMORPH_ENCODEC_WEIGHTS", "LATENTMORPH_DAC_WEIGHTS", "LATENTMORPH_RAVE_WEIGHTS", "LATENTMORPH_M2L_WEIGHTS"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def test_weights_alone_imply_their_codec(tmp_path):
    assert codec_for_weights(save_random_dac(tmp_path / "d")) == "dac"
    assert codec_for_weights(save_random_encodec(tmp_path / "e")) == "encodec"
    assert codec_for_weights(save_rave(tmp_path / "r.ts")) == "rave"
    (tmp_path / "m.pt").write_bytes(b"x")
    assert codec_for_weights(tmp_path / "m.pt") == "music2latent"
    (tmp_path / "w.bin").write_bytes(b"x")
    for bad, problem in ((tmp_path / "w.bin", "cannot tell which codec"), (tmp_path / "nope", "not found"), (tmp_path / "corpus_like", "config.json")):
        if bad.name == "corpus_like":
            bad.mkdir()
        with pytest.raises(CodecError, match=problem):
            codec_for_weights(bad)


def test_relative_weights_index_works_from_another_folder(isolated, clip, monkeypatch, capsys):
    work = isolated / "work"
    save_random_encodec(work / "models" / "encodec_24khz")
    monkeypatch.chdir(work)
    idx = isolated / "g.lmindex"
    # --weights alone (relative): the codec is EnCodec, found from the folder's config.json
    assert main(["index", str(clip), "-o", str(idx), "--weights", "models/encodec_24khz", "-q"]) == 0
    stored = load_index(idx).codec_spec
    assert stored.startswith("encodec:weights=" + str((work / "models" / "encodec_24khz").resolve()))
    assert "weights_sha256=" in stored
    elsewhere = isolated / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    out = elsewhere / "out.wav"
    assert main(["transfer", str(clip), "--index", str(idx), "-o", "out.wav", "--quiet"]) == 0, capsys.readouterr().err
    assert audio.load(out)[0].shape[1] > 0
    # the weights moved: found again by content hash in the latentmorph cache
    shutil.move(str(work / "models" / "encodec_24khz"), str(isolated / "cache" / "weights" / "moved_folder"))
    assert load_index(idx).codec().weights_path == (isolated / "cache" / "weights" / "moved_folder").resolve()
    # ... or in $LATENTMORPH_WEIGHTS_PATH
    shutil.move(str(isolated / "cache" / "weights" / "moved_folder"), str(isolated / "shelf"))
    with pytest.raises(Exception) as err:
        load_index(idx).codec()
    msg = str(err.value)
    assert "\n" not in msg and "is gone" in msg and "LATENTMORPH_WEIGHTS_PATH" in msg and "--weights" in msg
    monkeypatch.setenv("LATENTMORPH_WEIGHTS_PATH", str(isolated))
    assert load_index(idx).codec().weights_path == (isolated / "shelf").resolve()


def test_rave_weights_alone_in_encode_and_transfer(isolated, clip, monkeypatch, capsys):
    rave = save_rave(isolated / "tiny.ts")
    monkeypatch.chdir(isolated)
    assert main(["encode", str(clip), "-o", "z.npy", "--weights", "tiny.ts"]) == 0
    assert "rave" in capsys.readouterr().out
    assert main(["transfer", str(clip), "--corpus", str(clip), "-o", "o.wav", "--weights", "tiny.ts", "--quiet"]) == 0
    assert os.path.getsize(isolated / "o.wav") > 0 and rave.exists()
