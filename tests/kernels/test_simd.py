"""kernels/simd.py: the vector exp is the scalar exp32 lane by lane."""

from __future__ import annotations

import numpy as np
from numba import njit

from stylelab.kernels import simd
from stylelab.kernels.ssm_cpu import FASTMATH, exp32


@njit(fastmath=FASTMATH)
def _exp8_array(x):
    out = np.empty_like(x)
    simd.exp8_into(x, out)
    return out


@njit(fastmath=FASTMATH)
def _exp32_array(x):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = exp32(x[i])
    return out


def test_exp8_is_exp32_bit_for_bit():
    edges = [-np.inf, -1000, -87.33, -87.0, -86.99, -86.98, -1e-6, 0, 1e-6]
    edges += [88.72, 88.7228, 88.73, 88.8, 100, np.inf]
    xs = np.concatenate([np.linspace(-90, 90, 40_001), edges])
    xs = np.concatenate([xs, np.zeros(-len(xs) % simd.LANES)]).astype(np.float32)
    got, want = _exp8_array(xs), _exp32_array(xs)
    assert got.view(np.int32).tolist() == want.view(np.int32).tolist()
