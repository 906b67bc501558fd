"""Chapter 6's unrolled Re-WKV: the matrix is the op, and the neighbour distances."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stylelab import scan_orders
from stylelab.book import rwkv_figures as rf
from stylelab.rwkv import re_wkv


@pytest.mark.parametrize("scan", ["raster", "s-scan"])
def test_re_wkv_matrix_is_the_op(scan):
    g = torch.Generator().manual_seed(0)
    h, w = 5, 6
    k = torch.randn(h * w, generator=g, dtype=torch.float64) * 3
    v = torch.randn(h * w, generator=g, dtype=torch.float64)
    decay = torch.tensor([30.0, -8.0, 5.0], dtype=torch.float64)
    first = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    P = rf.re_wkv_matrix(k, decay, first, (h, w), scan)
    want = re_wkv(k.view(1, -1, 1), v.view(1, -1, 1), decay[:, None], first[:, None], (h, w),
                  scan, backend="reference").view(-1)  # fmt: skip
    torch.testing.assert_close(P @ v, want, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(P.sum(1), torch.ones(h * w, dtype=torch.float64))  # averages


def test_neighbour_distances():
    raster = rf.neighbour_distances(scan_orders.raster(4, 6), 4, 6)
    assert raster == {"right 1": 1.0, "down 1": 6.0, "right 2": 2.0, "down 2": 12.0}
    s = rf.neighbour_distances(scan_orders.s_scan(4, 6), 4, 6)
    assert s["right 2"] == 1.0 and s["down 2"] == 3.0  # a 2x3 sub-grid, row-major


def test_weight_spread():
    assert rf.weight_spread(np.array([1.0, 0.0, 0.0, 0.0])) == 0.25
    assert rf.weight_spread(np.ones(10)) == pytest.approx(0.9)  # 9 of 10 equal weights
