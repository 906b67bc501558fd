"""Perceptual losses against naive loops (the spec), invariances, and errors."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import feature_values
from hypothesis import given, settings
from hypothesis import strategies as st

from stylelab import losses
from stylelab.core.errors import StylelabError
from stylelab.kernels.stats_reference import gram_reference, mean_std_reference

# float64 everywhere in the comparisons: the loops and the vectorised code then agree to
# round-off (~1e-15 relative); 1e-10 leaves room for the sums over a few hundred terms.
TOL = dict(rtol=1e-10, atol=1e-12)


def _feats(seed, n, shapes, scale=1.0):
    """{tap: (n, C, H, W)} float64 random features, one entry per (C, H, W) in shapes."""
    g = torch.Generator().manual_seed(seed)
    return {
        f"t{i}": torch.randn(n, *s, generator=g, dtype=torch.float64) * scale
        for i, s in enumerate(shapes)
    }


# --------------------------------------------------------------------------- strategies


def feature_maps(shape):
    """A float64 tensor of `shape` whose values hypothesis draws (conftest.feature_values):
    a failure shrinks to the values that cause it, not to a seed."""
    return feature_values(shape).map(torch.from_numpy)


def feature_dicts(n, shapes):
    """{tap: (n, C, H, W)}, one drawn map per (C, H, W) in shapes: what an encoder returns."""
    return st.fixed_dictionaries({f"t{i}": feature_maps((n, *s)) for i, s in enumerate(shapes)})


@st.composite
def features_and_style(draw):
    """(x, s): features of a batch of 1-2 images and of one style image, 1-3 taps."""
    shapes = draw(
        st.lists(
            st.tuples(st.integers(1, 4), st.integers(2, 4), st.integers(2, 4)),
            min_size=1,
            max_size=3,
        )
    )
    n = draw(st.integers(1, 2))
    return draw(feature_dicts(n, shapes)), draw(feature_dicts(1, shapes))


# --------------------------------------------------------------------------- the spec


def mse_loop(a, b):
    a, b = a.flatten(), b.flatten()
    return sum((x - y) ** 2 for x, y in zip(a, b)) / len(a)


# --------------------------------------------------------------------------- against the loops
# The Gram and mean/std loops are the package's reference loops (stylelab.kernels), the
# chapters' spec; they return float64 numpy arrays, so a batch-1 target broadcasts with numpy.


@settings(max_examples=15, deadline=None)
@given(features_and_style())
def test_gram_style_loss_matches_reference(pair):
    x, s = pair
    weights = {t: 0.5 + i for i, t in enumerate(x)}
    targets = losses.style_targets(s, list(s), "gram")
    got = losses.gram_style_loss(x, targets, weights)
    want = 0.0
    for t in x:
        g = gram_reference(x[t])
        want += weights[t] * mse_loop(g, np.broadcast_to(gram_reference(s[t]), g.shape))
    torch.testing.assert_close(got, torch.as_tensor(want, dtype=got.dtype), **TOL)


@settings(max_examples=15, deadline=None)
@given(features_and_style())
def test_mean_std_style_loss_matches_reference(pair):
    x, s = pair
    weights = {t: 2.0 - 0.5 * i for i, t in enumerate(x)}
    targets = losses.style_targets(s, list(s), "mean_std")
    got = losses.mean_std_style_loss(x, targets, weights)
    want = 0.0
    for t in x:
        mu, sd = mean_std_reference(x[t])
        mu_s, sd_s = mean_std_reference(s[t])
        mu_s, sd_s = np.broadcast_to(mu_s, mu.shape), np.broadcast_to(sd_s, sd.shape)
        want += weights[t] * (mse_loop(mu, mu_s) + mse_loop(sd, sd_s))
    torch.testing.assert_close(got, torch.as_tensor(want, dtype=got.dtype), **TOL)


@st.composite
def map_pairs(draw):
    """Two (2, C, H, W) float64 maps of the same drawn shape."""
    shape = (2, draw(st.integers(1, 3)), draw(st.integers(2, 6)), draw(st.integers(2, 6)))
    return draw(feature_maps(shape)), draw(feature_maps(shape))


@settings(max_examples=15, deadline=None)
@given(map_pairs())
def test_content_loss_and_tv_match_loops(pair):
    x, y = pair
    _, c, h, w = x.shape
    got = losses.content_loss({"a": x}, {"a": y}, "a")
    torch.testing.assert_close(got, torch.as_tensor(mse_loop(x, y), dtype=x.dtype), **TOL)
    dy = sum(abs(x[n, k, i + 1, j] - x[n, k, i, j]) for n in range(2) for k in range(c)
             for i in range(h - 1) for j in range(w)) / (2 * c * (h - 1) * w)  # fmt: skip
    dx = sum(abs(x[n, k, i, j + 1] - x[n, k, i, j]) for n in range(2) for k in range(c)
             for i in range(h) for j in range(w - 1)) / (2 * c * h * (w - 1))  # fmt: skip
    torch.testing.assert_close(losses.total_variation(x), torch.as_tensor(dy + dx), **TOL)


def test_style_loss_dispatches_by_kind():
    x, s = _feats(0, 1, [(3, 4, 4)]), _feats(1, 1, [(3, 4, 4)])
    for kind, fn in (("gram", losses.gram_style_loss), ("mean_std", losses.mean_std_style_loss)):
        t = losses.style_targets(s, ["t0"], kind)
        assert losses.style_loss(x, t, kind) == fn(x, t)


# --------------------------------------------------------------------------- properties


def test_style_losses_are_zero_at_the_target_and_positive_elsewhere():
    s = _feats(3, 1, [(4, 5, 5), (6, 3, 3)])
    other = _feats(4, 1, [(4, 5, 5), (6, 3, 3)])
    for kind in losses.STYLE_KINDS:
        t = losses.style_targets(s, list(s), kind)
        assert losses.style_loss(s, t, kind) == 0
        assert losses.style_loss(other, t, kind) > 0


def test_style_losses_ignore_where_things_are():
    """Statistics pool over positions: a spatial permutation of the features costs nothing."""
    s = _feats(5, 1, [(4, 6, 6)])
    f = s["t0"].flatten(2)
    perm = torch.randperm(36, generator=torch.Generator().manual_seed(0))
    shuffled = {"t0": f[:, :, perm].view(1, 4, 6, 6)}
    for kind in losses.STYLE_KINDS:
        t = losses.style_targets(s, ["t0"], kind)
        assert losses.style_loss(shuffled, t, kind).item() == pytest.approx(0, abs=1e-12)
    assert losses.content_loss(shuffled, s, "t0") > 0  # the content loss does care


@pytest.mark.parametrize("kind", losses.STYLE_KINDS)
def test_tap_balance_makes_losses_scale_free(kind):
    """Scaling one tap's features by k changes the raw loss, not the balanced one."""
    x, s = _feats(6, 1, [(3, 4, 4), (5, 3, 3)]), _feats(7, 1, [(3, 4, 4), (5, 3, 3)])
    k = 1000.0
    x2, s2 = dict(x, t1=x["t1"] * k), dict(s, t1=s["t1"] * k)
    t, t2 = losses.style_targets(s, list(s), kind), losses.style_targets(s2, list(s2), kind)
    balanced = losses.style_loss(x, t, kind, losses.tap_balance(t, kind))
    balanced2 = losses.style_loss(x2, t2, kind, losses.tap_balance(t2, kind))
    # Gram: exact up to round-off. mean/std: eps=1e-5 is added to the variance (~1 here)
    # and does not scale with k, so invariance holds to ~1e-5 relative.
    rtol = 1e-9 if kind == "gram" else 1e-4
    torch.testing.assert_close(balanced, balanced2, rtol=rtol, atol=0)
    assert losses.style_loss(x2, t2, kind) > 100 * losses.style_loss(x, t, kind)


def test_one_pixel_shifts_are_the_four_crops():
    x = torch.arange(2 * 1 * 3 * 4, dtype=torch.float64).view(2, 1, 3, 4)
    v = losses.one_pixel_shifts(x)  # (8, 1, 2, 3)
    assert v.shape == (8, 1, 2, 3)
    for k, (dy, dx) in enumerate(losses.SHIFTS):
        assert torch.equal(v[2 * k : 2 * k + 2], x[:, :, dy : dy + 2, dx : dx + 3])


def test_shift_averaged_is_the_mean_over_aligned_crops():
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(1, 3, 7, 9, generator=g), torch.rand(1, 3, 7, 9, generator=g)
    got = losses.shift_averaged(F.mse_loss)(x, y)
    want = sum(F.mse_loss(x[..., a : a + 6, b : b + 8], y[..., a : a + 6, b : b + 8])
               for a, b in losses.SHIFTS) / 4  # fmt: skip
    torch.testing.assert_close(got, want)
    assert losses.shift_averaged(F.mse_loss)(x, x) == 0  # both arguments shifted alike


def test_shift_averaging_sees_the_checkerboard_a_stride_2_loss_misses():
    """The reason shift averaging exists, in miniature.

    A stride-2 "encoder" (keep pixels (2i, 2j)) cannot see a pattern that lives only on odd
    pixels, so a loss on its features leaves that pattern free; averaged over the four
    one-pixel shifts, every pixel lands on the stride-2 grid in some shift.
    """

    def stride2_loss(x, c):
        return F.mse_loss(x[..., ::2, ::2], c[..., ::2, ::2])

    c = torch.rand(1, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    odd = torch.zeros(8, 8)
    odd[1::2, 1::2] = 0.5  # lives only where the stride-2 grid does not look
    x = c + odd
    assert stride2_loss(x, c) == 0
    assert losses.shift_averaged(stride2_loss)(x, c) > 0.01


# --------------------------------------------------------------------------- errors


def test_errors_say_what_is_wrong():
    f = _feats(0, 1, [(3, 4, 4)])
    with pytest.raises(StylelabError, match="no tap"):
        losses.content_loss(f, f, "relu9_9")
    with pytest.raises(StylelabError, match="unknown style loss"):
        losses.style_targets(f, ["t0"], "wasserstein")
    with pytest.raises(StylelabError, match="no taps given"):
        losses.style_targets(f, [], "gram")
    t = losses.style_targets(f, ["t0"], "gram")
    with pytest.raises(StylelabError, match="no style weight for tap 't0'"):
        losses.gram_style_loss(f, t, {"other": 1.0})
    with pytest.raises(StylelabError, match=r"\(N, C, H, W\)"):
        losses.total_variation(torch.zeros(3, 4, 4))
    with pytest.raises(StylelabError, match="H>=2"):
        losses.one_pixel_shifts(torch.zeros(1, 3, 1, 4))


def test_tap_balance_survives_a_dead_tap():
    f = {"dead": torch.zeros(1, 2, 3, 3)}
    w = losses.tap_balance(losses.style_targets(f, ["dead"], "gram"))
    assert math.isfinite(w["dead"]) and w["dead"] > 0
