"""fit_length: the one pad-or-crop."""

import numpy as np

from latentmorph.audio import fit_length


def test_cuts_pads_and_keeps_leading_axes():
    x = np.arange(10, dtype=np.float32).reshape(2, 5)
    assert np.array_equal(fit_length(x, 3), [[0, 1, 2], [5, 6, 7]])
    assert np.array_equal(fit_length(x, 7), [[0, 1, 2, 3, 4, 0, 0], [5, 6, 7, 8, 9, 0, 0]])
    assert fit_length(x, 7).dtype == np.float32 and fit_length(x, 0).shape == (2, 0)
    mono = np.ones(4)
    assert np.array_equal(fit_length(mono, 6), [1, 1, 1, 1, 0, 0]) and np.array_equal(fit_length(mono, 4), mono)
    assert np.shares_memory(fit_length(x, 3), x), "a cut is a view, no copy"
