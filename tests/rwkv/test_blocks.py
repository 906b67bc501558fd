"""SpatialMix, ChannelMix, Block: Re-WKV orders, official weights, backends, bad input."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from stylelab.core.errors import StylelabError
from stylelab.rwkv import Block, SpatialMix, bi_wkv, re_wkv
from stylelab.rwkv.re_wkv import pass_order
from stylelab.scan_orders import s_scan

# --- an independent transcription of Restore-RWKV's VRWKV_SpatialMix.forward -----------------


def official_bi_wkv(w, u, k, v, eps=1e-6):
    """The Vision-RWKV CUDA kernel's result, by its definition (dense, float64), EPS included:
    w, u already divided by T as the official caller passes them."""
    length = k.shape[1]
    t = torch.arange(length, dtype=torch.float64)
    dist = (t[:, None] - t[None, :]).abs()
    log_a = torch.where(dist == 0, u[:, None, None], -(dist - 1) * w[:, None, None])  # (C, T, T)
    logits = log_a[None] + k.permute(0, 2, 1)[:, :, None, :]  # (B, C, T, T)
    top = logits.amax(-1, keepdim=True)
    e = (logits - top).exp()
    num = (e * v.permute(0, 2, 1)[:, :, None, :]).sum(-1)
    return (num / (e.sum(-1) + eps * (-top[..., 0]).exp())).permute(0, 2, 1)


def official_forward(sd, x, resolution, training):
    h, w = resolution
    batch, length, channels = x.shape
    grid = x.permute(0, 2, 1).reshape(batch, channels, h, w)
    a = sd["omni_shift.alpha"]
    if training:
        dw = {n: sd[f"omni_shift.conv{n}x{n}.weight"] for n in (1, 3, 5)}
        grid = (
            a[0] * grid
            + a[1] * F.conv2d(grid, dw[1], groups=channels)
            + a[2] * F.conv2d(grid, dw[3], padding=1, groups=channels)
            + a[3] * F.conv2d(grid, dw[5], padding=2, groups=channels)
        )
    else:  # the eval path: reparam_5x5 then conv5x5_reparam
        ident = F.pad(torch.ones_like(sd["omni_shift.conv1x1.weight"]), (2, 2, 2, 2))
        fused = (
            a[0] * ident
            + a[1] * F.pad(sd["omni_shift.conv1x1.weight"], (2, 2, 2, 2))
            + a[2] * F.pad(sd["omni_shift.conv3x3.weight"], (1, 1, 1, 1))
            + a[3] * sd["omni_shift.conv5x5.weight"]
        )
        grid = F.conv2d(grid, fused, padding=2, groups=channels)
    xs = grid.reshape(batch, channels, length).permute(0, 2, 1)
    k, v, r = (xs @ sd[f"{n}.weight"].T for n in ("key", "value", "receptance"))
    for j in range(sd["spatial_decay"].shape[0]):
        wj, uj = sd["spatial_decay"][j] / length, sd["spatial_first"][j] / length
        if j % 2 == 0:
            v = official_bi_wkv(wj, uj, k, v)
        else:  # 'b (h w) c -> b (w h) c' and back
            kt = k.reshape(batch, h, w, channels).transpose(1, 2).reshape(batch, length, channels)
            vt = v.reshape(batch, h, w, channels).transpose(1, 2).reshape(batch, length, channels)
            v = official_bi_wkv(wj, uj, kt, vt)
            v = v.reshape(batch, w, h, channels).transpose(1, 2).reshape(batch, length, channels)
    return (torch.sigmoid(r) * v) @ sd["output.weight"].T


def official_state_dict(channels, recurrence, seed=0):
    g = torch.Generator().manual_seed(seed)

    def rand(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    return {
        "omni_shift.conv1x1.weight": rand(channels, 1, 1, 1),
        "omni_shift.conv3x3.weight": rand(channels, 1, 3, 3) * 0.3,
        "omni_shift.conv5x5.weight": rand(channels, 1, 5, 5) * 0.2,
        "omni_shift.alpha": rand(4),
        "omni_shift.conv5x5_reparam.weight": rand(channels, 1, 5, 5),  # a stale cache: ignored
        "key.weight": rand(channels, channels) * 0.5,
        "value.weight": rand(channels, channels) * 0.5,
        "receptance.weight": rand(channels, channels) * 0.5,
        "output.weight": rand(channels, channels) * 0.5,
        "spatial_decay": rand(recurrence, channels) * 3,
        "spatial_first": rand(recurrence, channels) * 3,
    }


@pytest.mark.parametrize("recurrence", [1, 2, 3])
@pytest.mark.parametrize("training", [True, False])
def test_official_spatial_mix_reproduced(recurrence, training):
    h, w, channels = 3, 5, 6  # H != W, so a transposed order that is wrong cannot pass
    sd = official_state_dict(channels, recurrence)
    mix = SpatialMix.from_official_state_dict(sd).double().train(training)
    x = torch.randn(2, h * w, channels, dtype=torch.float64)
    want = official_forward(sd, x, (h, w), training)
    for backend in ("reference", "torch", "numba"):
        with torch.no_grad():
            got = mix(x, (h, w), backend=backend)
        # float64 throughout; the official EPS (1e-6 on a denominator >= 1) is the difference
        torch.testing.assert_close(got, want, rtol=2e-6, atol=2e-6, msg=backend)


def test_official_loader_names_bad_keys():
    sd = official_state_dict(4, 2)
    with pytest.raises(StylelabError, match="omni_shift.alpha"):
        SpatialMix.from_official_state_dict(
            {k: v for k, v in sd.items() if k != "omni_shift.alpha"}
        )
    with pytest.raises(StylelabError, match="'key.weight' has shape"):
        SpatialMix.from_official_state_dict({**sd, "key.weight": torch.zeros(4, 5)})
    with pytest.raises(StylelabError, match="unexpected keys.*'bogus'"):
        SpatialMix.from_official_state_dict({**sd, "bogus": torch.zeros(1)})
    with pytest.raises(StylelabError, match="spatial_decay"):
        SpatialMix.from_official_state_dict({"key.weight": torch.zeros(4, 4)})
    # a prefixed checkpoint (the whole network's state dict) loads by its prefix
    full = {f"encoder_level1.0.att.{k}": v for k, v in sd.items()}
    SpatialMix.from_official_state_dict(full, prefix="encoder_level1.0.att.")


def test_official_block_loads_and_runs():
    sd = {f"att.{k}": v.float() for k, v in official_state_dict(4, 2).items()}
    ffn = Block(4).ffn.state_dict()
    sd |= {f"ffn.{k}": torch.randn_like(v) for k, v in ffn.items()}
    sd |= {"ffn.omni_shift.conv5x5_reparam.weight": torch.zeros(4, 1, 5, 5)}
    sd |= {"ln1.weight": torch.ones(4), "ln1.bias": torch.zeros(4)}
    sd |= {"ln2.weight": torch.ones(4), "ln2.bias": torch.zeros(4)}
    sd |= {"gamma1": torch.ones(4), "gamma2": torch.ones(4)}
    block = Block.from_official_state_dict(sd)
    assert block.forward_map(torch.randn(1, 4, 3, 4)).shape == (1, 4, 3, 4)


# --- Re-WKV orders ----------------------------------------------------------------------------


def _rand_qkv(seed, batch, h, w, channels, q, k_scale=1.0):
    g = torch.Generator().manual_seed(seed)
    k = torch.randn(batch, h * w, channels, generator=g, dtype=torch.float64) * k_scale
    v = torch.randn(batch, h * w, channels, generator=g, dtype=torch.float64)
    decay = torch.randn(q, channels, generator=g, dtype=torch.float64) * 3
    first = torch.randn(q, channels, generator=g, dtype=torch.float64) * 3
    return k, v, decay, first


def _re_wkv_by_loop(k, v, decay, first, resolution, scan, skip):
    """The spec: one pass at a time, gather the order, Bi-WKV by its definition, scatter."""
    for j in range(decay.shape[0]):
        perm = pass_order(resolution, scan, skip, j)
        out = bi_wkv(decay[j], first[j], k[:, perm], v[:, perm], backend="reference")
        v = torch.empty_like(out)
        v[:, perm] = out
    return v


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    h=st.integers(1, 7),
    w=st.integers(1, 7),
    q=st.integers(1, 3),
    scan=st.sampled_from(["raster", "s-scan"]),
    skip=st.integers(1, 3),
    k_scale=st.sampled_from([1.0, 60.0]),
)
def test_re_wkv_matches_pass_by_pass_spec(seed, h, w, q, scan, skip, k_scale):
    k, v, decay, first = _rand_qkv(seed, 2, h, w, 3, q, k_scale)
    want = _re_wkv_by_loop(k, v, decay, first, (h, w), scan, skip)
    for backend in ("numba", "torch"):
        got = re_wkv(k, v, decay, first, (h, w), scan, skip, backend=backend)
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9, msg=backend)


def test_pass_orders():
    assert pass_order((2, 3), "raster", 2, 0).tolist() == [0, 1, 2, 3, 4, 5]
    assert pass_order((2, 3), "raster", 2, 1).tolist() == [0, 3, 1, 4, 2, 5]
    assert torch.equal(pass_order((6, 8), "s-scan", 2, 0), s_scan(6, 8, 2))
    assert pass_order((6, 8), "s-scan", 2, 0)[:6].tolist() == [0, 2, 4, 6, 16, 18]  # §5.4
    assert torch.equal(pass_order((6, 8), "s-scan", 2, 1), s_scan(6, 8, 2, vertical=True))


def test_odd_sizes_need_no_padding():
    """The S-scan groups of a 5x7 map have unequal sizes but still partition it: no pad."""
    mix = SpatialMix(4, scan="s-scan", skip=2)
    x = torch.randn(1, 35, 4)
    with torch.no_grad():
        assert torch.isfinite(mix(x, (5, 7))).all()


def test_spatial_mix_with_extreme_keys_stays_finite():
    """|k| up to 60 inside the block (the op's own tests go further): no overflow."""
    mix = SpatialMix(4, shift="none")
    with torch.no_grad():
        mix.key.weight.copy_(torch.eye(4) * 60)
    x = torch.sign(torch.randn(2, 64, 4))  # k = ±60 exactly
    for backend in ("numba", "torch"):
        out = mix(x, (8, 8), backend=backend)
        assert torch.isfinite(out).all(), backend
        out.sum().backward()
        assert all(torch.isfinite(p.grad).all() for p in mix.parameters() if p.grad is not None)
        mix.zero_grad()


@pytest.mark.parametrize("shift", ["omni", "q-shift", "deform", "none"])
@pytest.mark.parametrize("scan", ["raster", "s-scan"])
def test_block_backends_agree_and_train(shift, scan):
    torch.manual_seed(0)
    block = Block(8, recurrence=2, shift=shift, scan=scan)
    x = torch.randn(2, 6 * 4, 8)
    got = block(x, (6, 4), backend="numba")
    want = block(x, (6, 4), backend="torch")
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
    got.square().mean().backward()
    assert block.att.spatial_decay.grad.abs().sum() > 0


def test_omni_shift_eval_equals_train():
    mix = SpatialMix(5)
    x = torch.randn(1, 12, 5)
    train = mix.train()(x, (3, 4))
    evaluated = mix.eval()(x, (3, 4))
    torch.testing.assert_close(train, evaluated, rtol=1e-5, atol=1e-6)


def test_bad_inputs():
    mix = SpatialMix(4)
    with pytest.raises(StylelabError, match="T=12 tokens but resolution 3x5"):
        mix(torch.randn(1, 12, 4), (3, 5))
    with pytest.raises(StylelabError, match="built for 4"):
        mix(torch.randn(1, 12, 3), (3, 4))
    with pytest.raises(StylelabError, match="batch, tokens, channels"):
        mix(torch.randn(12, 4), (3, 4))
    with pytest.raises(StylelabError, match="shift"):
        SpatialMix(4, shift="left")
    with pytest.raises(StylelabError, match="unknown scan"):
        re_wkv(*_rand_qkv(0, 1, 2, 2, 2, 1), (2, 2), scan="zigzag")


def test_training_after_inference_mode():
    """The cached scan orders built under inference_mode must still serve autograd."""
    mix = SpatialMix(4, scan="s-scan")
    x = torch.randn(1, 7 * 9, 4)
    with torch.inference_mode():
        mix(x, (7, 9))
    mix(x.requires_grad_(), (7, 9)).sum().backward()
    assert x.grad is not None
