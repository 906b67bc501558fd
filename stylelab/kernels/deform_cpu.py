"""Deform-Shifting as numba CPU kernels: forward and backward.

The same sum as `deform_reference.deform_shift_reference` (read it for the math and the
border convention). Each output reads 9 bilinear samples of 4 neighbours: 36 gathers and
no reuse between pixels, since every pixel has its own offsets; the kernel is therefore
bound by scattered loads, and the win over the torch tier comes from not materialising
torchvision's im2col buffer (B·C·9·H·W) and its batched matmul.

The forward runs one parallel task per (batch, channel); the backward
(`deform_shift_backward`) two passes, its docstring says why. Sums are float64.
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


@njit(cache=True, inline="always")
def _bilinear_grad(img, height, width, y, x):
    """(value, d value / d y, d value / d x) of `_bilinear` at (y, x); zero outside. At an
    integer position the derivative is the one from the right (floor), as torchvision's."""
    if y <= -1.0 or y >= height or x <= -1.0 or x >= width:
        return 0.0, 0.0, 0.0
    y0 = int(math.floor(y))
    x0 = int(math.floor(x))
    ly = y - y0
    lx = x - x0
    v00 = img[y0, x0] if y0 >= 0 and x0 >= 0 else 0.0
    v01 = img[y0, x0 + 1] if y0 >= 0 and x0 + 1 < width else 0.0
    v10 = img[y0 + 1, x0] if y0 + 1 < height and x0 >= 0 else 0.0
    v11 = img[y0 + 1, x0 + 1] if y0 + 1 < height and x0 + 1 < width else 0.0
    value = (1 - ly) * ((1 - lx) * v00 + lx * v01) + ly * ((1 - lx) * v10 + lx * v11)
    dy = ((1 - lx) * v10 + lx * v11) - ((1 - lx) * v00 + lx * v01)
    dx = (1 - ly) * (v01 - v00) + ly * (v11 - v10)
    return value, dy, dx


@njit(cache=True, inline="always")
def _scatter_bilinear(grad_img, height, width, y, x, g):
    """Add g times the bilinear weights of (y, x) into grad_img's four neighbours."""
    if y <= -1.0 or y >= height or x <= -1.0 or x >= width:
        return
    y0 = int(math.floor(y))
    x0 = int(math.floor(x))
    ly = y - y0
    lx = x - x0
    if y0 >= 0:
        if x0 >= 0:
            grad_img[y0, x0] += (1.0 - ly) * (1.0 - lx) * g
        if x0 + 1 < width:
            grad_img[y0, x0 + 1] += (1.0 - ly) * lx * g
    if y0 + 1 < height:
        if x0 >= 0:
            grad_img[y0 + 1, x0] += ly * (1.0 - lx) * g
        if x0 + 1 < width:
            grad_img[y0 + 1, x0 + 1] += ly * lx * g


@njit(parallel=True, cache=True)
def deform_shift_backward(x, offset, weight, mask, has_mask, grad_out):
    """Gradients (dx, doffset, dweight, dmask) of `deform_shift_forward` for upstream grad_out.

    Two parallel passes, so that no two tasks write one element: per (batch, channel) the
    gradients that belong to that channel (dx, by scattering each sample's weight back to its
    four neighbours; a per-(batch, channel) slice of dweight), then per (batch, row) the
    gradients shared by a group's channels (doffset, dmask), summing over the channels.
    """
    batch, channels, height, width = x.shape
    groups = offset.shape[1] // 18
    per_group = channels // groups
    dx = np.zeros(x.shape)
    dw_parts = np.zeros((batch, channels, 9))
    for bc in prange(batch * channels):
        b, c = bc // channels, bc % channels
        g = c // per_group
        img = x[b, c]
        for yy in range(height):
            for xx in range(width):
                go = float(grad_out[b, c, yy, xx])
                for i in range(9):
                    py = yy + i // 3 - 1 + float(offset[b, 2 * (g * 9 + i), yy, xx])
                    px = xx + i % 3 - 1 + float(offset[b, 2 * (g * 9 + i) + 1, yy, xx])
                    m = float(mask[b, g * 9 + i, yy, xx]) if has_mask else 1.0
                    w = float(weight[c, 0, i // 3, i % 3])
                    _scatter_bilinear(dx[b, c], height, width, py, px, go * w * m)
                    dw_parts[b, c, i] += go * m * _bilinear(img, height, width, py, px)
    doffset = np.zeros(offset.shape)
    dmask = np.zeros((batch, 9 * groups, height, width))
    for by in prange(batch * height):
        b, yy = by // height, by % height
        for c in range(channels):
            g = c // per_group
            img = x[b, c]
            for xx in range(width):
                go = float(grad_out[b, c, yy, xx])
                for i in range(9):
                    oy_ch, ox_ch = 2 * (g * 9 + i), 2 * (g * 9 + i) + 1
                    py = yy + i // 3 - 1 + float(offset[b, oy_ch, yy, xx])
                    px = xx + i % 3 - 1 + float(offset[b, ox_ch, yy, xx])
                    m = float(mask[b, g * 9 + i, yy, xx]) if has_mask else 1.0
                    w = float(weight[c, 0, i // 3, i % 3])
                    value, d_y, d_x = _bilinear_grad(img, height, width, py, px)
                    doffset[b, oy_ch, yy, xx] += go * w * m * d_y
                    doffset[b, ox_ch, yy, xx] += go * w * m * d_x
                    dmask[b, g * 9 + i, yy, xx] += go * w * value
    dweight = dw_parts.sum(axis=0).reshape(channels, 1, 3, 3)
    return dx, doffset, dweight, dmask
