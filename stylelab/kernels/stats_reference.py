"""Feature statistics as plain loops: the spec `stylelab.stats` is tested against.

Written to be read: float64, one position or one value at a time. For a feature map F
of shape (N, C, H, W) with M = H·W positions p (mechanisms.md §1.2):

    mu_c      = 1/M Σ_p F[c, p]
    sigma_c   = sqrt( 1/(M-1) Σ_p (F[c, p] - mu_c)² + eps )    unbiased variance, eps inside
    G[c, d]   = 1/M Σ_p F[c, p] F[d, p]                        the Gram matrix, (C, C)

Inputs are tensors or arrays; outputs are float64 numpy arrays.
"""

from __future__ import annotations

import math

import numpy as np


def as_float64(feat) -> np.ndarray:
    """A tensor (on any device) or array -> float64 numpy (N, C, H, W)."""
    if hasattr(feat, "detach"):
        feat = feat.detach().cpu().double().numpy()
    return np.asarray(feat, dtype=np.float64)


def mean_std_reference(feat, eps: float = 1e-5) -> tuple[np.ndarray, np.ndarray]:
    """(N, C, H, W) -> mu, sigma, each (N, C, 1, 1): one channel at a time."""
    x = as_float64(feat)
    n, c = x.shape[:2]
    mean, std = np.zeros((n, c, 1, 1)), np.zeros((n, c, 1, 1))
    for i in range(n):
        for ch in range(c):
            values = list(x[i, ch].ravel())  # the M values of one channel
            mu = sum(values) / len(values)
            var = sum((v - mu) ** 2 for v in values) / (len(values) - 1)  # unbiased
            mean[i, ch, 0, 0], std[i, ch, 0, 0] = mu, math.sqrt(var + eps)
    return mean, std


def gram_reference(feat) -> np.ndarray:
    """(N, C, H, W) -> (N, C, C): the average over positions of the outer product F_p F_pᵀ."""
    x = as_float64(feat)
    n, c, h, w = x.shape
    g = np.zeros((n, c, c))
    for i in range(n):
        for y in range(h):
            for xx in range(w):
                v = x[i, :, y, xx]  # (C,) the features at one position
                g[i] += np.outer(v, v)
    return g / (h * w)
