"""latentmorph.audio.biquads: causal biquad cascades by block matrix products, against scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import sosfilt

from latentmorph.audio.biquads import BLOCK, filter_biquads
from latentmorph.transfer.render.loudness import k_weighting
from latentmorph.transfer.render.low_band import high_pass_section


def _sos(sections) -> np.ndarray:  # noqa: ANN001
    return np.array([np.concatenate([np.asarray(b) / a[0], np.asarray(a) / a[0]]) for b, a in sections])


@pytest.mark.parametrize("sr", [16000, 44100, 48000, 96000])
@pytest.mark.parametrize("n", [1, BLOCK - 1, BLOCK, BLOCK + 1, 20011])
def test_equals_scipy_sosfilt(sr: int, n: int) -> None:
    """K-weighting (two sections) and a 20 Hz high-pass, one and two channels, any length
    (shorter than a block, a whole block, a block and one sample, many blocks)."""
    rng = np.random.default_rng(n)
    x = (rng.standard_normal((2, n)) * 0.3 + 0.1).astype(np.float32)  # with a DC offset: the states carry it
    for sections in (k_weighting(sr), (high_pass_section(sr, 20.0),)):
        want = sosfilt(_sos(sections), x.astype(np.float64), axis=-1)
        got = filter_biquads(x, sections)
        assert got.shape == x.shape and got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6 * max(1.0, np.abs(want).max()))
        np.testing.assert_allclose(filter_biquads(x[1], sections), want[1], rtol=0, atol=1e-6 * max(1.0, np.abs(want).max()))


def test_a_slow_pole_rings_on_across_thousands_of_blocks() -> None:
    """A DC step through a 5 Hz high-pass: its ringing lasts far longer than a block, and
    every block's start state carries it on. Ten seconds at 48 kHz (3,750 blocks) match
    scipy, and the step has decayed to nothing by the end (no truncated tail left over)."""
    sr = 48000
    x = np.ones((1, 10 * sr), np.float32)
    sections = (high_pass_section(sr, 5.0),)
    want = sosfilt(_sos(sections), x.astype(np.float64), axis=-1)
    got = filter_biquads(x, sections)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    assert abs(got[0, 0] - 1.0) < 1e-3  # a high-pass passes the step's edge
    assert got[0, int(0.05 * sr)] < 0.5 and np.abs(got[0, -sr:]).max() < 1e-6  # and then lets the DC go


def test_channels_are_filtered_independently() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 5000)).astype(np.float32)
    both = filter_biquads(x, k_weighting(44100))
    for ch in range(2):
        np.testing.assert_allclose(both[ch], filter_biquads(x[ch:ch + 1], k_weighting(44100))[0], rtol=0, atol=1e-6)


def test_no_sections_and_no_samples() -> None:
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(filter_biquads(x, ()), x)
    assert filter_biquads(np.zeros((2, 0), np.float32), k_weighting(48000)).shape == (2, 0)


@pytest.mark.parametrize("section", [(np.array([1.0, 0.0]), np.array([1.0, 0.5, 0.1])),
                                     (np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.5, 0.1])),
                                     (np.array([1.0, np.nan, 0.0]), np.array([1.0, 0.5, 0.1]))])
def test_a_bad_section_is_refused(section) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match="biquad section"):
        filter_biquads(np.zeros((1, 10), np.float32), (section,))
