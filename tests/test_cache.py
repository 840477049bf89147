"""One cache folder for everything latentmorph caches, moved by one environment variable."""

from __future__ import annotations

import warnings

import pytest

from latentmorph import cache


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in ("LATENTMORPH_CACHE_DIR", "LATENTMORPH_CACHE", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(cache, "_warned", False)


def test_cache_dir_env_moves_every_cache(monkeypatch, tmp_path):
    from latentmorph.codecs import embedded  # noqa: F401  (registers the default codec)
    from latentmorph.codecs import get_codec, m2l_weights
    from latentmorph.transfer.corpus import cached_index_path

    monkeypatch.setenv("LATENTMORPH_CACHE_DIR", str(tmp_path / "c"))
    assert cache.cache_dir() == tmp_path / "c"
    # the weights cache and the cached corpus indexes live in the same folder
    assert m2l_weights.cache_dir() == tmp_path / "c"
    assert cached_index_path([tmp_path / "a.wav"], get_codec("embedded")).parent == tmp_path / "c" / "indexes"


def test_default_is_xdg_then_home(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.cache_dir() == tmp_path / "home" / ".cache" / "latentmorph"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == tmp_path / "xdg" / "latentmorph"


def test_old_variable_is_a_deprecated_alias(monkeypatch, tmp_path):
    monkeypatch.setenv("LATENTMORPH_CACHE", str(tmp_path / "old"))
    with pytest.warns(DeprecationWarning, match="LATENTMORPH_CACHE_DIR"):
        assert cache.cache_dir() == tmp_path / "old"
    # the new name wins when both are set, without a warning
    monkeypatch.setenv("LATENTMORPH_CACHE_DIR", str(tmp_path / "new"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cache.cache_dir() == tmp_path / "new"
