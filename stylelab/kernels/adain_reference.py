"""AdaIN as a plain loop over samples and channels: the spec `stylelab.adain.adain` is
tested against (mechanisms.md §2.1).

    AdaIN(x, y)[n, c] = sigma(y[n, c]) · (x[n, c] - mu(x[n, c])) / sigma(x[n, c]) + mu(y[n, c])

with mu the spatial mean and sigma = sqrt(unbiased variance + eps), as `stats.mean_std`.
x (N, C, H, W), y (N or 1, C, H', W'): a batch-1 style serves every content. float64.
"""

from __future__ import annotations

import math

import numpy as np

from stylelab.kernels.stats_reference import as_float64


def adain_reference(x, y, eps: float = 1e-5) -> np.ndarray:
    """x (N, C, H, W), y (N or 1, C, H', W') -> (N, C, H, W) float64."""
    x, y = as_float64(x), as_float64(y)
    out = np.empty_like(x)
    for n in range(x.shape[0]):
        ys = y[n if y.shape[0] > 1 else 0]
        for c in range(x.shape[1]):
            xc, yc = x[n, c], ys[c]  # (H, W), (H', W')
            mx, my = xc.mean(), yc.mean()
            sx = math.sqrt(((xc - mx) ** 2).sum() / (xc.size - 1) + eps)  # unbiased + eps
            sy = math.sqrt(((yc - my) ** 2).sum() / (yc.size - 1) + eps)
            out[n, c] = sy * (xc - mx) / sx + my
    return out
