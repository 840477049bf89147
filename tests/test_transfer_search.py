"""transfer --search: exact, FAISS IVF/HNSW, and the auto switch above a stated size."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("faiss")

from latentmorph import api, audio  # noqa: E402
from latentmorph.cli import main  # noqa: E402
from latentmorph.errors import LatentmorphError  # noqa: E402
from latentmorph.transfer import ann_search  # noqa: E402


def test_auto_switches_at_the_stated_size():
    assert ann_search.choose_search("auto", ann_search.EXACT_LIMIT) == "exact"
    assert ann_search.choose_search("auto", ann_search.EXACT_LIMIT + 1) == "ivf"
    assert ann_search.choose_search("HNSW", 5) == "hnsw"
    with pytest.raises(LatentmorphError, match="search must be one of"):
        ann_search.choose_search("fast", 5)


def test_approximate_candidates_find_the_exact_ones_and_respect_the_mask():
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((40, 16)).astype(np.float32)
    win = (centers[rng.integers(0, 40, 6000)] + 0.05 * rng.standard_normal((6000, 16))).astype(np.float32)
    valid = rng.random(6000) > 0.2
    q = win[rng.integers(0, 6000, 200)] + 0.01 * rng.standard_normal((200, 16)).astype(np.float32)
    es, ei = ann_search.candidates(q, win, 4, "cosine", valid, search="exact")
    for method in ("ivf", "hnsw"):
        s, i = ann_search.candidates(q, win, 4, "cosine", valid, search=method)
        assert i.shape == (200, 4) and valid[i].all()
        assert np.mean(i[:, 0] == ei[:, 0]) > 0.9
        np.testing.assert_allclose(s[:, 0][i[:, 0] == ei[:, 0]], es[:, 0][i[:, 0] == ei[:, 0]], atol=1e-4)


def test_transfer_with_each_search_matches_exact_on_a_small_corpus(data_dir, tmp_path, capsys):
    src, sr = audio.load(data_dir / "speech_codec2.flac")
    corpus = [data_dir / "bells.flac", data_dir / "drums_amen.flac"]
    idx = tmp_path / "c.lmindex"
    api.build_index(corpus, idx, progress=False)
    exact = api.transfer(src, sr, index=str(idx), search="exact", mode="nearest")[0]
    for method in ("ivf", "hnsw"):
        out = api.transfer(src, sr, index=str(idx), search=method, mode="nearest")[0]
        assert out.shape == exact.shape
        assert np.corrcoef(out.ravel(), exact.ravel())[0, 1] > 0.9
    assert list(idx.glob("ann-transfer-*-ivf.faiss")), "the FAISS index is cached in the index folder"
    code = main(["transfer", str(data_dir / "speech_codec2.flac"), "--index", str(idx), "-o", str(tmp_path / "o.wav"), "--search", "hnsw", "--quiet"])
    assert code == 0 and (tmp_path / "o.wav").exists()
    with pytest.raises(SystemExit):
        main(["transfer", str(data_dir / "speech_codec2.flac"), "--index", str(idx), "-o", str(tmp_path / "p.wav"), "--search", "fast"])
