"""Channel statistics, Gram matrices and colour transfer, against the reference loops."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import feature_values, rgb_mean_cov
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from stylelab.core.errors import StylelabError
from stylelab.kernels.stats_reference import gram_reference, mean_std_reference
from stylelab.stats import gram, match_color, mean_std, mvn

# float32 sums over at most a few hundred values: relative error ~1e-6; 1e-4 leaves room.
RTOL, ATOL = 1e-4, 1e-5


@st.composite
def feats(draw, channels=None, min_positions=2):
    n = draw(st.integers(1, 3))
    c = channels or draw(st.integers(1, 6))
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    if h * w < min_positions:
        w = min_positions
    unit = draw(feature_values((n, c, h, w)))  # drawn values, |v| <= 3
    scale = draw(st.sampled_from([1e-3, 1.0, 1e3]))  # extreme magnitudes too
    return torch.from_numpy(unit * scale + draw(st.floats(-5, 5))).float()


@settings(max_examples=60, deadline=None)
@given(feats())
def test_mean_std_matches_reference(feat):
    mean, std = mean_std(feat)
    ref_mean, ref_std = mean_std_reference(feat)
    assert mean.shape == std.shape == (*feat.shape[:2], 1, 1)
    scale = feat.abs().max().item()  # mean of values ~scale: absolute error ~1e-6 * scale
    np.testing.assert_allclose(mean.numpy(), ref_mean, rtol=RTOL, atol=ATOL * max(scale, 1))
    np.testing.assert_allclose(std.numpy(), ref_std, rtol=RTOL, atol=ATOL)


def test_eps_is_added_to_the_variance_not_the_std():
    const = torch.full((1, 2, 4, 4), 3.0)
    mean, std = mean_std(const, eps=1e-4)
    assert torch.allclose(mean, torch.tensor(3.0))
    assert torch.allclose(std, torch.tensor(1e-2))  # sqrt(0 + 1e-4), not 0 + 1e-4


@settings(max_examples=40, deadline=None)
@given(feats())
def test_mvn_gives_zero_mean_unit_std(feat):
    out = mvn(feat)
    ref_mean, ref_std = mean_std_reference(feat)
    var = ref_std**2 - 1e-5
    # Dividing by sqrt(var + eps) leaves std sqrt(var / (var + eps)), not exactly 1.
    expected_std = np.sqrt(var / (var + 1e-5))
    m, s = mean_std_reference(out, eps=0.0)
    # float32 rounds x - mean to ~1e-6 * |x|; the division by sigma magnifies that.
    tol = 1e-6 * feat.abs().max().item() / ref_std + 1e-5
    assert np.all(np.abs(m) <= tol)
    assert np.all(np.abs(s - expected_std) <= tol + 1e-3 * expected_std)


@settings(max_examples=60, deadline=None)
@given(feats(min_positions=1))
def test_gram_matches_reference_symmetric_psd(feat):
    g = gram(feat)
    ref = gram_reference(feat)
    assert g.shape == (feat.shape[0], feat.shape[1], feat.shape[1])
    scale = (feat.double() ** 2).mean().item()
    np.testing.assert_allclose(g.numpy(), ref, rtol=RTOL, atol=ATOL * max(scale, 1))
    # BLAS may sum F F^T's two triangles in different orders: symmetric to float32 round-off.
    assert torch.allclose(g, g.transpose(1, 2), rtol=1e-6, atol=1e-6 * max(scale, 1))
    evals = np.linalg.eigvalsh(ref)  # PSD: F F^T / HW has no negative eigenvalue
    assert evals.min() >= -1e-9 * max(scale, 1)
    evals32 = torch.linalg.eigvalsh(g.double())
    assert evals32.min() >= -1e-5 * max(scale, 1)


@st.composite
def rgb_images(draw):
    h, w = draw(st.integers(2, 24)), draw(st.integers(2, 24))
    mix = draw(arrays(np.float64, (3, 3), elements=st.floats(-1, 1)))
    mix = mix * draw(st.floats(0.05, 0.5))  # correlated channels
    x = np.einsum("dc,nchw->ndhw", mix, draw(feature_values((1, 3, h, w))))
    offset = draw(arrays(np.float64, (1, 3, 1, 1), elements=st.floats(0, 1)))
    return torch.from_numpy(x + offset).float()


def match_color_reference(source, target, eps=1e-5):
    """CORAL in float64 numpy with scipy's general matrix square root."""
    from scipy.linalg import sqrtm

    mean_s, cov_s = (v[0].numpy() for v in rgb_mean_cov(source))
    mean_t, cov_t = (v[0].numpy() for v in rgb_mean_cov(target))
    eye = np.eye(3) * eps
    a = np.real(sqrtm(cov_t + eye)) @ np.linalg.inv(np.real(sqrtm(cov_s + eye)))
    x = source[0].double().reshape(3, -1).numpy()
    return (a @ (x - mean_s[:, None]) + mean_t[:, None]).reshape(source.shape)


@settings(max_examples=60, deadline=None)
@given(rgb_images(), rgb_images())
def test_match_color_copies_target_mean_and_covariance(source, target):
    out = match_color(source, target, clamp=False)
    assert out.shape == source.shape and out.dtype == source.dtype
    # Against the reference: float32 output, values of order 1-10: 1e-4 absolute.
    np.testing.assert_allclose(out.numpy(), match_color_reference(source, target), atol=1e-4)
    mean_o, cov_o = rgb_mean_cov(out)
    mean_t, cov_t = rgb_mean_cov(target)
    np.testing.assert_allclose(mean_o, mean_t, atol=1e-4)
    # Both covariances get +eps*I before the roots, so the copy is not exact. With
    # S' = S + eps I, T' = T + eps I:  cov_out - T = eps (I - T'^1/2 S'^-1 T'^1/2),
    # whose size is at most eps (1 + |T'| / lambda_min(S')); plus float32 round-off.
    eps = 1e-5
    lam_s = torch.linalg.eigvalsh(rgb_mean_cov(source)[1])[0, 0].item() + eps
    lam_t = torch.linalg.eigvalsh(cov_t)[0, -1].item() + eps
    bound = eps * (1 + lam_t / lam_s) + 1e-5 * max(1.0, lam_t)
    assert (cov_o - cov_t).abs().max().item() <= bound


def test_match_color_on_photos_and_paintings_is_clamped_and_close():
    from stylelab.core.images import sample_content
    from stylelab.paintings import paint

    source = sample_content("chelsea", max_side=96)
    target = paint("brush", (64, 80), seed=1).tensor()
    out = match_color(source, target)
    assert out.shape == source.shape and 0 <= out.min() and out.max() <= 1
    mean_o, cov_o = rgb_mean_cov(out)
    mean_t, cov_t = rgb_mean_cov(target)
    # Clamping to [0, 1] moves the statistics a little: within 0.02 of the target.
    np.testing.assert_allclose(mean_o, mean_t, atol=0.02)
    np.testing.assert_allclose(cov_o, cov_t, atol=0.02)
    # Identity: a picture matched to itself is unchanged.
    assert torch.allclose(match_color(source, source), source, atol=1e-4)


def test_match_color_batches_against_one_or_many_targets():
    g = torch.Generator().manual_seed(0)
    source = torch.rand(2, 3, 8, 10, generator=g)
    one, two = torch.rand(1, 3, 5, 5, generator=g), torch.rand(2, 3, 6, 4, generator=g) * 0.5
    out = match_color(source, one, clamp=False)
    for i in range(2):
        ref = match_color(source[i : i + 1], one, clamp=False)
        assert torch.allclose(out[i : i + 1], ref, atol=1e-6)
    out2 = match_color(source, two, clamp=False)
    np.testing.assert_allclose(rgb_mean_cov(out2)[0], rgb_mean_cov(two)[0], atol=1e-4)


def test_errors_are_clear():
    with pytest.raises(StylelabError, match=r"4-D tensor \(N, C, H, W\)"):
        mean_std(torch.rand(3, 4, 4))
    with pytest.raises(StylelabError, match="at least 2 spatial positions"):
        mean_std(torch.rand(1, 3, 1, 1))
    with pytest.raises(StylelabError, match="at least 2 spatial positions"):
        mvn(torch.rand(1, 3, 1, 1))
    with pytest.raises(StylelabError, match="4-D"):
        gram(torch.rand(4, 4))
    assert gram(torch.rand(1, 3, 1, 1)).shape == (1, 3, 3)  # one position is enough for G
    with pytest.raises(StylelabError, match="RGB.*4 channels"):
        match_color(torch.rand(1, 4, 4, 4), torch.rand(1, 3, 4, 4))
    with pytest.raises(StylelabError, match="at least 2"):
        match_color(torch.rand(1, 3, 4, 4), torch.rand(1, 3, 1, 1))
    with pytest.raises(StylelabError, match="batch"):
        match_color(torch.rand(2, 3, 4, 4), torch.rand(3, 3, 4, 4))
