"""Music2Latent codec with a seeded random checkpoint of the real architecture.

The checkpoint is written in the package's format and loaded through the same paths
users take (``weights=``, ``$LATENTMORPH_M2L_WEIGHTS``, ``--weights``). The network is
slow on a CPU (~1 s per second of audio to encode, more to decode), so inputs are short.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("music2latent")

from latentmorph import api  # noqa: E402
from latentmorph.audio import load, resample, save  # noqa: E402
from latentmorph.cli import main  # noqa: E402
from latentmorph.codecs import get_codec, list_codecs  # noqa: E402
from latentmorph.codecs import m2l_fast, m2l_weights  # noqa: E402
from latentmorph.codecs.music2latent import CENTER_PAD, CONTEXT, HOP, Music2LatentCodec  # noqa: E402
from latentmorph.errors import AudioError, CodecError  # noqa: E402

SR = 44100


@pytest.fixture(autouse=True)
def isolated_lookup(tmp_path_factory, monkeypatch):
    """No user weights or cache leak in: empty cache dir, no env var, no package weights."""
    cache = tmp_path_factory.getbasetemp() / "m2l_cache"
    monkeypatch.setenv("LATENTMORPH_CACHE_DIR", str(cache))
    monkeypatch.delenv(m2l_weights.ENV_WEIGHTS, raising=False)
    monkeypatch.setattr(m2l_weights, "package_default_path", lambda: cache / "no_package_weights" / "music2latent.pt")


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    return m2l_weights.save_random_checkpoint(tmp_path_factory.mktemp("m2l") / "music2latent.pt", seed=0)


@pytest.fixture(scope="module")
def codec(ckpt, tmp_path_factory) -> Music2LatentCodec:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LATENTMORPH_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "m2l_cache"))
        return get_codec("music2latent", weights=str(ckpt), precision="fp32")


@pytest.fixture(scope="module")
def guitar(data_dir) -> np.ndarray:
    """1 s of real guitar, mono, 44.1 kHz: ``[1, samples]``."""
    wave, _ = load(data_dir / "guitar_sectoid.flac", sr=SR, mono=True)
    return wave[:, SR // 2 : SR + SR // 2]


def _package_trainer(model):
    class Trainer:  # the package's inference functions only need ``.gen``
        gen = model

    return Trainer()


# ---- shapes, frame rate, alignment -------------------------------------------------------
def test_shapes_frame_rate_and_decode_length(codec, guitar):
    x = guitar[:, : SR // 2]
    z = codec.encode(x)
    n = x.shape[-1]
    assert z.shape == (1, 64, -(-n // HOP)) == (1, 64, codec.num_frames(n))
    assert z.dtype == np.float32 and np.isfinite(z).all()
    assert codec.hop == 4096 and codec.dim == 64
    assert codec.frame_rate == pytest.approx(10.77, abs=0.01)
    # a single sample still gives one frame in the centred alignment
    assert codec.encode(guitar[:, :1]).shape == (1, 64, 1)
    y = codec.decode(z[:, :, :1])
    assert y.shape == (1, HOP) and np.isfinite(y).all() and 0 < np.abs(y).max() <= 1.0
    # (decoding is deterministic, seeded noise: checked bit-exactly in the chunking test)


def test_matches_the_package_inference_exactly(ckpt, codec, guitar):
    """align='package' reproduces music2latent's own encode/decode bit for bit (same model)."""
    from music2latent.inference import decode_latent_inference, encode_audio_inference

    pkg = Music2LatentCodec(weights=str(ckpt), align="package", precision="fp32")
    trainer = _package_trainer(pkg.runner.model)
    x = guitar[:, : SR // 4]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the package asks for CUDA autocast on a CPU
        ref = encode_audio_inference(torch.from_numpy(x), trainer, 44100 * 60, 1, device="cpu").numpy()
        z = pkg.encode(x)
        assert z.shape == ref.shape == (1, 64, (x.shape[-1] - CONTEXT) // HOP)
        np.testing.assert_allclose(z, ref, rtol=0, atol=1e-5)
        torch.manual_seed(pkg.seed)  # the package draws its decoding noise from the global RNG
        ref_wave = decode_latent_inference(z[:, :, :1], trainer, 44100 * 60, 1, device="cpu").numpy()
    wave = pkg.decode(z[:, :, :1])
    assert wave.shape == ref_wave.shape == (1, HOP + CONTEXT)
    np.testing.assert_allclose(wave, ref_wave, rtol=0, atol=1e-5)
    # the centred alignment is the package's method on the signal with CENTER_PAD zeros in
    # front and zeros up to a whole number of frames behind
    frames = codec.num_frames(x.shape[-1])
    shifted = np.pad(x, ((0, 0), (CENTER_PAD, frames * HOP + CONTEXT - CENTER_PAD - x.shape[-1])))
    np.testing.assert_allclose(codec.encode(x), pkg.encode(shifted), atol=1e-5)
    with pytest.raises(AudioError, match="at least"):
        pkg.encode(x[:, :5000])


def test_stereo_is_a_batch_of_channels(codec, guitar):
    x = guitar[:, : SR // 4]
    other = np.roll(x, 3000, axis=-1) * 0.5
    stereo = np.concatenate([x, other])
    z = codec.encode(stereo)
    assert z.shape[0] == 2
    np.testing.assert_allclose(z[0], codec.encode(x)[0], atol=1e-4)
    np.testing.assert_allclose(z[1], codec.encode(other)[0], atol=1e-4)
    assert np.abs(z[0] - z[1]).mean() > 0.1  # the two channels really are different


def test_48k_input_is_resampled(codec, guitar):
    x48 = resample(guitar[:, : SR // 2], SR, 48000)
    z = api.encode(x48, 48000, codec=codec)
    n44 = round(x48.shape[-1] * SR / 48000)
    assert z.shape == (1, 64, codec.num_frames(n44))
    np.testing.assert_allclose(z, codec.encode(resample(x48, 48000, SR)), atol=1e-5)


def test_long_input_is_chunked_like_the_package(ckpt, codec, guitar):
    chunky = Music2LatentCodec(weights=str(ckpt), precision="fp32", max_waveform_length=4 * HOP, max_batch_size=2)
    x = guitar[:, : 9 * HOP - 100]  # 9 frames -> chunks of 4, 4, 1 (+3 padded)
    whole = codec.encode(x)
    parts = chunky.encode(x)
    assert parts.shape == whole.shape == (1, 64, 9)
    # known answer: chunk k is the package's encoding of its own stretch of the padded signal
    padded = np.pad(x, ((0, 0), (CENTER_PAD, 9 * HOP + CONTEXT - CENTER_PAD - x.shape[-1])))
    alone = Music2LatentCodec(weights=str(ckpt), align="package", precision="fp32")
    for k in (1,):
        piece = padded[:, k * 4 * HOP : (k + 1) * 4 * HOP + CONTEXT]
        # (batch 2 vs batch 1 lets oneDNN sum in another order: ~1e-4 of the latents' scale of ~10)
        np.testing.assert_allclose(parts[..., 4 * k : 4 * k + 4], alone.encode(piece), atol=2e-3)
    # chunks see less context (GroupNorm statistics, border frames) but stay close inside
    corr = [np.corrcoef(whole[0, :, t], parts[0, :, t])[0, 1] for t in range(9)]
    inner, border = np.mean([corr[t] for t in (1, 2, 5, 6)]), np.mean([corr[t] for t in (3, 4, 7, 8)])
    assert inner > 0.7 and inner > border, np.round(corr, 3)
    # decoding in one-frame chunks: the first chunk is frame 0 decoded alone, same noise
    chunky.max_waveform_length, chunky.max_batch_size = HOP, 1
    spec = chunky.decode_spectrogram(whole[:, :, :2])
    assert spec.shape == (1, 2, 1024, 16)
    torch.testing.assert_close(spec[..., :8], codec.decode_spectrogram(whole[:, :, :1]))
    assert float((spec[..., 8:] - spec[..., :8]).abs().mean()) > 1e-3


def test_extract_features_exposed(ckpt, guitar):
    feats = Music2LatentCodec(weights=str(ckpt), precision="fp32", extract_features=True)
    f = feats.encode(guitar[:, : SR // 4])
    assert f.shape == (1, 8192, 3) and feats.dim == 8192 and not feats.can_decode
    with pytest.raises(CodecError, match="cannot be decoded"):
        feats.decode(f)


# ---- speed options ----------------------------------------------------------------------
def test_bf16_stays_close_to_fp32(codec):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "no native bf16" on CPUs that emulate it
        fast = m2l_fast.UNetRunner(codec.runner.model, precision="bf16")
    spec = torch.randn(1, 2, 1024, 24, generator=torch.Generator().manual_seed(1)) * 0.3
    ref = codec.runner.encode(spec)
    got = fast.encode(spec)
    rel = float((got - ref).norm() / ref.norm())
    assert 0 < rel < 0.05  # bf16 really ran (not bit-equal) and stays within 5 % relative L2


def test_precision_names_are_checked():
    assert m2l_fast.resolve_precision("FP32") == "fp32" and m2l_fast.resolve_precision("auto") == "auto"
    with pytest.raises(CodecError, match="precision"):
        m2l_fast.resolve_precision("fp16")


def test_compile_failure_falls_back_to_eager(codec, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(torch, "compile", broken)
    runner = m2l_fast.UNetRunner(codec.runner.model, precision="fp32", compile=True)
    spec = torch.randn(1, 2, 1024, 8, generator=torch.Generator().manual_seed(2))
    with pytest.warns(UserWarning, match="no compiler here"):
        got = runner.encode(spec)
    assert runner.compile_failed
    torch.testing.assert_close(got, codec.runner.encode(spec))


# ---- weights: lookup, strict loading, errors ---------------------------------------------
def test_env_var_and_alias(ckpt, monkeypatch, guitar):
    monkeypatch.setenv(m2l_weights.ENV_WEIGHTS, str(ckpt))
    c = get_codec("m2l:precision=fp32")
    assert c.weights_path == ckpt and c.name == "music2latent"
    assert c.encode(guitar[:, :HOP]).shape == (1, 64, 1)


def test_fingerprint_hashes_weights_once(ckpt, codec, tmp_path):
    assert codec.weights_sha == m2l_weights.weights_hash(ckpt)
    assert codec.fingerprint.startswith("music2latent-")
    store = Path(m2l_weights.cache_dir()) / "weight_hashes.json"
    assert str(ckpt.resolve()) in store.read_text()  # remembered on disk by path + size + mtime
    f = tmp_path / "w.pt"
    f.write_bytes(b"a" * 1000)
    first = m2l_weights.weights_hash(f)
    f.write_bytes(b"b" * 1001)  # new size -> hashed again
    assert m2l_weights.weights_hash(f) != first


def _cheap_state(drop: int = 0, add: int = 0, reshape: bool = False) -> dict:
    """A state dict with the UNet's keys and shapes, each tensor a broadcast zero (tiny on disk)."""
    arch = m2l_weights.architecture()
    state = {k: torch.zeros(1).expand(shape) if shape else torch.zeros(()) for k, shape in arch.items()}
    keys = sorted(state)
    for k in keys[:drop]:
        del state[k]
    for i in range(add):
        state[f"extra.layer{i}.weight"] = torch.zeros(3)
    if reshape:
        state[keys[-1]] = torch.zeros(7)
    return state


def test_full_state_dict_passes_the_check(tmp_path):
    m2l_weights.check_state_dict(_cheap_state(), tmp_path / "x.pt")  # no error: the keys and shapes are right


@pytest.mark.parametrize(
    ("drop", "add", "reshape", "expected"),
    [(2, 0, False, "2 missing keys"), (0, 1, False, "1 unexpected keys"), (0, 0, True, "has shape")],
)
def test_mismatched_checkpoint_refused(tmp_path, drop, add, reshape, expected):
    bad = tmp_path / "bad.pt"
    torch.save({"gen_state_dict": _cheap_state(drop, add, reshape)}, bad)
    with pytest.raises(CodecError, match=expected) as err:
        get_codec("music2latent", weights=str(bad))
    msg = str(err.value)
    assert "\n" not in msg and str(bad) in msg


def test_not_a_checkpoint_refused(tmp_path):
    junk = tmp_path / "music2latent.pt"
    junk.write_bytes(b"definitely not a torch file")
    with pytest.raises(CodecError, match="not a readable PyTorch checkpoint") as err:
        get_codec("music2latent", weights=str(junk))
    assert "\n" not in str(err.value)
    nodict = tmp_path / "plain.pt"
    torch.save({"state_dict": {}}, nodict)
    with pytest.raises(CodecError, match="gen_state_dict"):
        get_codec("music2latent", weights=str(nodict))


class _Payload:
    """Unpickling this object would run code (it writes a marker file)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_pickled_objects_in_weights_are_refused_not_run(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "music2latent.pt"
    torch.save({"gen_state_dict": _cheap_state(), "extra": _Payload(str(marker))}, evil)
    with pytest.raises(CodecError, match="never unpickles") as err:
        get_codec("music2latent", weights=str(evil))
    assert "\n" not in str(err.value) and str(evil) in str(err.value)
    assert not marker.exists()


def test_missing_weights_one_line_with_licence():
    with pytest.raises(CodecError) as err:
        get_codec("music2latent")
    msg = str(err.value)
    assert "\n" not in msg
    assert "CC BY-NC 4.0" in msg and m2l_weights.ENV_WEIGHTS in msg and "--weights" in msg
    assert str(m2l_weights.cache_dir()) in msg


def test_cli_encode_with_weights_and_missing_weights(ckpt, guitar, tmp_path, capsys):
    wav = save(tmp_path / "in.wav", guitar[:, : SR // 4], SR)
    out = tmp_path / "z.npy"
    code = main(["encode", str(wav), "-o", str(out), "--codec", "music2latent", "--precision", "fp32", "--weights", str(ckpt)])
    assert code == 0
    z = np.load(out)
    assert z.shape == (1, 64, -(-(SR // 4) // HOP))
    assert "music2latent" in capsys.readouterr().out

    assert main(["encode", str(wav), "-o", str(tmp_path / "y.npy"), "--codec", "music2latent"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "CC BY-NC 4.0" in err and "Traceback" not in err
    assert main(["encode", str(wav), "-o", str(tmp_path / "y.npy"), "--codec", "m2l", "--weights", str(tmp_path / "nope.pt")]) == 2
    err = capsys.readouterr().err.strip()
    assert "nope.pt: file not found" in err and err.count("\n") == 0
    assert not (tmp_path / "y.npy").exists()


def test_codecs_listing_tells_the_truth(ckpt, monkeypatch, capsys):
    status = {s.name: s for s in list_codecs()}["music2latent"]
    assert not status.usable and "not found" in status.reason and "CC BY-NC 4.0" in status.reason
    assert main(["codecs"]) == 0
    out = capsys.readouterr().out
    assert "music2latent  usable: no" in out

    monkeypatch.setenv(m2l_weights.ENV_WEIGHTS, str(ckpt))
    status = {s.name: s for s in list_codecs()}["music2latent"]
    assert status.usable and str(ckpt) in status.reason
    assert main(["codecs"]) == 0
    assert "music2latent  usable: yes" in capsys.readouterr().out

    monkeypatch.setattr(m2l_weights, "package_import_error", lambda: "ImportError: no module named huggingface_hub")
    status = {s.name: s for s in list_codecs()}["music2latent"]
    assert not status.usable and "cannot be imported" in status.reason

    monkeypatch.setattr(m2l_weights, "package_available", lambda: False)
    status = {s.name: s for s in list_codecs()}["music2latent"]
    assert not status.usable and "latentmorph[music2latent]" in status.reason


def test_long_encode_and_decode_report_progress_per_part(ckpt, guitar):
    """A caller listening (the transfer bar) hears one part per batch of chunks on encode and
    one per denoising step and batch on decode, adding up to the whole call."""
    from latentmorph.progress import listen

    chunky = Music2LatentCodec(weights=str(ckpt), precision="fp32", max_waveform_length=4 * HOP,
                               max_batch_size=1, denoising_steps=2, latent_cache=False)
    x = guitar[:, : 9 * HOP - 100]  # 9 frames -> 3 chunks -> 3 batches of 1
    parts: list[float] = []
    with listen(parts.append):
        latents = chunky.encode(x)
    assert parts == pytest.approx([1 / 3] * 3)
    parts.clear()
    with listen(parts.append):
        chunky.decode(latents[:, :, :8])  # 2 chunks x 2 steps
    assert parts == pytest.approx([1 / 4] * 4) and sum(parts) == pytest.approx(1.0)
