"""Rectified-flow objective, Euler sampler and guidance: known answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentmorph.diffusion.conditions import Conds, random_drop
from latentmorph.diffusion.config import preset_config
from latentmorph.diffusion.flow import blend, euler_sample, flow_loss
from latentmorph.diffusion.guidance import cfg, dual_guidance
from latentmorph.diffusion.model import DiffusionModel
from latentmorph.diffusion.threads import torch_threads


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run on one thread, as the library runs them (see diffusion/threads.py)."""
    with torch_threads(1):
        yield


def test_blend_endpoints_and_midpoint():
    x0, x1 = torch.zeros(2, 3, 4), torch.ones(2, 3, 4)
    assert torch.equal(blend(x0, x1, torch.tensor([0.0, 1.0]))[0], x0[0])
    assert torch.equal(blend(x0, x1, torch.tensor([0.0, 1.0]))[1], x1[1])
    assert torch.allclose(blend(x0, x1, torch.tensor([0.25, 0.25])), torch.full((2, 3, 4), 0.25))


def test_exact_velocity_reaches_the_single_data_point():
    """For data that is one point x*, the true velocity at (x, a) is (x* - x) / (1 - a);
    Euler steps on it land exactly on x* whatever the step count."""
    target = torch.linspace(-2, 3, 12).view(1, 3, 4)

    def velocity(x, a):
        return (target - x) / (1 - a).view(-1, 1, 1)

    for steps in (1, 3, 20):
        out = euler_sample(velocity, (1, 3, 4), steps, torch.Generator().manual_seed(5))
        assert torch.allclose(out, target, atol=1e-5)


def test_flow_loss_is_zero_for_the_true_velocity_of_a_point():
    """With x1 fixed, the velocity x1 - x0 is recovered from x_a exactly: (x1 - x_a) / (1 - a)."""
    x1 = torch.randn(4, 2, 5, generator=torch.Generator().manual_seed(0))
    loss = flow_loss(lambda x, a: (x1 - x) / (1 - a).view(-1, 1, 1), x1, torch.Generator().manual_seed(1))
    assert float(loss) < 1e-8
    wrong = flow_loss(lambda x, a: torch.zeros_like(x), x1, torch.Generator().manual_seed(1))
    assert float(wrong) > 0.5


def test_single_guidance_by_hand():
    n, c = torch.tensor([1.0, -2.0]), torch.tensor([3.0, 0.0])
    assert torch.allclose(cfg(n, c, 3.0), torch.tensor([1 + 3 * 2, -2 + 3 * 2.0]))
    assert torch.equal(cfg(n, c, 1.0), c) and torch.equal(cfg(n, c, 0.0), n)


@pytest.mark.parametrize("s,t", [(1.0, 1.0), (2.0, 0.5), (0.0, 3.0), (0.05, 2.0)])
def test_dual_guidance_by_hand(s, t):
    """dx = dx_none + (S+T)/2 [dx_struct + T/max(S,0.1) (dx_full - dx_struct) - dx_none], computed by hand."""
    none, struct, full = 0.5, 2.0, -1.0
    want = none + 0.5 * (s + t) * (struct + (t / max(s, 0.1)) * (full - struct) - none)
    got = dual_guidance(torch.tensor([none]), torch.tensor([struct]), torch.tensor([full]), s, t)
    assert got.item() == pytest.approx(want, rel=1e-6)
    if s == t == 1.0:
        assert got.item() == pytest.approx(full)


def test_same_seed_same_sample_other_seed_differs():
    torch.manual_seed(0)
    model = DiffusionModel(preset_config("tiny", conditions=("tempo", "timbre", "structure")))
    model.eval()
    conds = Conds({"tempo": torch.rand(1, 20), "timbre": torch.rand(1, 4) * 2 - 1}, {})

    def run(seed):
        return euler_sample(lambda x, a: model.velocity(x, a, conds), (1, 64, 20), 4, torch.Generator().manual_seed(seed))

    assert torch.equal(run(3), run(3))
    assert not torch.allclose(run(3), run(4))


def test_dropped_condition_equals_absent_condition():
    """A dropped condition (keep 0) gives exactly the unconditional input: the "null" condition."""
    torch.manual_seed(0)
    model = DiffusionModel(preset_config("tiny", conditions=("tempo", "timbre", "structure")))
    x, a = torch.randn(2, 64, 16), torch.tensor([0.3, 0.7])
    full = Conds({"tempo": torch.rand(2, 16), "timbre": torch.rand(2, 4), "structure": torch.rand(2, 4, 16)}, {})
    with torch.no_grad():
        dropped = model.velocity(x, a, full.keeping(()))
        absent = model.velocity(x, a, Conds())
        kept = model.velocity(x, a, full)
    assert torch.equal(dropped, absent)
    assert not torch.allclose(kept, absent)


def test_random_drop_rate():
    conds = Conds({"timbre": torch.zeros(4000, 4)}, {})
    kept = random_drop(conds, 0.2, torch.Generator().manual_seed(0)).keep["timbre"]
    assert 0.17 < 1 - float(kept.mean()) < 0.23


def test_transformer_is_causal():
    """Changing frame 10 of the input changes no output before frame 10."""
    torch.manual_seed(0)
    model = DiffusionModel(preset_config("tiny", arch="transformer", conditions=("tempo",)))
    x = torch.randn(1, 64, 24)
    y = x.clone()
    y[..., 10] += 5.0
    with torch.no_grad():
        a = torch.tensor([0.5])
        out_x, out_y = model.velocity(x, a, Conds()), model.velocity(y, a, Conds())
    assert torch.equal(out_x[..., :10], out_y[..., :10])
    assert not torch.allclose(out_x[..., 10:], out_y[..., 10:])
    np.testing.assert_array_equal(out_x.shape, (1, 64, 24))
