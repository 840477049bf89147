"""EnCodec / DAC (transformers) and RAVE (TorchScript) behind the Codec interface.

Weights are tiny randomly initialised models of the real architectures, saved in the real
format (``save_pretrained`` folders; ``torch.jit.save`` of a scripted module with
``encode``/``decode``) and loaded through the same paths users take.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")

from latentmorph import audio  # noqa: E402
from latentmorph.cli import main  # noqa: E402
from latentmorph.codecs import get_codec, list_codecs, parse_spec  # noqa: E402
from latentmorph.codecs import hf_local  # noqa: E402
from latentmorph.codecs.random_weights import save_random_dac, save_random_encodec  # noqa: E402
from latentmorph.errors import CodecError  # noqa: E402

RAVE_HOP = 64


class TinyRave(torch.nn.Module):
    """RAVE-like: ``encode [B,1,S] -> [B,hop,S/hop]`` (polyphase frames), ``decode`` the exact inverse."""

    def __init__(self, sr: int = 44100, hop: int = RAVE_HOP, with_params: bool = True) -> None:
        super().__init__()
        self.sr = sr
        self.hop = hop
        if with_params:  # what RAVE's export stores for nn~: [in_channels, ratio, latent_dim, 1]
            self.register_buffer("encode_params", torch.tensor([1, hop, hop, 1]))
        self.mix = torch.nn.Parameter(torch.eye(hop))

    @torch.jit.export
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        b, _, n = x.shape
        frames = x.reshape(b, n // self.hop, self.hop)
        return torch.matmul(frames, self.mix).transpose(1, 2)

    @torch.jit.export
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        b, d, t = z.shape
        frames = torch.matmul(z.transpose(1, 2), torch.linalg.inv(self.mix))
        return frames.reshape(b, 1, t * d)


def save_rave(path: Path, module: torch.nn.Module | None = None) -> Path:
    torch.jit.save(torch.jit.script(module or TinyRave()), str(path))
    return path


@pytest.fixture(scope="session")
def weights(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("neural_weights")
    return {
        "encodec24": save_random_encodec(root / "encodec_24khz", "24khz"),
        "encodec48": save_random_encodec(root / "encodec_48khz", "48khz"),
        "dac": save_random_dac(root / "dac_44khz"),
        "rave": save_rave(root / "tiny.ts"),
    }


SPECS = {"encodec24": "encodec", "encodec48": "encodec", "dac": "dac", "rave": "rave"}
RATES = {"encodec24": 24000, "encodec48": 48000, "dac": 44100, "rave": 44100}


@pytest.fixture(scope="session")
def codecs(weights):
    return {k: get_codec(f"{SPECS[k]}:{weights[k]}") for k in SPECS}


@pytest.fixture(scope="module")
def guitar(data_dir) -> tuple[np.ndarray, int]:
    wave, sr = audio.load(data_dir / "guitar_sectoid.flac", mono=True)
    return wave[:, : sr // 2], sr


@pytest.mark.parametrize("key", list(SPECS))
def test_shapes_frame_rate_and_decode_length(codecs, key):
    c = codecs[key]
    assert c.sample_rate == RATES[key] and c.frame_rate == pytest.approx(c.sample_rate / c.hop)
    for n in (1, c.hop - 1, c.hop, c.hop + 1, 1000):
        z = c.encode(np.zeros(n, dtype=np.float32))
        assert z.shape == (1, c.dim, -(-n // c.hop)) == (1, c.dim, c.num_frames(n)) and z.dtype == np.float32
    z = c.encode(np.random.default_rng(0).standard_normal((2, 777)).astype(np.float32) * 0.1)
    y = c.decode(z)
    assert y.shape == (2, z.shape[-1] * c.hop) and y.dtype == np.float32 and np.isfinite(y).all()


@pytest.mark.parametrize("key", list(SPECS))
def test_stereo_channels_are_encoded_independently(codecs, key):
    c = codecs[key]
    rng = np.random.default_rng(1)
    left, right = (rng.standard_normal(600).astype(np.float32) * 0.1 for _ in range(2))
    z = c.encode(np.stack([left, right]))
    np.testing.assert_allclose(z[0], c.encode(left)[0], atol=1e-5)
    np.testing.assert_allclose(z[1], c.encode(right)[0], atol=1e-5)
    y = c.decode(z)
    np.testing.assert_allclose(y[1], c.decode(z[1:])[0], atol=1e-5)


def test_latents_are_the_pre_quantisation_embeddings(codecs, guitar):
    """Our latents = the transformers encoder's output (before the RVQ); decode = its decoder on them."""
    wave, sr = guitar
    for key in ("encodec24", "dac"):
        c = codecs[key]
        x = audio.resample(wave, sr, c.sample_rate)
        n = c.num_frames(x.shape[-1]) * c.hop
        t = torch.nn.functional.pad(torch.from_numpy(x), (0, n - x.shape[-1]))[None]
        with torch.no_grad():
            ref = c.model.encoder(t)[0].numpy()
            ours = c.encode(x)[0]
            np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-5)
            if key == "dac":  # DacModel.decode(quantized_representation=...) is the decoder on a continuous input
                back = c.model.decode(quantized_representation=torch.from_numpy(ours)[None]).audio_values[0].numpy()
            else:
                back = c.model.decoder(torch.from_numpy(ours)[None])[0, 0].numpy()
        np.testing.assert_allclose(c.decode(ours[None])[0], back, rtol=1e-4, atol=1e-5)
        # the quantiser's reconstruction differs from the continuous latents: they are not codes
        assert c.model.quantizer is not None


def test_rave_round_trip_is_exact_and_a_sine_keeps_its_pitch(codecs, sine):
    c = codecs["rave"]
    x = sine(440.0, 0.5)
    y = c.decode(c.encode(x))[0, : x.size]
    np.testing.assert_allclose(y, x, atol=1e-5)
    x22 = sine(440.0, 0.5, 22050)
    wave = c.decode_audio(c.encode_audio(x22[None], 22050), 22050)[0, : x22.size]
    peak = np.argmax(np.abs(np.fft.rfft(wave * np.hanning(wave.size)))) * 22050 / wave.size
    assert abs(12 * np.log2(peak / 440.0)) < 0.5


def test_long_inputs_run_in_chunks_close_to_one_pass(weights, guitar):
    wave, sr = guitar
    for key, tol in (("dac", 1e-5), ("encodec24", 0.05), ("rave", 1e-6)):
        one = get_codec(f"{SPECS[key]}:{weights[key]}")
        x = audio.resample(wave, sr, one.sample_rate)
        chunked = get_codec(f"{SPECS[key]}:{weights[key]},chunk_seconds=0.05,context_seconds=0.05")
        a, b = one.encode(x), chunked.encode(x)
        assert a.shape == b.shape and a.shape[-1] > 4 * chunked._chunk
        assert np.linalg.norm(a - b) / np.linalg.norm(a) < tol, key
        ya, yb = one.decode(a), chunked.decode(a)
        assert np.linalg.norm(ya - yb) / (np.linalg.norm(ya) + 1e-12) < max(tol, 1e-4), key
        assert one.fingerprint != chunked.fingerprint


def test_fingerprint_is_name_config_and_weights_hash(weights, codecs, tmp_path):
    c = codecs["encodec24"]
    assert c.fingerprint.startswith("encodec-") and c.config()["weights_sha256"] == c.weights_sha
    assert get_codec("encodec", weights=str(weights["encodec24"])).fingerprint == c.fingerprint
    assert codecs["encodec48"].fingerprint != c.fingerprint
    other = save_random_encodec(tmp_path / "enc_seed1", "24khz", seed=1)
    assert get_codec(f"encodec:{other}").fingerprint != c.fingerprint
    # same bytes in another folder: same fingerprint (content, not location)
    import shutil

    copy = Path(shutil.copytree(weights["encodec24"], tmp_path / "copy"))
    assert get_codec(f"encodec:{copy}").fingerprint == c.fingerprint
    rave2 = save_rave(tmp_path / "r2.ts", TinyRave(hop=32))
    assert get_codec(f"rave:{rave2}").fingerprint != codecs["rave"].fingerprint


def test_specs_take_a_bare_path():
    assert parse_spec("encodec:/m/encodec_24khz") == ("encodec", {"weights": "/m/encodec_24khz"})
    assert parse_spec("rave:/m/v.ts,sr=48000") == ("rave", {"weights": "/m/v.ts", "sr": 48000})
    assert parse_spec("embedded:hop=512") == ("embedded", {"hop": 512})


def _one_line(err: pytest.ExceptionInfo) -> str:
    msg = str(err.value)
    assert "\n" not in msg
    return msg


def test_bad_weights_folders_are_one_line_errors(weights, tmp_path):
    import shutil

    with pytest.raises(CodecError) as err:
        get_codec(f"encodec:{tmp_path / 'nope'}")
    msg = _one_line(err)
    assert "nope" in msg and "not found" in msg and "huggingface-cli download facebook/encodec_24khz" in msg
    bad = Path(shutil.copytree(weights["dac"], tmp_path / "dac_bad"))
    (bad / "model.safetensors").unlink()
    (bad / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(CodecError) as err:
        get_codec(f"dac:{bad}")
    assert "no model.safetensors" in _one_line(err) and "pickle" in str(err.value)
    with pytest.raises(CodecError) as err:
        get_codec(f"encodec:{weights['dac']}")  # a DAC folder given to encodec
    assert "model_type is 'dac'" in _one_line(err)
    trunc = Path(shutil.copytree(weights["dac"], tmp_path / "dac_trunc"))
    data = (trunc / "model.safetensors").read_bytes()
    (trunc / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CodecError) as err:
        get_codec(f"dac:{trunc}")
    assert "cannot load dac weights" in _one_line(err) and str(trunc) in str(err.value)
    other = Path(shutil.copytree(weights["dac"], tmp_path / "dac_arch"))
    cfg = json.loads((other / "config.json").read_text())
    cfg["encoder_hidden_size"] = 8  # the file's weights no longer fit the architecture
    (other / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CodecError) as err:
        get_codec(f"dac:{other}")
    assert str(other) in _one_line(err)
    nocfg = tmp_path / "empty"
    nocfg.mkdir()
    with pytest.raises(CodecError) as err:
        get_codec(f"dac:{nocfg}")
    assert "no config.json" in _one_line(err)


def test_missing_transformers_is_one_line_with_the_extra(weights, monkeypatch):
    monkeypatch.setattr(hf_local, "transformers_available", lambda: False)
    for name in ("encodec", "dac"):
        with pytest.raises(CodecError) as err:
            get_codec(f"{name}:{weights['dac']}")
        assert "pip install 'latentmorph[transformers]'" in _one_line(err)
        status = {s.name: s for s in list_codecs()}[name]
        assert not status.usable and "latentmorph[transformers]" in status.reason


class NoDecode(torch.nn.Module):
    sr: int = 44100

    @torch.jit.export
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, ::64]


class OddRatio(TinyRave):
    @torch.jit.export
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, : x.shape[-1] // 100 + 1].repeat(1, 3, 1)


def test_bad_rave_files_are_one_line_errors(tmp_path):
    with pytest.raises(CodecError) as err:
        get_codec(f"rave:{tmp_path / 'missing.ts'}")
    assert "missing.ts: file not found" in _one_line(err)
    junk = tmp_path / "junk.ts"
    junk.write_bytes(b"not torchscript")
    with pytest.raises(CodecError) as err:
        get_codec(f"rave:{junk}")
    assert "not a readable TorchScript file" in _one_line(err)
    cases = [
        (f"rave:{save_rave(tmp_path / 'nodec.ts', NoDecode())}", "no decode() method"),
        (f"rave:{save_rave(tmp_path / 'odd.ts', OddRatio(with_params=False))}", "not a fixed whole-sample ratio"),
        (f"rave:{save_rave(tmp_path / 'lies.ts', TinyRave(hop=32))},sr=48000", "drop sr="),
    ]
    for spec, problem in cases:
        with pytest.raises(CodecError) as err:
            get_codec(spec)
        assert problem in _one_line(err)


def test_cli_codecs_listing_and_encode(weights, tmp_path, monkeypatch, capsys, guitar):
    monkeypatch.setenv("LATENTMORPH_CACHE_DIR", str(tmp_path / "cache"))
    for var in ("LATENTMORPH_ENCODEC_WEIGHTS", "LATENTMORPH_DAC_WEIGHTS", "LATENTMORPH_RAVE_WEIGHTS"):
        monkeypatch.delenv(var, raising=False)
    assert main(["codecs"]) == 0
    out = capsys.readouterr().out
    for name in ("encodec", "dac", "rave"):
        assert f"{name}" in out and any(line.startswith(name) and "usable: no" in line for line in out.splitlines())
    monkeypatch.setenv("LATENTMORPH_DAC_WEIGHTS", str(weights["dac"]))
    monkeypatch.setenv("LATENTMORPH_RAVE_WEIGHTS", str(weights["rave"]))
    assert main(["codecs"]) == 0
    out = capsys.readouterr().out
    assert any(line.startswith("dac") and "usable: yes" in line for line in out.splitlines())
    assert any(line.startswith("rave") and "usable: yes" in line for line in out.splitlines())
    wave, sr = guitar
    wav = audio.save(tmp_path / "in.wav", wave, sr)
    z = tmp_path / "z.npy"
    assert main(["encode", str(wav), "-o", str(z), "--codec", f"encodec:{weights['encodec24']}"]) == 0
    c = get_codec(f"encodec:{weights['encodec24']}")
    assert np.load(z).shape == (1, c.dim, c.num_frames(round(wave.shape[1] * 24000 / sr)))
    capsys.readouterr()
    assert main(["encode", str(wav), "-o", str(tmp_path / "y.npy"), "--codec", f"dac:{tmp_path / 'nowhere'}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "nowhere" in err and "Traceback" not in err


def test_index_and_transfer_end_to_end_with_rave(weights, data_dir, tmp_path, capsys):
    """Corpus = source, nearest grain, decode render: an exactly invertible codec gives the source back."""
    wave, sr = audio.load(data_dir / "guitar_sectoid.flac", sr=44100, mono=True)
    src = audio.save(tmp_path / "src.wav", wave[:, : 44100 // 2], 44100)
    idx = tmp_path / "g.lmindex"
    assert main(["index", str(src), "-o", str(idx), "--codec", f"rave:{weights['rave']}", "-q"]) == 0
    out = tmp_path / "out.wav"
    code = main(["transfer", str(src), "--index", str(idx), "-o", str(out), "--mode", "nearest", "-k", "1",
                 "--no-follow-loudness", "--normalize", "none", "--quiet"])
    assert code == 0, capsys.readouterr().err
    y, ysr = audio.load(out)
    x = audio.load(src)[0]
    assert ysr == 44100 and abs(y.shape[1] - x.shape[1]) <= RAVE_HOP
    n = min(y.shape[1], x.shape[1])
    assert np.corrcoef(y[0, :n], x[0, :n])[0, 1] > 0.95
