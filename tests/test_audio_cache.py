"""The loaded index keeps decoded corpus audio between transfers, within a byte budget."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from latentmorph.corpus import build_index, load_index
from latentmorph.corpus.index import AUDIO_CACHE_ENV
from latentmorph.errors import CorpusError
from latentmorph.transfer import transfer

FILES = ("drums_amen.flac", "bells.flac", "water_ufoai.flac")


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory, excerpt_corpus):  # noqa: ANN001, ANN201
    """Three 3 s files, indexed once for the module."""
    root = tmp_path_factory.mktemp("audio_cache")
    corpus = excerpt_corpus(root / "corpus", FILES, 3.0)
    build_index([corpus], root / "c.lmindex", progress=False)
    return root / "c.lmindex"


@pytest.fixture(scope="module")
def source(data_dir):  # noqa: ANN001, ANN201
    wave, sr = sf.read(data_dir / "piano_melody.flac", dtype="float32", always_2d=True)
    return wave[: int(2 * sr)].T, sr


def test_second_transfer_decodes_no_corpus_file_and_sounds_the_same(index_dir, source) -> None:  # noqa: ANN001
    idx = load_index(index_dir)
    wave, sr = source
    first, _ = transfer(wave, sr, index=idx)
    loads = idx.audio_loads
    assert 0 < loads <= len(FILES)  # each file read at most once in the first transfer
    second, _ = transfer(wave, sr, index=idx)
    assert idx.audio_loads == loads  # all of it came from the cache
    np.testing.assert_array_equal(first, second)
    fresh, _ = transfer(wave, sr, index=load_index(index_dir))  # nothing cached: the same samples
    np.testing.assert_array_equal(first, fresh)


def test_cache_keeps_to_its_byte_budget_and_hands_out_read_only_audio(index_dir, monkeypatch) -> None:  # noqa: ANN001
    import latentmorph.corpus.index as index_mod

    monkeypatch.setattr(index_mod, "AUDIO_CACHE_FILES", 1)  # only the byte budget keeps more
    idx = load_index(index_dir)
    one = idx.file_audio(0)
    assert not one.flags.writeable  # shared by every caller: nobody may change it
    with pytest.raises(ValueError):
        one[0, 0] = 1.0
    idx.audio_cache_bytes = one.nbytes + 1  # room for about one file
    for fid in range(len(idx.files)):
        idx.file_audio(fid)
    assert idx.audio_loads == len(idx.files)
    kept = sum(w.nbytes for w in idx._audio.values())
    assert len(idx._audio) == 1 and kept <= idx.audio_cache_bytes
    idx.file_audio(len(idx.files) - 1)  # the last one read stays
    assert idx.audio_loads == len(idx.files)
    idx.file_audio(0)  # evicted: read again
    assert idx.audio_loads == len(idx.files) + 1
    idx.audio_cache_bytes = 0  # even no budget keeps the file just read
    assert idx.file_audio(1) is idx.file_audio(1)
    monkeypatch.setattr(index_mod, "AUDIO_CACHE_FILES", 3)  # ... and the last few, whatever their size
    for fid in range(len(idx.files)):
        idx.file_audio(fid)
    assert len(idx._audio) == 3  # noqa: SLF001


def test_budget_from_the_environment(index_dir, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv(AUDIO_CACHE_ENV, "1.5")
    assert load_index(index_dir).audio_cache_bytes == int(1.5 * (1 << 20))
    monkeypatch.setenv(AUDIO_CACHE_ENV, "lots")
    with pytest.raises(CorpusError, match=AUDIO_CACHE_ENV):
        load_index(index_dir)


def test_a_cache_smaller_than_the_corpus_still_serves_what_it_holds_first(index_dir, source, monkeypatch) -> None:  # noqa: ANN001
    import latentmorph.corpus.index as index_mod

    monkeypatch.setattr(index_mod, "AUDIO_CACHE_FILES", 1)
    idx = load_index(index_dir)
    sizes = [idx.file_audio(f).nbytes for f in range(len(idx.files))]
    idx.audio_cache_bytes = 2 * max(sizes)  # any two of the three files, never all three
    idx._audio.clear()  # noqa: SLF001
    wave, sr = source
    first, _ = transfer(wave, sr, index=idx)
    used = idx.audio_loads - len(sizes)
    assert used == len(FILES)  # this source plays grains of every file
    before = idx.audio_loads
    again, _ = transfer(wave, sr, index=idx)
    # the files still held are played first, then the others read (in file order each would be a miss)
    assert idx.audio_loads - before < used
    np.testing.assert_array_equal(first, again)
