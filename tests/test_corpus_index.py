"""Building, loading and searching a corpus index on real recordings (tests/data)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from latentmorph.audio import load, resample
from latentmorph.codecs import get_codec
from latentmorph.corpus import CorpusIndex, build_index, load_index
from latentmorph.errors import CorpusError

FILES = ["drums_amen.flac", "speech_codec2.flac", "wind_ufoai.flac"]


@pytest.fixture
def corpus(tmp_path: Path, data_dir: Path) -> Path:
    """A folder with three real recordings, one in a sub-folder (recursion)."""
    folder = tmp_path / "corpus"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(data_dir / FILES[0], folder / FILES[0])
    shutil.copy(data_dir / FILES[1], folder / FILES[1])
    shutil.copy(data_dir / FILES[2], folder / "sub" / FILES[2])
    (folder / "notes.txt").write_text("not audio, ignored inside folders")
    return folder


@pytest.fixture
def built(corpus: Path, tmp_path: Path):
    return build_index([corpus], tmp_path / "lib.lmindex", "embedded", progress=False)


def test_build_stores_latents_and_grain_table(built, corpus):
    idx = built.index
    codec = get_codec("embedded")
    assert built.added == 3 and not built.skipped
    assert isinstance(idx, CorpusIndex) and idx.codec_spec == "embedded"
    assert (idx.sample_rate, idx.hop, idx.dim, idx.fingerprint) == (44100, 1024, 64, codec.fingerprint)
    assert idx.latents.shape == (len(idx), 64) and idx.latents.dtype == np.float32
    assert [Path(f.path).name for f in idx.files] == sorted(FILES[:2]) + [FILES[2]]
    g = idx.grains
    np.testing.assert_array_equal(g.start, g.frame.astype(np.int64) * 1024)
    assert set(np.unique(g.aug)) == {0} and idx.augmentations == [{"kind": "original"}]
    # every row of one file equals the codec's own encoding of that file at 44.1 kHz
    for fid, rec in enumerate(idx.files):
        wave, sr = load(rec.path)
        assert (rec.sample_rate, rec.num_samples, rec.channels) == (sr, wave.shape[-1], wave.shape[0])
        assert len(rec.sha256) == 64 and rec.size == Path(rec.path).stat().st_size
        expected = codec.encode(resample(wave, sr, 44100))  # [C, D, T]
        rows = g.file_id == fid
        assert rows.sum() == expected.shape[0] * expected.shape[2]
        np.testing.assert_allclose(idx.latents[rows], expected[0].T, rtol=1e-5, atol=1e-4)
        np.testing.assert_array_equal(g.frame[rows], np.arange(expected.shape[2]))
    # the 16 kHz speech file was resampled: about 5 s * 43 frames/s
    speech = [f for f in idx.files if f.path.endswith("speech_codec2.flac")][0]
    assert speech.sample_rate == 16000 and abs(speech.duration - 5.0) < 0.1


def test_load_index_round_trip_and_search(built):
    idx = load_index(built.index.path, codec=get_codec("embedded"))
    np.testing.assert_array_equal(idx.latents, built.index.latents)
    np.testing.assert_array_equal(idx.grains.file_id, built.index.grains.file_id)
    # querying with the index's own rows finds each row first (cosine similarity 1)
    ids_in = np.arange(0, len(idx), 37)
    for metric in ("cosine", "l2", "dot"):
        scores, ids = idx.search(idx.latents[ids_in], k=4, metric=metric)
        assert scores.shape == (len(ids_in), 4)
        if metric != "dot":
            np.testing.assert_array_equal(ids[:, 0], ids_in)
    scores, _ = idx.search(idx.latents[ids_in], k=1, metric="cosine")
    np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-5)
    assert idx.search(idx.latents[:2], k=10**9)[1].shape == (2, len(idx))


def test_search_a_real_source_finds_the_matching_file(built, data_dir):
    """Frames of the speech excerpt itself must match the speech file's grains."""
    idx = built.index
    codec = idx.codec()
    wave, sr = load(data_dir / "speech_codec2.flac")
    q = codec.encode_audio(wave, sr)[0].T  # [frames, dim]
    _, ids = idx.search(q, k=1, metric="l2")
    speech_id = [i for i, f in enumerate(idx.files) if f.path.endswith("speech_codec2.flac")][0]
    assert (idx.grains.file_id[ids[:, 0]] == speech_id).mean() > 0.95


def test_file_and_grain_audio(built):
    idx = built.index
    fid = [i for i, f in enumerate(idx.files) if f.path.endswith("drums_amen.flac")][0]
    wave = idx.file_audio(fid)
    ref, sr = load(idx.files[fid].path)
    assert sr == 44100 and wave.shape == ref.shape
    np.testing.assert_allclose(wave, ref, atol=1e-6)
    assert idx.file_audio(fid) is wave  # cached
    rows = np.flatnonzero(idx.grains.file_id == fid)
    pick = rows[[0, 5, len(rows) - 1]]
    grains = idx.grain_audio(pick, 2048)
    assert grains.shape == (3, 2048)
    np.testing.assert_allclose(grains[1], ref[0, 5 * 1024 : 5 * 1024 + 2048], atol=1e-6)
    tail = ref[0, int(idx.grains.start[pick[2]]) :]
    np.testing.assert_allclose(grains[2, : len(tail)], tail, atol=1e-6)
    assert not grains[2, len(tail) :].any(), "past the end of the file is zero-padded"


def test_moved_corpus_file_is_a_clear_error(built, corpus):
    idx = built.index
    shutil.rmtree(corpus)
    with pytest.raises(CorpusError, match="moved or deleted"):
        idx.file_audio(0)


def test_load_errors_are_one_line_and_name_the_file(built, tmp_path, corpus):
    path = built.index.path
    with pytest.raises(CorpusError, match="index not found") as e:
        load_index(tmp_path / "nope.lmindex")
    assert "nope.lmindex" in str(e.value) and "\n" not in str(e.value)
    a_file = tmp_path / "x.lmindex"
    a_file.write_text("hello")
    with pytest.raises(CorpusError, match="not a latentmorph index"):
        load_index(a_file)
    with pytest.raises(CorpusError, match="index made with codec embedded"):
        load_index(path, codec=get_codec("embedded:hop=512"))
    (path / "manifest.json").write_text('{"format": "latentmorph-index", "fil')
    with pytest.raises(CorpusError, match="index damaged: .*manifest is not valid JSON") as e:
        load_index(path)
    assert str(path / "manifest.json") in str(e.value) and "\n" not in str(e.value)
    # a manifest too damaged to tell its codec is not guessed at; --codec or --rebuild recovers it
    with pytest.raises(CorpusError, match="index damaged: .*give --codec"):
        build_index([corpus], path, progress=False)
    assert len(build_index([corpus], path, rebuild=True, progress=False).index.files) == 3


def test_missing_data_file_is_a_clear_error(built):
    path = built.index.path
    manifest = json.loads((path / "manifest.json").read_text())
    (path / manifest["latents"]).unlink()
    with pytest.raises(CorpusError, match="index damaged: .*latents-.*file is missing"):
        load_index(path)


def test_empty_corpus_is_refused(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no audio here")
    with pytest.raises(CorpusError, match="no audio files found") as e:
        build_index([empty], tmp_path / "e.lmindex", progress=False)
    assert str(empty) in str(e.value)
