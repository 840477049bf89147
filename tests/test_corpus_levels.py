"""Grain levels stored in the index, the pure build plan and its skip kinds, the renderer's file reads."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from latentmorph.corpus import build_index, load_index
from latentmorph.corpus.build import FileState, needs_hash, plan_update
from latentmorph.corpus.levels import corpus_levels
from latentmorph.corpus.records import FileRecord, SkipKind, SkippedFile
from latentmorph.errors import CorpusError

FILES = ("drums_amen.flac", "bells.flac", "water_ufoai.flac")


@pytest.fixture(scope="module")
def built(tmp_path_factory, excerpt_corpus):  # noqa: ANN001, ANN201
    """A small real index (3 files, a pitch augmentation) built once for the module."""
    root = tmp_path_factory.mktemp("levels")
    corpus = excerpt_corpus(root / "corpus", FILES, 4.0)
    build_index([corpus], root / "c.lmindex", augment={"pitch": [3]}, progress=False)
    return root


@pytest.fixture(scope="module")
def clips(data_dir):  # noqa: ANN001, ANN201
    from latentmorph.audio import load

    return lambda name, seconds: load(data_dir / f"{name}.flac", duration=seconds)


def _copy(built: Path, tmp_path: Path) -> Path:
    out = tmp_path / "c.lmindex"
    shutil.copytree(built / "c.lmindex", out)
    return out


def _rewrite_grains(index: Path, edit) -> None:  # noqa: ANN001
    """Rewrite the grain archive with ``edit(columns)`` and refresh its manifest checksum."""
    manifest = json.loads((index / "manifest.json").read_text())
    path = index / manifest["grains"]
    with np.load(path) as z:
        cols = {k: z[k] for k in z.files}
    edit(cols)
    with open(path, "wb") as fh:
        np.savez(fh, **cols)
    data = path.read_bytes()
    manifest["checksums"][manifest["grains"]] = [len(data), hashlib.sha256(data).hexdigest()]
    (index / "manifest.json").write_text(json.dumps(manifest))


def test_levels_are_stored_at_build_and_match_the_audio(built) -> None:  # noqa: ANN001
    idx = load_index(built / "c.lmindex")
    assert idx.has_stored_levels
    levels = idx.grain_levels
    assert levels.dtype == np.float32 and levels.shape == (len(idx),)
    # what a transfer would measure from the corpus files (original and pitched copies)
    np.testing.assert_array_equal(levels, corpus_levels(idx))
    assert levels.min() >= -100.0 and levels.max() < 0.0 and np.ptp(levels) > 20  # real audio has dynamics


@pytest.mark.parametrize("damage, words", [
    (lambda c: c["level"].__setitem__(3, np.nan), "NaN"),
    (lambda c: c.__setitem__("level", c["level"].astype(np.float64)), "float32"),
    (lambda c: c.__setitem__("level", c["level"][:-5]), "shape"),
    (lambda c: c["level"].__setitem__(0, 1e6), "outside"),
])
def test_damaged_levels_are_refused_in_one_line(built, tmp_path, damage, words) -> None:  # noqa: ANN001
    index = _copy(built, tmp_path)
    _rewrite_grains(index, damage)
    with pytest.raises(CorpusError) as err:
        load_index(index)
    msg = str(err.value)
    assert "\n" not in msg and "grain levels" in msg and words in msg and "grains-" in msg


def test_an_index_without_levels_transfers_the_same(built, tmp_path, clips) -> None:  # noqa: ANN001
    from latentmorph.transfer import transfer

    index = _copy(built, tmp_path)
    _rewrite_grains(index, lambda c: c.pop("level"))
    old = load_index(index)
    assert not old.has_stored_levels
    src, sr = clips("guitar_sectoid", 2.0)
    want = transfer(src, sr, index=load_index(built / "c.lmindex"))[0]
    got = transfer(src, sr, index=old)[0]
    np.testing.assert_array_equal(got, want)
    assert old.audio_loads > 0  # it measured the levels from the files
    # the next change to the corpus writes them (measured from the files of the old index)
    extra = index.parent / "more.wav"
    sf.write(extra, src[0], sr)
    rep = build_index(sorted((built / "corpus").glob("*.wav")) + [extra], index, progress=False)
    assert rep.index.has_stored_levels
    n_old = len(load_index(built / "c.lmindex"))
    np.testing.assert_array_equal(rep.index.grain_levels[:n_old], load_index(built / "c.lmindex").grain_levels)


def test_renderer_reads_each_file_once_however_the_grains_alternate(built, monkeypatch) -> None:  # noqa: ANN001
    import latentmorph.corpus.index as index_mod
    from latentmorph.transfer.choices import Choices
    from latentmorph.transfer.render.grains import render_grains
    from latentmorph.transfer.windows import successors

    monkeypatch.setattr(index_mod, "AUDIO_CACHE_FILES", 1)  # the smallest cache: any revisit is a load
    idx = load_index(built / "c.lmindex")
    idx.audio_cache_bytes = 0  # nor any byte budget beyond it
    g = idx.grains
    succ = successors(np.asarray(g.file_id), np.asarray(g.channel), np.asarray(g.aug), np.asarray(g.frame))
    # 400 frames hopping between every (file, augmentation) on every frame, two blend columns
    keys = sorted({(int(f), int(a)) for f, a in zip(g.file_id, g.aug)})
    first = {k: int(np.flatnonzero((g.file_id == k[0]) & (g.aug == k[1]))[10]) for k in keys}
    T = 400
    ids = np.array([[first[keys[t % len(keys)]] + t // len(keys), first[keys[(t + 1) % len(keys)]]] for t in range(T)])
    choices = [Choices(ids, np.full((T, 2), 0.5, np.float32), np.zeros(T, np.float32), np.ones(T, np.float32))]
    out = render_grains(choices, idx, succ, np.zeros((1, T * idx.hop), np.float32), idx.hop)
    assert out.shape == (1, T * idx.hop) and np.abs(out).max() > 0.01
    assert idx.audio_loads == len(keys)  # 2 x 400 grain runs, each (file, augmentation) read once


def test_plan_is_pure_and_records_skip_kinds_as_data() -> None:
    fp = "embedded-0123456789ab"
    keys = ["original"]
    from latentmorph.corpus.storage import shard_name

    sha_a, sha_b, sha_c = "a" * 64, "b" * 64, "c" * 64
    shard_a = shard_name(sha_a, "original", fp)
    old_a = FileRecord("/nowhere/a.wav", 10, 1, sha_a, 44100, 1, 100, {"original": shard_a}, [3])
    old_files = {old_a.path: old_a}
    bad = SkippedFile("/nowhere/bad.wav", "not a readable audio file", 5, 7, SkipKind.NOT_AUDIO)
    long = SkippedFile("/nowhere/long.wav", "is 9000 s long, over the limit", 8, 9, SkipKind.TOO_LONG)
    old_skipped = {bad.path: bad, long.path: long}
    # the survey's decisions: unchanged files and known-bad files are not hashed, too-long ones are
    assert not needs_hash(old_a, None, 10, 1)
    assert not needs_hash(None, bad, 5, 7)
    assert needs_hash(None, long, 8, 9)
    assert needs_hash(None, SkippedFile("/x", "legacy reason", 1, 1), 1, 1)  # kind unknown: retried
    states = [
        FileState(old_a.path, 10, 1),  # unchanged, shard intact
        FileState(bad.path, 5, 7),  # the same broken file as last time
        FileState(long.path, 8, 9, sha_c),  # too long last time: hashed again and planned
        FileState("/nowhere/new.wav", 4, 4, sha_b),
        FileState("/nowhere/gone.wav", error="cannot be read (No such file or directory)"),
    ]
    before = (old_a.to_dict(), bad.to_dict())
    plan = plan_update(states, old_files, old_skipped, keys, fp, {shard_a: 123}, {shard_a: [123, "0" * 64]},
                       [("/nowhere/caf\\xe9.wav", "file name is not valid UTF-8")])
    assert (old_a.to_dict(), bad.to_dict()) == before  # inputs untouched
    assert [r.path for r in plan.ready] == [old_a.path] and plan.unchanged == 1
    assert sorted(t[0].path for t in plan.todo) == ["/nowhere/long.wav", "/nowhere/new.wav"]
    assert all(t[1] == [0] and t[2] for t in plan.todo)
    kinds = {s.path: s.kind for s in plan.skipped}
    assert kinds == {bad.path: SkipKind.NOT_AUDIO, "/nowhere/gone.wav": SkipKind.UNREADABLE,
                     "/nowhere/caf\\xe9.wav": SkipKind.NAME}
    # a shard whose size does not match the manifest is not intact: the file is re-encoded
    again = plan_update(states[:1], old_files, {}, keys, fp, {shard_a: 99}, {shard_a: [123, "0" * 64]})
    assert not again.ready and again.todo[0][1] == [0] and not again.todo[0][2]
    # the same call gives the same plan (no hidden state)
    assert plan_update(states, old_files, old_skipped, keys, fp, {shard_a: 123}, {}).skipped == \
        plan_update(states, old_files, old_skipped, keys, fp, {shard_a: 123}, {}).skipped


def test_skip_kinds_are_written_and_too_long_files_are_retried(tmp_path, data_dir) -> None:  # noqa: ANN001
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    wave, sr = sf.read(data_dir / "bells.flac", dtype="float32")
    sf.write(corpus / "short.wav", wave[: sr], sr)
    sf.write(corpus / "long.wav", wave[: 3 * sr], sr)
    (corpus / "broken.wav").write_bytes(b"RIFF not really audio")
    out = tmp_path / "k.lmindex"
    with pytest.warns(UserWarning):
        rep = build_index([corpus], out, progress=False, max_seconds=2)
    kinds = {Path(s["path"]).name: s["kind"] for s in json.loads((out / "manifest.json").read_text())["skipped"]}
    assert kinds == {"broken.wav": "not-audio", "long.wav": "too-long"}
    assert rep.added == 1
    rep = build_index([corpus], out, progress=False, max_seconds=10)  # the limit moved: only long.wav is retried
    assert rep.added == 1 and [Path(p).name for p, _ in rep.skipped] == ["broken.wav"]
    # an unknown kind in a manifest is damage, reported in one line
    m = json.loads((out / "manifest.json").read_text())
    m["skipped"][0]["kind"] = "mystery"
    (out / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(CorpusError, match="kind must be one of"):
        load_index(out)
