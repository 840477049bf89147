"""Export/import of precomputed embeddings, and the `index` / `info` commands."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import latentmorph.corpus.build as build_mod
from latentmorph import api
from latentmorph.cli import main
from latentmorph.codecs import get_codec
from latentmorph.errors import CorpusError

NAMES = ["drums_amen.flac", "speech_codec2.flac"]


@pytest.fixture
def corpus(tmp_path: Path, data_dir: Path) -> Path:
    folder = tmp_path / "gpu_box" / "sfx"
    (folder / "kit").mkdir(parents=True)
    shutil.copy(data_dir / NAMES[0], folder / "kit" / NAMES[0])
    shutil.copy(data_dir / NAMES[1], folder / NAMES[1])
    return folder


def test_export_import_round_trip_with_relink(corpus, tmp_path, monkeypatch):
    src = api.build_index([corpus], tmp_path / "src.lmindex", "embedded", progress=False).index
    pack = api.export_index(src.path, tmp_path / "sfx.lmpack")
    # "another machine": the sounds now live elsewhere and the original index is gone
    laptop = tmp_path / "laptop" / "Sounds"
    shutil.copytree(corpus, laptop)
    shutil.rmtree(tmp_path / "gpu_box")
    shutil.rmtree(src.path)
    idx = api.import_index(pack, tmp_path / "here.lmindex", get_codec("embedded"), relink=laptop)
    np.testing.assert_array_equal(idx.latents, src.latents)
    for col in ("file_id", "channel", "frame", "start", "aug"):
        np.testing.assert_array_equal(getattr(idx.grains, col), getattr(src.grains, col))
    assert sorted(f.path for f in idx.files) == sorted(str(p) for p in [laptop / NAMES[1], laptop / "kit" / NAMES[0]])
    assert idx.file_audio(0).shape[0] == 1  # grains' audio is found at the new place
    # updating the imported index on the new machine re-encodes nothing
    encoded = []
    real = build_mod._encode_file
    monkeypatch.setattr(build_mod, "_encode_file", lambda *a, **k: encoded.append(1) or real(*a, **k))
    r = api.build_index([laptop], idx.path, progress=False)
    assert (r.unchanged, r.added, encoded) == (2, 0, [])


def test_import_refuses_codec_mismatch_and_bad_packs(corpus, tmp_path):
    src = api.build_index([corpus], tmp_path / "src.lmindex", progress=False).index
    pack = api.export_index(src, tmp_path / "sfx.lmpack")
    with pytest.raises(CorpusError, match="made with codec embedded") as e:
        api.import_index(pack, tmp_path / "x.lmindex", get_codec("embedded:dim=32"))
    assert str(pack) in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "x.lmindex" / "manifest.json").exists()
    bad = tmp_path / "bad.lmpack"
    bad.write_bytes(pack.read_bytes()[:500])
    with pytest.raises(CorpusError, match="not a latentmorph .lmpack"):
        api.import_index(bad, tmp_path / "y.lmindex")
    with pytest.raises(CorpusError, match="already exists"):
        api.import_index(pack, src.path)


def test_cli_index_info_export_import(corpus, tmp_path, capsys, data_dir):
    out = tmp_path / "lib.lmindex"
    assert main(["index", str(corpus), "-o", str(out), "--codec", "embedded", "-q"]) == 0
    (corpus / "broken.wav").write_bytes(b"RIFF0000WAVEfmt nonsense")
    rc = main(["index", str(corpus), "-o", str(out), "--pitch-shift", "-12", "7", "--gain-db=-6"])
    cap = capsys.readouterr()
    assert rc == 1, "exit status 1 says some files were skipped"
    assert "broken.wav" in cap.err and "skipped" in cap.err
    assert "added 0, updated 2" in cap.out  # the two files gained augmented copies

    assert main(["info", str(out)]) == 0
    info = capsys.readouterr().out
    assert "embedded" in info and "files:         2" in info
    assert "original, pitch -12 st, pitch +7 st, gain -6 dB" in info
    assert "broken.wav" in info and "skipped files: 1" in info and "MB" in info

    pack = tmp_path / "lib.lmpack"
    assert main(["index", "-o", str(out), "--export", str(pack), "-q"]) == 0
    assert main(["index", "--import", str(pack), "-o", str(tmp_path / "copy.lmindex"), "--codec", "embedded", "-q"]) == 0
    assert len(api.load_index(tmp_path / "copy.lmindex")) == len(api.load_index(out))

    # user mistakes: one line on stderr, exit 2, no traceback
    capsys.readouterr()
    assert main(["index", str(corpus), "-o", str(out), "--codec", "embedded:hop=512"]) == 2
    assert main(["info", str(tmp_path / "missing.lmindex")]) == 2
    assert main(["index", "--import", str(pack), "-o", str(tmp_path / "z.lmindex"), "--codec", "embedded:dim=32"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("latentmorph: error: ") for line in err)
    assert "Traceback" not in "".join(err)


def test_help_teaches(capsys):
    for cmd in ("index", "info"):
        with pytest.raises(SystemExit):
            main([cmd, "--help"])
        text = capsys.readouterr().out
        assert "example" in text and "lmindex" in text
