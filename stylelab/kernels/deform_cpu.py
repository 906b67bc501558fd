"""Deform-Shifting forward as a numba CPU kernel: one parallel task per (batch, channel).

The same sum as `deform_reference.deform_shift_reference` (read it for the math and the
border convention). Each output reads 9 bilinear samples of 4 neighbours: 36 gathers and
no reuse between pixels, since every pixel has its own offsets; the kernel is therefore
bound by scattered loads, and the win over the torch tier comes from not materialising
torchvision's im2col buffer (B·C·9·H·W) and its batched matmul.

Forward only: training goes through the torch tier (torchvision.ops.deform_conv2d), whose
autograd gives the gradients of x, the offsets, the mask and the weight.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange


@njit(cache=True, inline="always")
def _bilinear(img, height, width, y, x):
    if y <= -1.0 or y >= height or x <= -1.0 or x >= width:
        return 0.0
    y0 = int(math.floor(y))
    x0 = int(math.floor(x))
    ly = y - y0
    lx = x - x0
    total = 0.0
    if y0 >= 0:
        if x0 >= 0:
            total += (1.0 - ly) * (1.0 - lx) * img[y0, x0]
        if x0 + 1 < width:
            total += (1.0 - ly) * lx * img[y0, x0 + 1]
    if y0 + 1 < height:
        if x0 >= 0:
            total += ly * (1.0 - lx) * img[y0 + 1, x0]
        if x0 + 1 < width:
            total += ly * lx * img[y0 + 1, x0 + 1]
    return total


@njit(parallel=True, cache=True)
def deform_shift_forward(x, offset, weight, mask, has_mask):
    """x (B, C, H, W), offset (B, 18G, H, W), weight (C, 1, 3, 3), mask (B, 9G, H, W)
    (ignored unless has_mask) -> out (B, C, H, W) in x's dtype, float64 sums."""
    batch, channels, height, width = x.shape
    groups = offset.shape[1] // 18
    per_group = channels // groups
    out = np.empty_like(x)
    for bc in prange(batch * channels):
        b, c = bc // channels, bc % channels
        g = c // per_group
        img = x[b, c]
        for y in range(height):
            for xc in range(width):
                total = 0.0
                for i in range(9):
                    dy = i // 3 - 1
                    dx = i % 3 - 1
                    oy = float(offset[b, 2 * (g * 9 + i), y, xc])
                    ox = float(offset[b, 2 * (g * 9 + i) + 1, y, xc])
                    m = float(mask[b, g * 9 + i, y, xc]) if has_mask else 1.0
                    s = _bilinear(img, height, width, y + dy + oy, xc + dx + ox)
                    total += float(weight[c, 0, dy + 1, dx + 1]) * m * s
                out[b, c, y, xc] = total
    return out
