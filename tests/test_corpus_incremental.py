"""Incremental re-runs, corrupt files, codec mismatch and augmentation on real recordings."""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

import latentmorph.corpus.build as build_mod
from latentmorph.audio import load, resample, save
from latentmorph.codecs import get_codec
from latentmorph.corpus import CorpusFileWarning, build_index, load_index
from latentmorph.errors import CorpusError

NAMES = ["drums_amen.flac", "speech_codec2.flac", "wind_ufoai.flac"]


@pytest.fixture
def corpus(tmp_path: Path, data_dir: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    for n in NAMES:
        shutil.copy(data_dir / n, folder / n)
    return folder


class Counter:
    """Counts content hashes and encodes done by build_index."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.hashed: list[str] = []
        self.encoded = 0
        real_hash = build_mod.file_sha256
        real_encode = build_mod._encode_file

        def hash_(path, *a, **k):  # noqa: ANN001, ANN202
            self.hashed.append(Path(path).name)
            return real_hash(path, *a, **k)

        def encode_(out, rec, missing, *a, **k):  # noqa: ANN001, ANN202
            rec, resumed, seconds = real_encode(out, rec, missing, *a, **k)
            self.encoded += int(seconds > 0)
            return rec, resumed, seconds

        monkeypatch.setattr(build_mod, "file_sha256", hash_)
        monkeypatch.setattr(build_mod, "_encode_file", encode_)

    def reset(self) -> None:
        self.hashed.clear()
        self.encoded = 0


def rows_of(idx, name: str) -> np.ndarray:
    fid = [i for i, f in enumerate(idx.files) if f.path.endswith(name)][0]
    return idx.latents[idx.grains.file_id == fid]


def test_incremental_rerun_does_only_the_needed_work(corpus, tmp_path, data_dir, monkeypatch):
    out = tmp_path / "lib.lmindex"
    count = Counter(monkeypatch)
    first = build_index([corpus], out, "embedded", progress=False)
    assert (first.added, count.encoded, len(count.hashed)) == (3, 3, 3)
    manifest_mtime = (out / "manifest.json").stat().st_mtime_ns
    first_latents = sorted(out.glob("latents-*.npy"))

    # unchanged folder: nothing hashed, nothing encoded, nothing rewritten
    count.reset()
    again = build_index([corpus], out, progress=False)
    assert (again.unchanged, again.added, again.updated, again.removed) == (3, 0, 0, 0)
    assert count.hashed == [] and count.encoded == 0
    assert (out / "manifest.json").stat().st_mtime_ns == manifest_mtime
    np.testing.assert_array_equal(again.index.latents, first.index.latents)

    # touched (new mtime, same content): hashed once, not re-encoded
    os.utime(corpus / NAMES[0], ns=(1, 10**18))
    count.reset()
    r = build_index([corpus], out, progress=False)
    assert count.hashed == [NAMES[0]] and count.encoded == 0 and r.unchanged == 3
    assert sorted(out.glob("latents-*.npy")) == first_latents  # arrays kept, only the manifest rewritten
    count.reset()
    build_index([corpus], out, progress=False)
    assert count.hashed == [], "the new mtime was recorded"

    # changed content under the same name: re-encoded, latents follow the new audio
    shutil.copy(data_dir / "piano_melody.flac", corpus / NAMES[0])
    count.reset()
    r = build_index([corpus], out, progress=False)
    assert (r.updated, r.unchanged, count.encoded) == (1, 2, 1)
    wave, sr = load(corpus / NAMES[0])
    expected = get_codec("embedded").encode(resample(wave, sr, 44100))[0].T
    np.testing.assert_allclose(rows_of(r.index, NAMES[0]), expected, rtol=1e-5, atol=1e-4)

    # renamed file: content hash finds its shard, no encoding; deleted file dropped
    (corpus / NAMES[1]).rename(corpus / "renamed.flac")
    (corpus / NAMES[2]).unlink()
    count.reset()
    r = build_index([corpus], out, progress=False)
    assert (r.added, r.removed, r.unchanged, count.encoded) == (1, 2, 1, 0)
    assert sorted(Path(f.path).name for f in r.index.files) == sorted([NAMES[0], "renamed.flac"])
    assert set(np.unique(r.index.grains.file_id)) == {0, 1}
    # shards of dropped content are cleaned up; one shard per file remains
    assert len(list((out / "shards").iterdir())) == 2
    assert len(list(out.glob("latents-*.npy"))) == 1


def test_corrupt_empty_and_non_audio_files_are_skipped(corpus, tmp_path, data_dir, monkeypatch):
    (corpus / "empty.wav").write_bytes(b"")
    (corpus / "text.wav").write_text("this is not audio at all" * 20)
    (corpus / "truncated.flac").write_bytes((data_dir / "bells.flac").read_bytes()[:4000])
    out = tmp_path / "lib.lmindex"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = build_index([corpus], out, progress=False)
    skipped = dict((Path(p).name, reason) for p, reason in report.skipped)
    assert set(skipped) == {"empty.wav", "text.wav", "truncated.flac"}
    assert "empty" in skipped["empty.wav"] and "not a readable audio file" in skipped["text.wav"]
    assert "corrupt" in skipped["truncated.flac"]
    assert sum(issubclass(w.category, CorpusFileWarning) for w in caught) == 3
    assert len(report.index.files) == 3
    assert sorted(Path(p).name for p, _ in load_index(out).skipped) == sorted(skipped)

    # an unchanged bad file is not retried (not even hashed); fixing it indexes it
    count = Counter(monkeypatch)
    r = build_index([corpus], out, progress=False)
    assert count.hashed == [] and len(r.skipped) == 3
    shutil.copy(data_dir / "bells.flac", corpus / "truncated.flac")
    r = build_index([corpus], out, progress=False)
    assert count.hashed == ["truncated.flac"] and len(r.skipped) == 2 and len(r.index.files) == 4


def test_all_bad_corpus_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.wav").write_bytes(b"")
    with pytest.warns(CorpusFileWarning), pytest.raises(CorpusError, match="no usable audio") as e:
        build_index([bad], tmp_path / "x.lmindex", progress=False)
    assert str(bad) in str(e.value) and "\n" not in str(e.value)


def test_other_codec_is_refused_unless_rebuild(corpus, tmp_path, monkeypatch):
    out = tmp_path / "lib.lmindex"
    first = build_index([corpus], out, "embedded", progress=False)
    with pytest.raises(CorpusError, match="index made with codec embedded") as e:
        build_index([corpus], out, "embedded:hop=512", progress=False)
    assert str(out) in str(e.value)
    assert load_index(out).fingerprint == first.index.fingerprint  # untouched
    r = build_index([corpus], out, "embedded:hop=512", rebuild=True, progress=False)
    idx = load_index(out)
    assert idx.hop == 512 and idx.codec_spec == "embedded:hop=512" and r.added == 3
    assert idx.codec().hop == 512
    assert len(list((out / "shards").iterdir())) == 3  # old codec's shards removed
    count = Counter(monkeypatch)
    build_index([corpus], out, rebuild=True, progress=False)
    assert count.encoded == 3, "--rebuild encodes everything again"
    assert load_index(out).hop == 512, "with the index's own codec when none is given"


def test_augmentation_known_answers(tmp_path, sine):
    folder = tmp_path / "tone"
    folder.mkdir()
    # a 440 Hz tone over quiet white noise (broadband, so no mel band sits at the log floor)
    noise = 0.02 * np.random.default_rng(0).standard_normal(88200).astype(np.float32)
    save(folder / "a440.wav", sine(440.0, 2.0, 44100) + noise, 44100, subtype="FLOAT")
    out = tmp_path / "aug.lmindex"
    idx = build_index([folder], out, augment={"pitch": [12], "gain_db": [-6]}, progress=False).index
    assert idx.augmentations == [{"kind": "original"}, {"kind": "pitch", "semitones": 12.0}, {"kind": "gain", "db": -6.0}]
    g = idx.grains
    n0, n1, n2 = (int((g.aug == a).sum()) for a in range(3))
    assert n0 == n2 == 87 and n1 == 44  # +12 st plays twice as fast: half the frames
    # the pitched copy really is an octave up
    up = idx.file_audio(0, aug=1)[0]
    spec = np.abs(np.fft.rfft(up * np.hanning(len(up))))
    assert abs(np.argmax(spec) * 44100 / len(up) - 880.0) < 3.0
    # its latents are the codec's encoding of exactly that audio (grain starts line up)
    np.testing.assert_allclose(idx.latents[g.aug == 1], idx.codec().encode(up[None])[0].T, rtol=1e-5, atol=1e-4)
    # -6 dB scales power by 10^-0.6: only cepstral coefficient 0 moves, by sqrt(128) * ln(10^-0.6)
    diff = idx.latents[g.aug == 2] - idx.latents[g.aug == 0]
    np.testing.assert_allclose(diff[:, 0], np.sqrt(128) * np.log(10**-0.6), rtol=1e-3)
    assert np.abs(diff[:, 1:]).max() < 1e-3
    # re-running without augment keeps them; "none" removes them
    assert len(build_index([folder], out, progress=False).index.augmentations) == 3
    r = build_index([folder], out, augment="none", progress=False)
    assert len(r.index) == 87 and len(list((out / "shards").iterdir())) == 1
