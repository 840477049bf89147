"""Training: the loop learns, resumes exactly after an interruption, and model files are read safely."""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np
import pytest
import torch

import latentmorph.diffusion as d
from latentmorph.corpus import build_index
from latentmorph.diffusion.config import ModelConfig
from latentmorph.diffusion.data import sequences_of
from latentmorph.diffusion.model import DiffusionModel
from latentmorph.diffusion.model_file import load_model, model_codec, save_model
from latentmorph.errors import ModelError


@pytest.fixture(scope="module")
def amen_index(data_dir, tmp_path_factory):
    """The 4-second amen drum loop (tests/data/drums_amen.flac), embedded codec."""
    return build_index([data_dir / "drums_amen.flac"], tmp_path_factory.mktemp("amen") / "amen.lmindex", progress=False).index


def test_tiny_model_learns_the_loop(amen_index, tmp_path):
    """The tiny model (unconditional, 200 steps) regenerates latents with the loop's statistics.

    Measure, in the model's normalised latent space (per-dimension standardised by the loop's
    mean/std, so per-dimension means and stds of pure noise already match and cannot tell
    anything): (1) the covariance between latent dimensions of the generated frames vs the
    loop's (Frobenius norm of the difference) and (2) the lag-1 autocorrelation per dimension
    (how frames follow each other; mean absolute difference). Baseline: the same measures for
    white Gaussian noise of the same shape (what an untrained flow would give). Thresholds:
    the generated error is below 0.75x (covariance) and 0.7x (autocorrelation) the noise
    baseline; measured 0.58x and 0.50x on the dev machine.
    """
    r = d.train([amen_index], tmp_path / "loop.lmdiff", conditions=(), steps=200, progress=False, plot=False)
    assert r.steps == 200 and np.mean(r.losses[-20:]) < np.mean(r.losses[:20])
    model = load_model(tmp_path / "loop.lmdiff")
    _, _, lat = d.generate(model, seconds=4.0, steps=20, seed=1, return_latents=True)
    loop = sequences_of(amen_index)[0][2]
    mean, std = model.latent_mean.numpy()[:, None], model.latent_std.numpy()[:, None]
    zl, zg = ((loop - mean) / std).T, ((lat[0] - mean) / std).T
    zn = np.random.default_rng(0).standard_normal(zg.shape)

    def cov_err(z):
        return np.linalg.norm(np.cov(z.T) - np.cov(zl.T))

    def lag1(z):
        return np.array([np.corrcoef(z[:-1, i], z[1:, i])[0, 1] for i in range(z.shape[1])])

    def ac_err(z):
        return np.abs(lag1(z) - lag1(zl)).mean()

    assert cov_err(zg) < 0.75 * cov_err(zn), (cov_err(zg), cov_err(zn))
    assert ac_err(zg) < 0.7 * ac_err(zn), (ac_err(zg), ac_err(zn))


def _small_run(index, out, **kw):
    return d.train([index], out, conditions=("timbre", "structure"), steps=30, progress=False, plot=False,
                   batch=4, crop=16, checkpoint_steps=10, **kw)


def test_resume_after_interruption_matches_an_uninterrupted_run(amen_index, tmp_path):
    """Interrupted at step 25 (checkpoint every 10), re-running resumes at 20 and ends bit-identical."""
    _small_run(amen_index, tmp_path / "ref.lmdiff")

    def stop(step, loss):
        if step == 25:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _small_run(amen_index, tmp_path / "cut.lmdiff", on_step=stop)
    assert not (tmp_path / "cut.lmdiff").exists() and (tmp_path / "cut.lmdiff.ckpt").exists()
    r = _small_run(amen_index, tmp_path / "cut.lmdiff")
    assert r.resumed_from == 20 and r.steps == 30 and len(r.losses) == 30
    a, b = load_model(tmp_path / "ref.lmdiff").state_dict(), load_model(tmp_path / "cut.lmdiff").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    # a checkpoint of other settings is refused, naming it
    with pytest.raises(ModelError, match="cut.lmdiff.ckpt.*other settings"):
        d.train([amen_index], tmp_path / "cut.lmdiff", conditions=("timbre",), steps=40, progress=False, plot=False,
                 batch=4, crop=16)


def test_model_file_is_validated(amen_index, tmp_path):
    cfg = dataclasses.replace(ModelConfig(), fingerprint=amen_index.fingerprint)
    torch.manual_seed(0)
    net = DiffusionModel(cfg)
    good = save_model(tmp_path / "m.lmdiff", net)
    assert save_model(tmp_path / "again.lmdiff", net).read_bytes() == good.read_bytes()  # same model, same bytes
    assert model_codec(load_model(good)).fingerprint == amen_index.fingerprint
    data = good.read_bytes()
    (tmp_path / "cut.lmdiff").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="cut.lmdiff: not a readable model"):
        load_model(tmp_path / "cut.lmdiff")
    with pytest.raises(ModelError, match="missing.lmdiff: model file not found"):
        load_model(tmp_path / "missing.lmdiff")
    # weights that do not fit the config
    blob = torch.load(good, weights_only=True)
    blob["weights"]["latent_mean"] = torch.zeros(3)
    torch.save(blob, tmp_path / "shape.lmdiff")
    with pytest.raises(ModelError, match="shape.lmdiff: weight latent_mean"):
        load_model(tmp_path / "shape.lmdiff")
    # a config field out of range
    blob = torch.load(good, weights_only=True)
    blob["config"] = blob["config"].replace('"levels": 2', '"levels": -4')
    torch.save(blob, tmp_path / "cfg.lmdiff")
    with pytest.raises(ModelError, match="cfg.lmdiff: config levels"):
        load_model(tmp_path / "cfg.lmdiff")
    # a pickled Python object is never executed
    torch.save({"format": "latentmorph.diffusion", "version": 1, "evil": pathlib.PurePosixPath("/x")},
               tmp_path / "pickle.lmdiff")
    with pytest.raises(ModelError, match="pickle.lmdiff: not a readable"):
        load_model(tmp_path / "pickle.lmdiff")
    # a model of another codec (stored fingerprint that the spec no longer builds)
    other = save_model(tmp_path / "other.lmdiff", DiffusionModel(dataclasses.replace(cfg, fingerprint="embedded-0123456789abcdef")))
    with pytest.raises(ModelError, match="other.lmdiff: model made with codec .*embedded-0123"):
        model_codec(load_model(other))


def test_causal_transformer_trains_and_generates(amen_index, tmp_path):
    """--arch transformer goes through the same training, model file and sampler."""
    r = d.train([amen_index], tmp_path / "tr.lmdiff", arch="transformer", conditions=("tempo", "timbre"), steps=5,
                progress=False, plot=False, batch=2, crop=16)
    model = load_model(tmp_path / "tr.lmdiff")
    assert model.config.arch == "transformer" and r.steps == 5
    wave, sr = d.generate(model, seconds=0.5, bpm=100, steps=2)
    assert sr == 44100 and wave.shape == (1, 22050) and np.isfinite(wave).all()
