"""The attention chapter's picture helpers: rows that are distributions, and figures built from
small random layers."""

from __future__ import annotations

import pytest
import torch

from stylelab.attention import A2K, SANet
from stylelab.book import attention_figures as af


def maps(c=8, h=4, w=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(1, c, h, w, generator=g), torch.randn(1, c, 4, 4, generator=g)


def test_rows_are_distributions_over_the_style():
    q, k = maps()
    row = af.query_row(q, k, heads=2, index=5)
    da = af.da_row(q, k, heads=2, s=2, alpha=1.0, beta=0.0, index=5)
    for r in (row, da):
        assert r.shape == (4, 4) and r.min() >= 0
        assert r.sum().item() == pytest.approx(1.0, abs=1e-6)
    # DA spreads a block's weight evenly over its pixels
    assert torch.allclose(da[0, 0], da[1, 1]) and torch.allclose(da[0, 0], da[0, 1])


def test_top_share_and_effective_keys():
    one_hot, uniform = torch.zeros(100), torch.full((100,), 0.01)
    one_hot[3] = 1.0
    assert af.top_share(one_hot) == 1.0 and af.top_share(uniform) == pytest.approx(0.01)
    assert af.effective_keys(one_hot) == pytest.approx(1.0)
    assert af.effective_keys(uniform) == pytest.approx(100.0)


def test_gate_mosaic_matches_and_copied_colours():
    fc, fs = maps()
    rgb = torch.rand(1, 3, 4, 4)
    gate, mosaic = af.gate_and_mosaic(fs, rgb, s=2, alpha=1.0, beta=0.0, heads=2)
    assert gate.shape == (4, 4) and 0 < gate.min() and gate.max() < 1
    assert mosaic.shape == (2, 2, 3) and mosaic.max() == pytest.approx(1.0)
    a2k, sanet = A2K(8, region=2, heads=2), SANet(8, heads=2)
    for layer, branch in ((sanet, "all_to_all"), (a2k, "da"), (a2k, "pa")):
        out = af.copied_colours(layer, fc, fs, rgb, branch)
        assert out.shape == (1, 3, 4, 6) and 0 <= out.min() and out.max() <= 1
    idx = af.pa_matches(a2k, fc, fs, 2)
    assert idx.shape == (6,) and int(idx.max()) < 4
    photo, style = torch.rand(1, 3, 16, 24), torch.rand(1, 3, 16, 16)
    fig = af.match_figure(photo, style, idx, 4, [0, 5], "a caption")
    assert len(fig.artists) == 2  # one arrow per picked block
    fig = af.query_figure(photo, style, (3, 4), [("all-to-all", torch.rand(4, 4))], "c")
    assert len(fig.axes) == 2


def test_crops():
    img = torch.rand(1, 3, 70, 130)
    assert af.crop_to_multiple(img, 64).shape[-2:] == (64, 128)
    torch.testing.assert_close(af.centre_crop(img, 64, 128), img[..., 3:67, 1:129])


def test_the_chapters_cuda_check_runs_in_the_simulator():
    """all-to-all and DA through the numba.cuda kernel, in numba's simulator (no GPU)."""
    from stylelab.book import scan_figures

    rows = dict(scan_figures.simulated_cuda_errors(seed=1, script=af.CUDA_SCRIPT))
    assert set(rows) == {"all-to-all", "distributed (DA)"}
    assert all(err < 1e-4 for err in rows.values()), rows  # float32 kernels, float64 truth
