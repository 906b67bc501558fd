"""Deform-Shifting by its definition: a depthwise 3x3 deformable convolution as Python loops.

For each output pixel p0 = (y, x) of channel c, tap i at grid offset p_i = (dy, dx) in
{-1, 0, 1}², learned offset Δp_i(p0) and mask m_i(p0) (mechanisms.md §5.5):

    out_c(p0) = Σ_i  w_{c,i} · m_i(p0) · x_c(p0 + p_i + Δp_i(p0))

x_c at a fractional position is bilinear in its four integer neighbours; a neighbour outside
the image counts as 0, and a position at or beyond one pixel outside the border gives 0 (the
convention of torchvision.ops.deform_conv2d, which the torch tier calls).

Offsets are laid out as torchvision's: channel 2·(g·9 + i) is tap i's y-offset and the next
channel its x-offset, for offset group g; the C channels split into G equal groups.
Written for reading: plain Python floats, tiny inputs only (B·C·H·W·9 Python steps).
"""

from __future__ import annotations

import math


def bilinear(img, height: int, width: int, y: float, x: float) -> float:
    """img[y][x] at a fractional position, zero outside."""
    if y <= -1 or y >= height or x <= -1 or x >= width:
        return 0.0
    y0, x0 = math.floor(y), math.floor(x)
    ly, lx = y - y0, x - x0
    total = 0.0
    for yy, wy in ((y0, 1 - ly), (y0 + 1, ly)):
        for xx, wx in ((x0, 1 - lx), (x0 + 1, lx)):
            if 0 <= yy < height and 0 <= xx < width:
                total += wy * wx * img[yy][xx]
    return total


def deform_shift_reference(x, offset, weight, mask=None) -> list:
    """x [B][C][H][W], offset [B][18·G][H][W], weight [C][1][3][3], mask [B][9·G][H][W] or None.

    Returns nested lists [B][C][H][W].
    """
    batch, channels, height, width = len(x), len(x[0]), len(x[0][0]), len(x[0][0][0])
    groups = len(offset[0]) // 18
    per_group = channels // groups
    out = [[[[0.0] * width for _ in range(height)] for _ in range(channels)] for _ in range(batch)]
    for b in range(batch):
        for c in range(channels):
            g = c // per_group
            for y in range(height):
                for xc in range(width):
                    total = 0.0
                    for i in range(9):
                        dy, dx = i // 3 - 1, i % 3 - 1
                        oy = offset[b][2 * (g * 9 + i)][y][xc]
                        ox = offset[b][2 * (g * 9 + i) + 1][y][xc]
                        m = 1.0 if mask is None else mask[b][g * 9 + i][y][xc]
                        sample = bilinear(x[b][c], height, width, y + dy + oy, xc + dx + ox)
                        total += weight[c][0][dy + 1][dx + 1] * m * sample
                    out[b][c][y][xc] = total
    return out
