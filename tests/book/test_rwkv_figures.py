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


@pytest.mark.parametrize("shift,scan", [("deform", "s-scan"), ("omni", "raster")])
def test_spatial_mix_rows_are_the_layers_re_wkv(shift, scan):
    """The drawn row times the layer's values is the layer's Re-WKV output at that token."""
    from stylelab.rwkv import SpatialMix
    from stylelab.rwkv.blocks import _shifted

    torch.manual_seed(0)
    h, w, c = 4, 6, 5
    mix = SpatialMix(c, recurrence=2, shift=shift, scan=scan).double()
    x = torch.randn(1, h * w, c, dtype=torch.float64)
    xs = _shifted(mix.shift, x, (h, w), "torch")
    k, v = mix.key(xs), mix.value(xs)
    want = re_wkv(k, v, mix.spatial_decay, mix.spatial_first, (h, w), scan, backend="reference")
    for position in (0, 9, h * w - 1):
        rows = rf.spatial_mix_rows(mix, x, (h, w), position)  # (C, T)
        assert torch.allclose(rows.sum(1), torch.ones(c, dtype=torch.float64))  # averages
        assert torch.allclose((rows * v[0].T).sum(1), want[0, position], atol=1e-10)
    reads = rf.spatial_mix_reads(mix, x, (h, w), 9)
    assert reads.shape == (h, w) and np.isclose(reads.sum(), 1.0)


def test_offset_and_readers_figures_draw():
    img = np.zeros((32, 48, 3), dtype=np.uint8)
    offset, mask = torch.zeros(18, 4, 6), torch.ones(9, 4, 6)
    offset[1::2] = 1.0  # every tap one feature pixel right: arrows of 8 image pixels
    fig = rf.offset_figure(img, offset, mask, 8, "caption")
    assert "(0.0, 8.0) px" in fig.axes[0].get_title()  # the average arrow, in image pixels
    assert np.allclose(fig.axes[1].images[0].get_array(), 0.0)  # nothing follows the image
    offset[1, 0, 0] = 10.0  # one tap of one token moves: mask-weighted, 1/9 of it
    fig = rf.offset_figure(img, offset, mask, 8, "caption")
    assert fig.axes[1].images[0].get_array()[0, 0] > fig.axes[1].images[0].get_array()[1, 1]
    weights = np.ones((4, 6))
    style = torch.rand(1, 3, 32, 48)
    fig = rf.readers_figure(torch.rand(1, 3, 32, 48), style, (10, 10),
                            [("a", weights, "style"), ("b", weights, "content")], "c")  # fmt: skip
    assert [a.get_title() for a in fig.axes[1:]] == [
        "a\n(reads the style)",
        "b\n(reads the content)",
    ]


def test_decoder_reads_is_a_map_over_the_level_1_grid():
    from stylelab.encoders import load_encoder
    from stylelab.rwkv.style_rwkv import from_config

    torch.manual_seed(0)
    net = from_config(load_encoder("mobilenetv2"), {"dim": 4, "patch": 2, "width": 0.125})
    content, style = torch.rand(1, 3, 32, 48), torch.rand(1, 3, 32, 32)
    reads = rf.decoder_reads(net, content, style, position=5)
    assert reads.shape == (16, 24) and np.isclose(reads.sum(), 1.0) and (reads >= 0).all()
    rows = rf.decoder_reads(net, content, style, position=5, per_channel=True)
    assert rows.shape == (4, 16, 24) and np.allclose(rows.mean(0).numpy(), reads)
