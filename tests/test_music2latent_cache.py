"""The Music2Latent latent cache: hits are identical, bad entries are refused, keys follow the settings.

Random weights of the real UNet, saved and loaded through the real path; inputs are real
guitar audio a few frames long (the cache's frame threshold is lowered for speed, except in
the test of the threshold itself).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("music2latent")

from latentmorph.audio import load  # noqa: E402
from latentmorph.codecs import m2l_cache, m2l_weights  # noqa: E402
from latentmorph.codecs.music2latent import HOP, Music2LatentCodec  # noqa: E402

SR = 44100
FRAMES = 3


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTMORPH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv(m2l_cache.ENV, raising=False)
    monkeypatch.delenv(m2l_cache.ENV_MB, raising=False)
    monkeypatch.setattr(m2l_cache, "MIN_FRAMES", 2)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    return m2l_weights.save_random_checkpoint(tmp_path_factory.mktemp("m2lc") / "music2latent.pt", seed=0)


@pytest.fixture(scope="module")
def guitar(data_dir) -> np.ndarray:
    wave, _ = load(data_dir / "guitar_sectoid.flac", sr=SR, mono=True)
    return np.ascontiguousarray(wave[:, SR // 2 : SR // 2 + FRAMES * HOP - 1000])


def _codec(ckpt: Path, **kw) -> Music2LatentCodec:
    return Music2LatentCodec(weights=str(ckpt), precision="fp32", **kw)


def _network_calls(codec: Music2LatentCodec, monkeypatch) -> list[int]:
    calls: list[int] = []
    real = codec._encode
    monkeypatch.setattr(codec, "_encode", lambda x: calls.append(x.shape[-1]) or real(x))
    return calls


def test_hit_returns_identical_latents_without_the_network(ckpt, guitar, monkeypatch):
    codec = _codec(ckpt)
    calls = _network_calls(codec, monkeypatch)
    first = codec.encode(guitar)
    assert codec.last_encode == "network" and len(calls) == 1
    assert len(m2l_cache.entries()) == 1
    again = codec.encode(guitar.copy())  # same samples, another array
    assert codec.last_encode == "cache" and len(calls) == 1
    np.testing.assert_array_equal(again, first)
    assert again.dtype == np.float32 and again.shape == (1, 64, FRAMES)
    # a fresh codec (a new run) hits too, and the values equal an uncached encode
    other = _codec(ckpt)
    np.testing.assert_array_equal(other.encode(guitar), first)
    assert other.last_encode == "cache"
    np.testing.assert_array_equal(_codec(ckpt, latent_cache=False).encode(guitar), first)
    # other samples are a miss
    changed = guitar.copy()
    changed[0, 100] += 1e-3
    other.encode(changed)
    assert other.last_encode == "network" and len(m2l_cache.entries()) == 2


def _entry(codec: Music2LatentCodec, guitar: np.ndarray) -> Path:
    codec.encode(guitar)
    (path,) = m2l_cache.entries()
    return path


def _rewrite(path: Path, **arrays) -> None:
    with np.load(path, allow_pickle=False) as data:
        fields = {k: data[k] for k in data.files}
    fields.update(arrays)
    buf = io.BytesIO()
    np.savez(buf, **fields)
    path.write_bytes(buf.getvalue())


@pytest.mark.parametrize("damage", ["garbage", "truncated", "flipped value", "wrong shape", "other key", "pickled", "nan"])
def test_corrupt_entry_is_refused_and_recomputed(ckpt, guitar, monkeypatch, damage):
    codec = _codec(ckpt)
    path = _entry(codec, guitar)
    good = codec.encode(guitar)
    assert codec.last_encode == "cache"
    with np.load(path, allow_pickle=False) as data:
        lat = data["latents"].copy()
    if damage == "garbage":
        path.write_bytes(b"not an npz at all")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:200])
    elif damage == "flipped value":
        lat[0, 5, 1] += 0.5  # the checksum no longer matches
        _rewrite(path, latents=lat)
    elif damage == "wrong shape":
        _rewrite(path, latents=lat[:, :, :2])
    elif damage == "other key":
        _rewrite(path, key=np.array("0" * 64))
    elif damage == "nan":
        lat[0, 0, 0] = np.nan
        _rewrite(path, latents=lat)
    else:  # an object array, which only unpickling could read
        buf = io.BytesIO()
        np.savez(buf, latents=np.array([{"x": 1}], dtype=object), key=np.array(path.stem), check=np.zeros(32, np.uint8))
        path.write_bytes(buf.getvalue())
    calls = _network_calls(codec, monkeypatch)
    got = codec.encode(guitar)
    assert codec.last_encode == "network" and len(calls) == 1
    np.testing.assert_array_equal(got, good)
    # the recomputed entry replaced the bad one and is read back next time
    assert zipfile.is_zipfile(path)
    np.testing.assert_array_equal(codec.encode(guitar), good)
    assert codec.last_encode == "cache" and len(calls) == 1


def test_key_follows_weights_precision_and_alignment(ckpt, guitar, tmp_path):
    base = _codec(ckpt)
    base.encode(guitar)
    other_weights = m2l_weights.save_random_checkpoint(tmp_path / "other.pt", seed=3)
    variants = [
        Music2LatentCodec(weights=str(other_weights), precision="fp32"),  # another fingerprint
        _codec(ckpt, align="package"),
        Music2LatentCodec(weights=str(ckpt), precision="bf16"),  # the numbers would differ
    ]
    for v in variants:
        v.encode(guitar)
        assert v.last_encode == "network", v
    assert len(m2l_cache.entries()) == 1 + len(variants)
    # each reads back its own entry
    for v in [base, *variants]:
        v.encode(guitar)
        assert v.last_encode == "cache"


def test_off_switches_and_short_inputs(ckpt, guitar, monkeypatch):
    _codec(ckpt, latent_cache=False).encode(guitar)
    monkeypatch.setenv(m2l_cache.ENV, "off")
    _codec(ckpt).encode(guitar)
    assert m2l_cache.entries() == []
    monkeypatch.delenv(m2l_cache.ENV)
    monkeypatch.setattr(m2l_cache, "MIN_FRAMES", FRAMES + 1)  # below the threshold: never cached
    codec = _codec(ckpt)
    codec.encode(guitar)
    codec.encode(guitar)
    assert codec.last_encode == "network" and m2l_cache.entries() == []


def test_size_bound_drops_least_recently_used_and_only_our_files(tmp_path):
    folder = m2l_cache.folder()
    folder.mkdir(parents=True)
    foreign = folder / "notes.txt"
    foreign.write_bytes(b"x" * 10_000)
    keys = [f"{i:064x}" for i in range(4)]
    lat = np.ones((1, 64, 100), np.float32)  # ~26 kB an entry
    for i, key in enumerate(keys):
        assert m2l_cache.put(key, lat + i)
    size = (folder / f"{keys[0]}.npz").stat().st_size
    import os

    for i, key in enumerate(keys):  # oldest first: 0, then 1, 2, 3; then key 0 is used again
        os.utime(folder / f"{key}.npz", (1000 + i, 1000 + i))
    assert m2l_cache.get(keys[0], (1, 64, 100)) is not None
    assert m2l_cache.prune(2 * size) == 2
    left = {p.stem for p in m2l_cache.entries()}
    assert left == {keys[0], keys[3]} and foreign.exists()
    np.testing.assert_array_equal(m2l_cache.get(keys[3], (1, 64, 100)), lat + 3)
    assert m2l_cache.clear() == 2 and foreign.exists()
