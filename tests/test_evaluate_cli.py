"""`latentmorph evaluate`: prints a table, writes JSON, refuses bad input in one line."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import soundfile as sf

from latentmorph import api
from latentmorph.cli import main


@pytest.fixture
def files(tmp_path, data_dir):
    corpus_dir = tmp_path / "corpus"
    corpus_dir.mkdir()
    shutil.copy(data_dir / "water_ufoai.flac", corpus_dir / "water.flac")
    (corpus_dir / "notes.txt").write_text("not audio, must be skipped inside folders")
    source = data_dir / "speech_codec2.flac"
    wave, sr = sf.read(source, dtype="float32")
    out = tmp_path / "out.wav"
    sf.write(out, 0.5 * wave, sr, subtype="FLOAT")  # quieter copy of the source
    return {"source": source, "out": out, "corpus": corpus_dir, "sr": sr, "tmp": tmp_path}


def test_cli_prints_table_and_writes_json(files, capsys):
    target = files["tmp"] / "scores.json"
    code = main(["evaluate", str(files["out"]), str(files["source"]), "--corpus", str(files["corpus"]), "--json", str(target)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "loudness envelope correlation" in printed and "style ratio" in printed
    data = json.loads(target.read_text())
    assert data["content"]["loudness"]["value"] == pytest.approx(1.0, abs=1e-6)
    assert data["style"]["ratio"]["value"] > 0.99
    assert data["files"]["corpus"] == [str(files["corpus"] / "water.flac")]
    assert data["sanity"]["ok"] is True
    assert not list(files["tmp"].glob(".scores.json.*"))  # atomic write left no temp file


def test_cli_reports_nan_output_instead_of_refusing(files, capsys):
    wave, sr = sf.read(files["out"], dtype="float32")
    wave[:500] = np.nan
    sf.write(files["out"], wave, sr, subtype="FLOAT")
    target = files["tmp"] / "nan.json"
    assert main(["evaluate", str(files["out"]), str(files["source"]), "--json", str(target), "--quiet"]) == 0
    assert capsys.readouterr().out == ""
    data = json.loads(target.read_text())
    assert data["sanity"]["nan"] == 500 and data["sanity"]["ok"] is False
    assert "style" in data and "ratio" not in data["style"]  # no corpus: no style ratio


@pytest.mark.parametrize(
    "make_args,needle",
    [
        (lambda f: [str(f["tmp"] / "missing.wav"), str(f["source"])], "missing.wav: file not found"),
        (lambda f: [str(f["out"]), str(f["tmp"] / "corpus" / "notes.txt")], "notes.txt: not a readable audio file"),
        (lambda f: [str(f["out"]), str(f["source"]), "--corpus", str(f["tmp"] / "nowhere")], "nowhere: file or folder not found"),
        (lambda f: [str(f["out"]), str(f["source"]), "--corpus", str(f["tmp"] / "empty")], "no audio files found"),
    ],
)
def test_cli_bad_inputs_one_line_error(files, capsys, make_args, needle):
    (files["tmp"] / "empty").mkdir()
    code = main(["evaluate", *make_args(files)])
    err = capsys.readouterr().err
    assert code == 2
    assert needle in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_cli_help_teaches(capsys):
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    text = capsys.readouterr().out
    assert "latentmorph evaluate out.wav voice.wav --corpus" in text and "--index" in text and "--json" in text


def test_api_reexports_and_json_nan_as_null(tmp_path, data_dir):
    result = api.evaluate_files(data_dir / "drums_amen.flac", data_dir / "drums_amen.flac")
    assert result["content"]["pitch"]["value"] != result["content"]["pitch"]["value"]  # NaN: drums have no melody
    path = api.save_json(tmp_path / "r.json", result)
    assert json.loads(path.read_text())["content"]["pitch"]["value"] is None


def test_cli_corpus_from_index(files, capsys):
    from latentmorph.corpus import build_index

    index_path = files["tmp"] / "water.lmindex"
    build_index([files["corpus"] / "water.flac"], index_path, "embedded", progress=False)
    target = files["tmp"] / "idx.json"
    assert main(["evaluate", str(files["out"]), str(files["source"]), "--index", str(index_path), "--json", str(target)]) == 0
    data = json.loads(target.read_text())
    assert data["style"]["ratio"]["value"] > 0.99  # the output is the source, the corpus is water
    assert data["files"]["corpus"][0].endswith("water.flac")
    assert "style ratio" in capsys.readouterr().out
