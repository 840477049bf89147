"""``precision="auto"`` for Music2Latent: the probe's verdict, its cache, short inputs in fp32.

The real probe times the full network (seconds), so these tests give :func:`choose` a
stand-in measurement and check what is done with it; accuracy is checked on the real
(random-weight) network against fp32 eager.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("music2latent")

from latentmorph.codecs import m2l_alloc, m2l_fast, m2l_precision, m2l_weights  # noqa: E402
from latentmorph.codecs.music2latent import HOP, Music2LatentCodec  # noqa: E402

SR = 44100


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTMORPH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv(m2l_precision.ENV, raising=False)
    m2l_precision.forget()
    yield
    m2l_precision.forget()


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    return m2l_weights.save_random_checkpoint(tmp_path_factory.mktemp("m2lp") / "music2latent.pt", seed=0)


def _stats(enc_ratio: float, dec_ratio: float, snr: float = 33.0) -> dict:
    return {op: {"ratio": r, "ratio_min": r, "ratio_max": r, "snr_db": snr} for op, r in (("encode", enc_ratio), ("decode", dec_ratio))}


def test_probe_verdict_is_respected_and_cached(monkeypatch):
    calls = []

    def fake_measure(model):
        calls.append(model)
        return _stats(0.6, 1.1)  # bf16 faster to encode, slower to decode

    assert m2l_precision.choose("model", fake_measure) == {"encode": True, "decode": False}
    stored = json.loads((m2l_weights.cache_dir() / m2l_precision.CACHE_NAME).read_text())
    key = m2l_precision.probe_key()
    assert list(stored) == [key] and "torch " + torch.__version__ in key
    assert stored[key]["bf16"] == {"encode": True, "decode": False}
    # a new process (memo dropped) reads the file instead of measuring again
    m2l_precision.forget()
    assert m2l_precision.choose("model", fake_measure) == {"encode": True, "decode": False}
    assert len(calls) == 1
    # another CPU model (or torch version) is probed afresh
    m2l_precision.forget()
    monkeypatch.setattr(m2l_precision, "cpu_model", lambda: "Some Other CPU")
    assert m2l_precision.choose("model", lambda m: _stats(1.2, 0.5)) == {"encode": False, "decode": True}
    assert len(json.loads((m2l_weights.cache_dir() / m2l_precision.CACHE_NAME).read_text())) == 2


def test_probe_rejects_bf16_that_is_inaccurate_or_not_faster():
    assert m2l_precision.decide(_stats(0.5, 0.5, snr=20.0)) == {"encode": False, "decode": False}
    assert m2l_precision.decide(_stats(0.95, 0.89)) == {"encode": False, "decode": True}


def test_corrupt_cache_is_probed_again():
    path = m2l_weights.cache_dir() / m2l_precision.CACHE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({m2l_precision.probe_key(): {"bf16": {"encode": "yes"}}}))
    assert m2l_precision.choose("m", lambda m: _stats(0.5, 0.5)) == {"encode": True, "decode": True}


def test_auto_routes_short_inputs_and_non_native_cpus_to_fp32(monkeypatch):
    monkeypatch.setattr(m2l_precision, "choose", lambda model, **kw: {"encode": True, "decode": True})
    monkeypatch.setattr(m2l_fast, "native_bf16", lambda: True)
    short = m2l_precision.MIN_BF16_FRAMES - 1
    assert not m2l_fast.auto_bf16(None, "encode", short) and not m2l_fast.auto_bf16(None, "decode", 1)
    assert m2l_fast.auto_bf16(None, "encode", m2l_precision.MIN_BF16_FRAMES)
    monkeypatch.setattr(m2l_fast, "native_bf16", lambda: False)
    assert not m2l_fast.auto_bf16(None, "encode", 1000)
    monkeypatch.undo()
    monkeypatch.setenv(m2l_precision.ENV, "fp32")
    assert m2l_precision.choose(None) == {"encode": False, "decode": False}


def _snr(ref: np.ndarray, got: np.ndarray) -> float:
    return float(-20 * np.log10(np.linalg.norm(got - ref) / np.linalg.norm(ref)))


def test_auto_output_matches_fp32_within_tolerance(ckpt, data_dir, monkeypatch):
    from latentmorph.audio import load

    monkeypatch.setattr(m2l_fast, "native_bf16", lambda: True)
    monkeypatch.setattr(m2l_precision, "choose", lambda model, **kw: {"encode": True, "decode": True})
    wave, _ = load(data_dir / "guitar_sectoid.flac", sr=SR, mono=True)
    frames = m2l_precision.MIN_BF16_FRAMES
    x = wave[:, : frames * HOP]
    exact = Music2LatentCodec(weights=str(ckpt), precision="fp32")
    auto = Music2LatentCodec(weights=str(ckpt), precision="auto")
    assert auto.runner.model is exact.runner.model  # one model per weights file per process
    z32 = exact.encode(x)
    z = auto.encode(x)
    assert auto.runner.last_precision == "bf16"
    assert z.shape == z32.shape == (1, 64, frames)
    assert 25.0 <= _snr(z32, z) < 80  # bf16 really ran, within the stated tolerance
    # a short input under auto runs in fp32: bit-equal to the fp32 codec
    np.testing.assert_array_equal(auto.encode(x[:, : 5 * HOP]), exact.encode(x[:, : 5 * HOP]))
    assert auto.runner.last_precision == "fp32"
    # decoding: 2 frames (the short-length rule lowered for speed; 2-16 frames measured 32-33 dB)
    monkeypatch.setattr(m2l_precision, "MIN_BF16_FRAMES", 2)
    y32 = exact.decode(z32[:, :, :2])
    y = auto.decode(z32[:, :, :2])
    assert auto.runner.last_precision == "bf16" and y.shape == y32.shape == (1, 2 * HOP)
    assert 25.0 <= _snr(y32, y) < 80


def test_model_loaded_once_and_allocator_settings_are_restored(ckpt, monkeypatch):
    reads = []
    real = m2l_weights._read_checkpoint
    monkeypatch.setattr(m2l_weights, "_read_checkpoint", lambda p: reads.append(p) or real(p))
    m2l_weights._MODELS.clear()
    a = Music2LatentCodec(weights=str(ckpt), precision="fp32")
    b = Music2LatentCodec(weights=str(ckpt), precision="bf16")
    assert len(reads) == 1 and a.runner.model is b.runner.model  # one read, one model per process
    assert not any(p.requires_grad for p in a.runner.model.parameters())
    assert all(p.dtype == torch.float32 and p.device.type == "cpu" for p in a.runner.model.parameters())
    z = a.encode(np.zeros((1, HOP), np.float32))
    assert z.shape == (1, 64, 1) and np.isfinite(z).all()
    assert m2l_alloc._depth == 0  # every call left the allocator scope
    with m2l_alloc.reuse_freed_memory() as active:
        assert active == m2l_alloc.enabled() and m2l_alloc._depth == (1 if active else 0)
        with m2l_alloc.reuse_freed_memory():
            pass
        assert m2l_alloc._depth == (1 if active else 0)
    assert m2l_alloc._depth == 0
