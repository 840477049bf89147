"""Causal biquad cascades (recursive filters) on whole signals, in a few matrix products.

A recursive filter runs sample by sample, which numpy cannot do quickly, and scipy.signal
costs ~1.2 s to import. But a cascade of biquads is a linear system with a small state (two
numbers per section), so a signal cut into blocks of :data:`BLOCK` samples filters in three
steps, each a matrix product over all blocks at once:

1. every block from a zero state: ``y = T x`` (``T`` the lower-triangular Toeplitz matrix of
   the cascade's impulse response over one block), and the state it ends in, ``e = G x``;
2. the true state at the start of every block, ``s[j+1] = M s[j] + e[j]`` from ``s[0] = 0``
   (``M``: what ``BLOCK`` samples of silence do to a state), solved for all blocks by doubling:
   ``log2(blocks)`` products of the states with ``M``, ``M^2``, ``M^4``...;
3. what each block's start state adds to its outputs: ``y += Obs s`` (``Obs``: the output of
   each state at each sample of a block).

The result is what ``scipy.signal.sosfilt`` (or ``lfilter`` section by section) gives with a
zero initial state, to float32 rounding: the states are carried in float64, so nothing is
truncated, however slowly the poles decay (a 20 Hz high-pass rings for ~10,000 samples).
It replaced an overlap-save FFT filter that kept a truncated impulse response and ran
~2x slower (``bench/bench_biquads.py``).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

#: Samples per block: the Toeplitz product costs ``2 * BLOCK`` operations a sample and the
#: doubling ``log2(samples / BLOCK)`` small products; 128 was fastest at 44.1 kHz on 2 cores.
BLOCK = 128
#: Blocks per matrix product (8192 x 128 samples: 4 MB of float32): memory stays that of
#: the signal and its output whatever the length.
CHUNK_BLOCKS = 8192

#: A cascade: ``((b, a), ...)``, each a second-order section's numerator and denominator
#: (``a[0] != 0``), applied in order.
Sections = tuple[tuple[np.ndarray, np.ndarray], ...]


def filter_biquads(x: np.ndarray, sections: Sections) -> np.ndarray:
    """``x [C, S]`` (or ``[S]``) through the biquads ``sections`` in order, causal, from a
    zero state. Returns float32 of ``x``'s shape: ``scipy.signal.sosfilt`` to float32
    rounding (module docstring). The sections must be stable (poles inside the unit circle),
    as every filter designed here is."""
    x = np.asarray(x, np.float32)
    if x.ndim == 1:
        return filter_biquads(x[None], sections)[0]
    if x.ndim != 2:
        raise ValueError(f"expected [channels, samples], got shape {x.shape}")
    C, n = x.shape
    if not sections or n == 0:
        return x.copy()
    T, G, Obs, M = _matrices(_key(sections), BLOCK)
    L = BLOCK
    nb = -(-n // L)
    blocks = np.zeros((C * nb, L), np.float32)  # channel-major, one block a row
    blocks.reshape(C, nb * L)[:, :n] = x
    ends = np.empty((C * nb, G.shape[0]))  # [blocks, state]: the state each block ends in from zero
    for a in range(0, C * nb, CHUNK_BLOCKS):
        ends[a : a + CHUNK_BLOCKS] = blocks[a : a + CHUNK_BLOCKS].astype(np.float64) @ G.T  # float64: the states carry on
    starts = _start_states(ends.reshape(C, nb, -1), M).reshape(C * nb, -1)
    for a in range(0, C * nb, CHUNK_BLOCKS):
        b = min(C * nb, a + CHUNK_BLOCKS)
        y = starts[a:b] @ Obs.T  # float64
        y += blocks[a:b] @ T.T
        blocks[a:b] = y
    return blocks.reshape(C, nb * L)[:, :n]


def _start_states(ends: np.ndarray, M: np.ndarray) -> np.ndarray:
    """``[C, blocks, d]`` float64: each block's start state ``s[j] = sum_{i<j} M^(j-1-i) e[i]``
    from the zero-start end states ``ends [C, blocks, d]`` (an inclusive scan by doubling:
    after the round with ``M^k`` each state holds the last ``2k`` blocks' contributions)."""
    s = np.zeros_like(ends)
    s[:, 1:] = ends[:, :-1]
    power, k = M, 1
    while k < s.shape[1]:
        s[:, k:] += s[:, :-k] @ power.T
        power, k = power @ power, 2 * k
    return s


def _key(sections: Sections) -> tuple[tuple[float, ...], ...]:
    """The sections as plain floats, normalised by ``a[0]`` (a hashable cache key)."""
    out = []
    for b, a in sections:
        b = np.asarray(b, np.float64).reshape(-1)
        a = np.asarray(a, np.float64).reshape(-1)
        if b.size != 3 or a.size != 3 or a[0] == 0.0 or not (np.isfinite(a).all() and np.isfinite(b).all()):
            raise ValueError("a biquad section needs three finite b and three finite a coefficients, a[0] != 0")
        out.append(tuple((b / a[0]).tolist()) + tuple((a[1:] / a[0]).tolist()))
    return tuple(out)


@lru_cache(maxsize=16)
def _matrices(key: tuple[tuple[float, ...], ...], L: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(T [L, L] float32, G [d, L], Obs [L, d], M [d, d] float64)`` of the
    cascade ``key`` (:func:`_key`) for blocks of ``L`` samples (module docstring)."""
    A, B, Cv, D = _state_space(key)
    d = A.shape[0]
    Obs = np.empty((L, d))  # Obs[n] = C A^n: the output n samples after a block starts, per unit of state
    P = np.eye(d)
    for i in range(L):
        Obs[i] = Cv @ P
        P = A @ P
    h = np.empty(L)  # impulse response: h[0] = D, h[k] = C A^(k-1) B
    h[0] = D
    h[1:] = Obs[:-1] @ B
    T = np.zeros((L, L))
    for k in range(L):
        T[np.arange(k, L), np.arange(L - k)] = h[k]
    G = np.empty((d, L))  # G[:, m] = A^(L-1-m) B: a block's end state per unit of its input at m
    v = B.copy()
    for m in range(L - 1, -1, -1):
        G[:, m] = v
        v = A @ v
    return T.astype(np.float32), G, Obs, P


def _state_space(key: tuple[tuple[float, ...], ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """``(A, B, C, D)`` of the cascade: ``state' = A state + B x``, ``y = C state + D x``.

    One section in transposed direct form II, ``y = b0 x + z1``, ``z1' = b1 x - a1 y + z2``,
    ``z2' = b2 x - a2 y``, has ``A = [[-a1, 1], [-a2, 0]]``, ``B = [b1 - a1 b0, b2 - a2 b0]``,
    ``C = [1, 0]``, ``D = b0``; a section fed by the cascade before it takes that cascade's
    output ``C state + D x`` as its input."""
    A = np.zeros((0, 0))
    B = np.zeros(0)
    Cv = np.zeros(0)
    D = 1.0
    for b0, b1, b2, a1, a2 in key:
        As = np.array([[-a1, 1.0], [-a2, 0.0]])
        Bs = np.array([b1 - a1 * b0, b2 - a2 * b0])
        d = A.shape[0]
        grown = np.zeros((d + 2, d + 2))
        grown[:d, :d] = A
        grown[d:, :d] = np.outer(Bs, Cv)
        grown[d:, d:] = As
        A, B = grown, np.concatenate([B, Bs * D])
        Cv, D = np.concatenate([b0 * Cv, [1.0, 0.0]]), b0 * D
    return A, B, Cv, D
