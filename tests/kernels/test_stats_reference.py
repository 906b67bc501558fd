"""The reference loops themselves (the spec the package is tested against), checked against
independent closed forms (numpy's mean/var(ddof=1), einsum) and hand-worked examples.

If these fail, every test that imports the loops is checking the package against a wrong spec.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from stylelab.kernels.adain_reference import adain_reference
from stylelab.kernels.stats_reference import as_float64, gram_reference, mean_std_reference

# Both sides are float64 on at most 2·3·3·3 values of size <= 100: a sum's round-off is about
# (count)·1e-16·100 < 1e-12 absolute; 1e-12 relative and 1e-10 absolute leave room.
TOL = dict(rtol=1e-12, atol=1e-10)

# Tiny maps, every value drawn on its own (fill=nothing: no shared background value).
values = st.floats(-100, 100, allow_subnormal=False)


@st.composite
def tiny(draw, n=None, c=None, min_positions=1):
    n = n or draw(st.integers(1, 2))
    c = c or draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    if h * w < min_positions:
        w = min_positions
    return draw(arrays(np.float64, (n, c, h, w), elements=values, fill=st.nothing()))


# --------------------------------------------------------------------------- closed forms


@settings(max_examples=40, deadline=None)
@given(tiny(min_positions=2), st.sampled_from([0.0, 1e-5, 1.0]))
def test_mean_std_reference_is_mean_and_unbiased_std_with_eps_inside(feat, eps):
    mean, std = mean_std_reference(feat, eps)
    flat = feat.reshape(*feat.shape[:2], -1)
    assert mean.shape == std.shape == (*feat.shape[:2], 1, 1)
    assert mean.dtype == std.dtype == np.float64
    np.testing.assert_allclose(mean[..., 0, 0], flat.mean(-1), **TOL)
    np.testing.assert_allclose(std[..., 0, 0], np.sqrt(flat.var(-1, ddof=1) + eps), **TOL)


@settings(max_examples=40, deadline=None)
@given(tiny())
def test_gram_reference_is_f_ft_over_positions(feat):
    flat = feat.reshape(*feat.shape[:2], -1)  # (N, C, M)
    want = np.einsum("ncp,ndp->ncd", flat, flat) / flat.shape[-1]
    got = gram_reference(feat)
    assert got.shape == want.shape and got.dtype == np.float64
    # sums of squares of values <= 100: 100² scale, so the absolute room grows with it
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-10 * 100**2)


@settings(max_examples=40, deadline=None)
@given(st.data(), st.booleans())
def test_adain_reference_is_the_closed_form(data, style_batch_one):
    x = data.draw(tiny(min_positions=2), label="x")
    n, c = x.shape[:2]
    y = data.draw(tiny(n=1 if style_batch_one else n, c=c, min_positions=2), label="y")
    eps = 1e-5
    fx, fy = x.reshape(n, c, -1), y.reshape(y.shape[0], c, -1)
    mx, my = fx.mean(-1)[..., None, None], fy.mean(-1)[..., None, None]
    sx = np.sqrt(fx.var(-1, ddof=1) + eps)[..., None, None]
    sy = np.sqrt(fy.var(-1, ddof=1) + eps)[..., None, None]
    want = sy * (x - mx) / sx + my  # a batch-1 style broadcasts over the contents
    got = adain_reference(x, y, eps)
    assert got.shape == x.shape and got.dtype == np.float64
    # The two means may sum in different orders (numpy sums pairwise): x - mx is off by
    # ~1e-16·max|x|, which the division by sx (as small as sqrt(eps)) and the product with sy
    # magnify; my and sy are off by ~1e-16 of their size. 1e-12 of those magnitudes leaves room.
    bound = 1e-12 * (np.abs(fx).max(-1)[..., None, None] * sy / sx + np.abs(my) + sy)
    assert np.all(np.abs(got - want) <= bound)


# --------------------------------------------------------------------------- by hand


def test_mean_std_reference_by_hand():
    feat = np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 1, 2, 2)
    mean, std = mean_std_reference(feat, eps=0.0)
    # mean 2.5; squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5; unbiased: 5 / 3
    assert mean[0, 0, 0, 0] == 2.5
    assert std[0, 0, 0, 0] == pytest.approx(math.sqrt(5 / 3), rel=1e-15)
    # eps is added to the variance, inside the root: a constant map has std sqrt(eps)
    _, std = mean_std_reference(np.full((1, 2, 3, 3), 7.0), eps=1e-4)
    np.testing.assert_allclose(std, 1e-2, rtol=1e-12)


def test_gram_reference_by_hand():
    # two channels over two positions: F = [[1, 2], [3, 4]]
    feat = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 2, 1, 2)
    # G = F Fᵀ / 2 = [[1+4, 3+8], [3+8, 9+16]] / 2
    np.testing.assert_array_equal(gram_reference(feat)[0], [[2.5, 5.5], [5.5, 12.5]])


def test_adain_reference_by_hand():
    x = np.array([0.0, 1.0, 2.0]).reshape(1, 1, 1, 3)  # mean 1, unbiased var 1
    y = np.array([10.0, 14.0]).reshape(1, 1, 1, 2)  # mean 12, unbiased var 8
    got = adain_reference(x, y, eps=0.0)
    # sqrt(8) · (x - 1) / 1 + 12
    np.testing.assert_allclose(got[0, 0, 0], [12 - math.sqrt(8), 12, 12 + math.sqrt(8)])


def test_as_float64_takes_tensors_and_arrays_without_rounding():
    t = torch.tensor([[[[0.1, 1e-30]]]], dtype=torch.float32)
    got = as_float64(t)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, t.numpy().astype(np.float64))  # the float32 values
    assert as_float64([[[[1, 2]]]]).dtype == np.float64
