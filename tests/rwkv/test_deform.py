"""Deform-Shifting: the numba and torchvision tiers against the reference loop."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from stylelab.core.errors import StylelabError
from stylelab.rwkv import DeformShift, deform_shift


def _case(seed, batch, channels, h, w, groups, offset_scale, masked):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, channels, h, w, generator=g)
    offset = torch.randn(batch, 18 * groups, h, w, generator=g) * offset_scale
    weight = torch.randn(channels, 1, 3, 3, generator=g)
    mask = torch.rand(batch, 9 * groups, h, w, generator=g) if masked else None
    return x, offset, weight, mask


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    batch=st.integers(1, 2),
    groups=st.sampled_from([1, 2]),
    per_group=st.integers(1, 2),
    h=st.integers(1, 6),
    w=st.integers(1, 6),
    # offsets up to 0, ~1 and ~8 pixels: inside, across neighbours, far outside the image
    offset_scale=st.sampled_from([0.0, 1.0, 8.0]),
    masked=st.booleans(),
)
def test_tiers_match_reference(seed, batch, groups, per_group, h, w, offset_scale, masked):
    x, offset, weight, mask = _case(
        seed, batch, groups * per_group, h, w, groups, offset_scale, masked
    )
    want = deform_shift(x, offset, weight, mask, backend="reference")
    for backend in ("numba", "torch"):
        got = deform_shift(x, offset, weight, mask, backend=backend)
        # float32 in and out: 9 taps of 4 products each, values O(10): a few float32 ulps
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5, msg=backend)


def test_integer_offsets_are_shifted_convolutions():
    """An offset of exactly (0, +1) on every tap is the plain conv read one pixel right."""
    x, _, weight, _ = _case(0, 1, 3, 5, 7, 1, 0.0, False)
    offset = torch.zeros(1, 18, 5, 7)
    offset[:, 1::2] = 1.0  # x-offsets
    shifted = torch.nn.functional.pad(x[..., 1:], (0, 1))  # x(p + (0, 1)), zero at the border
    plain = torch.nn.functional.conv2d(shifted, weight, padding=1, groups=3)
    got = deform_shift(x, offset, weight, backend="numba")
    # the borders differ: at column 0 the deformable conv reads x[.., 0] where the conv of the
    # shifted image reads its zero pad, and near the right edge the reverse: compare the rest
    torch.testing.assert_close(got[..., 1:-2], plain[..., 1:-2], rtol=1e-5, atol=1e-5)


def test_zero_init_starts_as_half_a_plain_conv():
    layer = DeformShift(4)
    x = torch.randn(2, 4, 6, 5)
    plain = torch.nn.functional.conv2d(x, layer.weight, padding=1, groups=4)
    with torch.no_grad():
        torch.testing.assert_close(layer(x, backend="numba"), 0.5 * plain, rtol=1e-5, atol=1e-5)


def test_gradients_reach_the_offsets():
    layer = DeformShift(4)
    x = torch.randn(1, 4, 6, 6)
    layer(x, backend="numba").square().sum().backward()
    assert layer.offset.weight.grad.abs().sum() > 0
    with pytest.raises(StylelabError, match="no backward"):
        deform_shift(x.requires_grad_(), *_case(0, 1, 4, 6, 6, 1, 1.0, True)[1:], "reference")


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    groups=st.sampled_from([1, 2]),
    h=st.integers(1, 6),
    w=st.integers(1, 6),
    offset_scale=st.sampled_from([0.3, 1.0, 8.0]),
    masked=st.booleans(),
)
def test_numba_gradients_match_torchvision(seed, groups, h, w, offset_scale, masked):
    """dx, doffset, dweight, dmask of the numba backward against torchvision's autograd.
    Random offsets are never exact integers, where both take the derivative from one side."""
    inputs = _case(seed, 2, 2 * groups, h, w, groups, offset_scale, masked)
    grads = {}
    for backend in ("numba", "torch"):
        leaves = [t.double().requires_grad_() if t is not None else None for t in inputs]
        out = deform_shift(*leaves, backend=backend)
        (out * torch.linspace(-1, 1, out.numel()).view_as(out).double()).sum().backward()
        grads[backend] = [t.grad for t in leaves if t is not None]
    for got, want in zip(grads["numba"], grads["torch"]):
        # float64 throughout: sums of at most 9·C·H·W terms
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)


def test_bad_inputs():
    x, offset, weight, mask = _case(0, 1, 4, 5, 5, 1, 1.0, True)
    with pytest.raises(StylelabError, match="depthwise"):
        deform_shift(x, offset, weight[:2])
    with pytest.raises(StylelabError, match="18"):
        deform_shift(x, offset[:, :17], weight)
    with pytest.raises(StylelabError, match="mask"):
        deform_shift(x, offset, weight, mask[:, :8])
    with pytest.raises(StylelabError, match="NaN"):
        deform_shift(x, offset * float("nan"), weight)
    with pytest.raises(StylelabError, match="unknown backend"):
        deform_shift(x, offset, weight, backend="fortran")
    with pytest.raises(StylelabError, match="divide"):
        DeformShift(6, offset_groups=4)
