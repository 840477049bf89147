"""Work spread over threads gives the same numbers as one thread, in order, and never deadlocks."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from latentmorph import parallel
from latentmorph.codecs import get_codec
from latentmorph.errors import LatentmorphError
from latentmorph.transfer.render.loudness import integrated_lufs, k_weighted
from latentmorph.transfer.render.spectral_morph import log_spectral_morph
from latentmorph.transfer.render.transients import hold_top


def test_thread_count_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(parallel.ENV, "3")
    assert parallel.threads() == 3
    monkeypatch.delenv(parallel.ENV)
    assert 1 <= parallel.threads() <= parallel.MAX_THREADS
    for bad in ("two", "0", "-1"):
        monkeypatch.setenv(parallel.ENV, bad)
        with pytest.raises(LatentmorphError, match=parallel.ENV):
            parallel.threads()


def test_map_blocks_keeps_order_and_uses_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(parallel.ENV, "3")
    seen: set[str] = set()

    def work(i: int) -> int:
        seen.add(threading.current_thread().name)
        return i * i

    assert parallel.map_blocks(work, range(40)) == [i * i for i in range(40)]
    assert any(name.startswith("latentmorph") for name in seen)
    monkeypatch.setenv(parallel.ENV, "1")
    seen.clear()
    assert parallel.map_blocks(work, range(5)) == [0, 1, 4, 9, 16]
    assert seen == {threading.current_thread().name}


def test_nested_blocks_and_background_jobs_finish(monkeypatch: pytest.MonkeyPatch) -> None:
    """A job on a pool thread that maps blocks itself runs them inline instead of waiting on
    the pool it occupies (with 2 threads, 4 such jobs would otherwise deadlock)."""
    monkeypatch.setenv(parallel.ENV, "2")

    def outer(i: int) -> int:
        return sum(parallel.map_blocks(lambda j: i + j, range(4)))

    assert parallel.map_blocks(outer, range(4)) == [sum(i + j for j in range(4)) for i in range(4)]
    futures = [parallel.submit(outer, i) for i in range(4)]
    assert [f.result(timeout=30) for f in futures] == [sum(i + j for j in range(4)) for i in range(4)]
    failing = parallel.submit(int, "x")
    with pytest.raises(ValueError):
        failing.result(timeout=30)
    monkeypatch.setenv(parallel.ENV, "1")
    assert parallel.submit(outer, 1).done()


@pytest.mark.parametrize("count", ["1", "2", "4"])
def test_encode_loudness_and_spectral_edits_do_not_depend_on_the_thread_count(monkeypatch: pytest.MonkeyPatch, count: str) -> None:
    rng = np.random.default_rng(3)
    x = (rng.normal(size=(2, 44100 * 13)) * 0.1).astype(np.float32)  # > THREAD_FRAMES frames: two encode blocks
    codec = get_codec("embedded")
    def spectral_edits() -> tuple[np.ndarray, np.ndarray]:  # stft.process: the strength morph, the transient hold
        return log_spectral_morph(x[0], x[1], 0.4, 44100), hold_top(x, x[:1], 44100, attacks=np.array([44100, 90000]))

    monkeypatch.setenv(parallel.ENV, "1")
    lat1, kw1, lufs1, (morph1, hold1) = codec.encode(x), k_weighted(x, 44100), integrated_lufs(x, 44100), spectral_edits()
    monkeypatch.setenv(parallel.ENV, count)
    np.testing.assert_array_equal(codec.encode(x), lat1)
    np.testing.assert_array_equal(k_weighted(x, 44100), kw1)
    assert integrated_lufs(x, 44100) == lufs1
    morph, hold = spectral_edits()
    np.testing.assert_array_equal(morph, morph1)
    np.testing.assert_array_equal(hold, hold1)


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_a_forked_child_gets_its_own_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    """The parent's pool threads do not survive fork(); a child that maps blocks must not hang on them."""
    import os

    monkeypatch.setenv(parallel.ENV, "2")
    assert parallel.map_blocks(abs, [-1, -2, -3]) == [1, 2, 3]  # the parent's pool exists now
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit status
        ok = parallel.submit(sum, [1, 2]).result(timeout=20) == 3 and parallel.map_blocks(abs, [-4, -5]) == [4, 5]
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
