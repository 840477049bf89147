"""A second transfer against the same corpus object reuses its matching-space windows,
and gives the same output; other settings or another corpus compute their own."""

from __future__ import annotations

import numpy as np

from latentmorph.audio import load
from latentmorph.transfer import MemoryCorpus, engine, transfer


def test_corpus_windows_are_reused_per_corpus_and_settings(data_dir, monkeypatch) -> None:  # noqa: ANN001
    src, sr = load(data_dir / "speech_codec2.flac", duration=1.5)
    corpus = MemoryCorpus.from_audio([load(data_dir / "strings_melody.flac", duration=3.0)])
    calls = []
    real = engine._corpus_windows
    monkeypatch.setattr(engine, "_corpus_windows", lambda *a: calls.append(a[2].window) or real(*a))
    first, _ = transfer(src, sr, index=corpus)
    again, _ = transfer(src, sr, index=corpus)
    assert calls == [1] and np.array_equal(first, again)
    transfer(src, sr, index=corpus, window=2, stride=1)
    assert calls == [1, 2]
    other = MemoryCorpus.from_audio([load(data_dir / "strings_melody.flac", duration=3.0)])
    transfer(src, sr, index=other)
    assert calls == [1, 2, 1]
    assert not engine._WINDOWS[corpus][1].windows.flags.writeable  # shared arrays are read-only
