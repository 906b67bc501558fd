"""stylelab.attention against its loops (kernels.attention_reference), on random shapes,
large logits, one block covering the whole map, and s = 1.

Tolerance: the ops run in float64 here, so they agree with the loops to round-off (1e-10);
the loops sum in another order, nothing else differs.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from stylelab.attention import A2K, all_to_all, distributed_attention, progressive_attention
from stylelab.attention.ops import block, unblock
from stylelab.core.errors import StylelabError
from stylelab.kernels import attention_reference as ref

TOL = {"rtol": 1e-10, "atol": 1e-10}


@st.composite
def maps(draw, max_blocks: int = 3):
    """(q, k, v, s, heads): content and style of different sizes, multiples of s."""
    s = draw(st.integers(1, 3))
    heads = draw(st.sampled_from([1, 2]))
    c = heads * draw(st.integers(1, 3))
    hc, wc, hs, ws = (s * draw(st.integers(1, max_blocks)) for _ in range(4))
    scale = draw(st.sampled_from([0.1, 1.0, 30.0]))  # 30: logits in the thousands
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    q = torch.randn(1, c, hc, wc, generator=g, dtype=torch.float64) * scale
    k = torch.randn(1, c, hs, ws, generator=g, dtype=torch.float64) * scale
    cv = heads * draw(st.integers(1, 3))  # values may have other channels (the A2K* target)
    v = torch.randn(1, cv, hs, ws, generator=g, dtype=torch.float64)
    return q, k, v, s, heads


def close(a: torch.Tensor, b: np.ndarray) -> None:
    assert np.isfinite(a.numpy()).all()
    np.testing.assert_allclose(a[0].numpy(), b, **TOL)


@settings(max_examples=40, deadline=None)
@given(maps())
def test_block_and_unblock_are_the_loops(case):
    q, _, _, s, _ = case
    np.testing.assert_array_equal(
        block(q, s)[0].permute(1, 2, 0).numpy(), ref.blocks_reference(q[0], s)
    )
    torch.testing.assert_close(unblock(block(q, s), s, *q.shape[-2:]), q, rtol=0, atol=0)


@settings(max_examples=40, deadline=None)
@given(maps(), st.floats(-2, 2), st.floats(-2, 2))
def test_distributed_attention_is_the_loop(case, alpha, beta):
    q, k, v, s, heads = case
    out = distributed_attention(q, k, v, s, heads, alpha, beta)
    close(out, ref.distributed_attention_reference(q[0], k[0], v[0], s, heads, alpha, beta))


@settings(max_examples=30, deadline=None)
@given(maps(), st.sampled_from(["chunked", "numba"]))
def test_distributed_attention_through_an_all_to_all_backend_is_the_loop(case, backend):
    """DA's attention step run as all-to-all attention to the aggregated keys."""
    q, k, v, s, heads = case
    out = distributed_attention(q, k, v, s, heads, 0.5, -0.3, backend=backend)
    close(out, ref.distributed_attention_reference(q[0], k[0], v[0], s, heads, 0.5, -0.3))


def test_pa_without_block_matching_attends_inside_the_aligned_block():
    """match=False: each block's softmax runs over the style block at the same place."""
    g = torch.Generator().manual_seed(4)
    q, k, v = (torch.randn(1, 4, 4, 6, generator=g, dtype=torch.float64) for _ in range(3))
    out = progressive_attention(q, k, v, 2, heads=2, match=False)
    expected = np.zeros((4, 4, 6))
    for head in range(2):
        ch = slice(2 * head, 2 * head + 2)
        for by in range(0, 4, 2):
            for bx in range(0, 6, 2):
                part = (slice(by, by + 2), slice(bx, bx + 2))
                qs, ks, vs = (
                    x[0, ch][:, part[0], part[1]].reshape(2, 4).T.numpy() for x in (q, k, v)
                )
                local = ref.attention_reference(qs, ks, vs)  # (4 positions, 2 channels)
                expected[ch, part[0], part[1]] = local.T.reshape(2, 2, 2)
    close(out, expected)
    with pytest.raises(StylelabError, match="resize the style to the content"):
        progressive_attention(q, k[..., :4], v[..., :4], 2, heads=2, match=False)


@settings(max_examples=40, deadline=None)
@given(maps())
def test_progressive_attention_is_the_loop(case):
    q, k, v, s, heads = case
    close(
        progressive_attention(q, k, v, s, heads),
        ref.progressive_attention_reference(q[0], k[0], v[0], s, heads),
    )


@settings(max_examples=40, deadline=None)
@given(maps())
def test_all_to_all_is_the_loop(case):
    q, k, v, _, heads = case
    d, e = q.shape[1] // heads, v.shape[1] // heads
    expected = np.concatenate([
        ref.attention_reference(q[0, i * d : (i + 1) * d].reshape(d, -1).T,
                                k[0, i * d : (i + 1) * d].reshape(d, -1).T,
                                v[0, i * e : (i + 1) * e].reshape(e, -1).T).T
        for i in range(heads)
    ]).reshape(v.shape[1], *q.shape[2:])  # fmt: skip
    close(all_to_all(q, k, v, heads), expected)


def test_one_block_over_the_whole_map_attends_to_the_global_aggregated_key():
    """s = H = W: one style block, so every query's softmax has one key: out = V̂ everywhere."""
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 4, 4, 4, generator=g, dtype=torch.float64) for _ in range(3))
    out = distributed_attention(q, k, v, s=4, heads=2)
    kb, vb = ref.blocks_reference(k[0], 4)[0], ref.blocks_reference(v[0], 4)[0]  # (16, 4)
    for head in range(2):
        kh, vh = kb[:, head * 2 : head * 2 + 2], vb[:, head * 2 : head * 2 + 2]
        w = 1 / (1 + np.exp(-(kh @ kh.mean(0))))  # alpha = 1, beta = 0
        v_agg = (w @ vh + vh.mean(0)) / 17
        np.testing.assert_allclose(out[0, head * 2 : head * 2 + 2].numpy(),
                                   np.broadcast_to(v_agg[:, None, None], (2, 4, 4)), **TOL)  # fmt: skip


def test_s1_blocks_are_pixels():
    """s = 1: DA aggregates each style pixel with itself (K̂ = k (1 + sigmoid(|k|²)) / 2),
    PA picks the best-matching style pixel and copies its value."""
    g = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(1, 2, 3, 3, generator=g, dtype=torch.float64) for _ in range(3))
    pa = progressive_attention(q, k, v, s=1, heads=1)
    best = torch.einsum("cp,cj->pj", q[0].flatten(1), k[0].flatten(1)).argmax(1)  # (9,)
    torch.testing.assert_close(pa[0].flatten(1), v[0].flatten(1)[:, best])


def test_large_logits_do_not_overflow():
    q = torch.full((1, 2, 2, 2), 100.0, dtype=torch.float32)
    k = torch.full((1, 2, 2, 2), 100.0, dtype=torch.float32)  # logits 2e4: exp overflows float32
    v = torch.randn(1, 2, 2, 2)
    for out in (
        all_to_all(q, k, v),
        distributed_attention(q, k, v, 1, 1),
        progressive_attention(q, k, v, 1, 1),
    ):
        assert torch.isfinite(out).all()


# ---------------------------------------------------------------- the A2K layer


def official_state_dict(c: int, seed: int = 0) -> dict:
    """A state dict in the official checkpoint's naming, with random values."""
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for name in ("q", "k", "v", "q2", "k2", "v2", "fusion1", "fusion2"):
        sd[f"{name}.weight"] = torch.randn(c, c, 1, 1, generator=g) * 0.3
        sd[f"{name}.bias"] = torch.randn(c, generator=g) * 0.1
    sd["sim_alpha"], sd["sim_beta"] = torch.tensor([0.8]), torch.tensor([-0.2])
    return sd


def test_a2k_with_official_weights_is_the_equations():
    sd = official_state_dict(8)
    layer = A2K.from_official_state_dict(sd, region=2, heads=2).double()
    g = torch.Generator().manual_seed(2)
    content = torch.randn(1, 8, 4, 6, generator=g, dtype=torch.float64)  # H != W
    style = torch.randn(1, 8, 6, 4, generator=g, dtype=torch.float64)  # another size
    with torch.no_grad():
        out = layer(content, style)
    expected = ref.a2k_reference(
        content[0], style[0], {k: v.double().numpy() for k, v in sd.items()}, 2, 2
    )
    np.testing.assert_allclose(out[0].numpy(), expected, rtol=1e-9, atol=1e-9)


def test_a2k_loads_one_layer_of_a_whole_checkpoint_by_prefix():
    sd = {f"attn_adain_4_1.{k}": v for k, v in official_state_dict(8).items()}
    sd["merge_conv.weight"] = torch.zeros(8, 8, 3, 3)
    layer = A2K.from_official_state_dict(sd, prefix="attn_adain_4_1.")
    torch.testing.assert_close(layer.q.weight, sd["attn_adain_4_1.q.weight"])


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda sd: sd.pop("k2.bias"), r"missing keys \['k2.bias'\]"),
        (lambda sd: sd.update(extra=torch.zeros(1)), r"unexpected keys \['extra'\]"),
        (
            lambda sd: sd.update({"v.weight": torch.zeros(8, 8, 3, 3)}),
            r"v.weight has shape \(8, 8, 3, 3\)",
        ),
    ],
)
def test_a_bad_state_dict_names_the_key(edit, message):
    sd = official_state_dict(8)
    edit(sd)
    with pytest.raises(StylelabError, match=message):
        A2K.from_official_state_dict(sd)


def test_bad_shapes_say_what_to_do():
    with pytest.raises(StylelabError, match="12 channels cannot be split into 8 heads"):
        A2K(12, heads=8)
    layer = A2K(8, region=4, heads=2)
    with pytest.raises(
        StylelabError, match="the query map is 6x8, not a multiple of the block side 4"
    ):
        layer(torch.randn(1, 8, 6, 8), torch.randn(1, 8, 8, 8))


def test_a2k_trains_through_both_branches():
    layer = A2K(8, region=2, heads=2)
    out = layer(torch.randn(2, 8, 4, 4), torch.randn(1, 8, 4, 4))  # a style batch of 1 serves both
    out.square().mean().backward()
    for name in ("q", "k", "v", "q2", "k2", "v2", "fusion1", "fusion2"):
        assert getattr(layer, name).weight.grad.abs().sum() > 0, name
    assert layer.sim_alpha.grad is not None and layer.sim_beta.grad is not None


# ---------------------------------------------------------------- the streamed kernel


@settings(max_examples=30, deadline=None)
@given(maps())
def test_streamed_all_to_all_is_the_dense_one(case):
    """Online softmax in float64 accumulators: equal to the dense op to round-off."""
    q, k, v, _, heads = case
    torch.testing.assert_close(
        all_to_all(q, k, v, heads, backend="numba"), all_to_all(q, k, v, heads), **TOL
    )


def test_chunked_all_to_all_is_the_dense_one_across_slices(monkeypatch):
    """Slices of 5 queries (so the last one is short) give the dense result and gradients."""
    from stylelab.attention import ops

    g = torch.Generator().manual_seed(3)
    q, k, v = (torch.randn(2, 4, 3, 4, generator=g, dtype=torch.float64) for _ in range(3))
    monkeypatch.setattr(ops, "CHUNK_SCORES", 2 * 2 * 12 * 5)  # B · heads · keys · 5 queries
    q.requires_grad_(True)
    got = all_to_all(q, k, v, heads=2, backend="chunked")
    (grad_got,) = torch.autograd.grad(got.sum(), q)
    want = all_to_all(q, k, v, heads=2)
    (grad_want,) = torch.autograd.grad(want.sum(), q)
    torch.testing.assert_close(got, want, **TOL)
    torch.testing.assert_close(grad_got, grad_want, **TOL)


def test_streamed_all_to_all_survives_logits_that_overflow_float32():
    q = torch.full((1, 4, 3, 3), 60.0)
    k = torch.full((1, 4, 3, 3), 60.0)
    k[..., 0, 0] = 61.0  # one key wins by 4·60 = 240 in the logit: a one-hot softmax
    v = torch.arange(36.0).view(1, 4, 3, 3)
    out = all_to_all(q, k, v, heads=1, backend="numba")
    torch.testing.assert_close(out, v[..., :1, :1].expand_as(out))


def test_unknown_backend_is_named():
    with pytest.raises(
        StylelabError, match="unknown backend .gpu.; valid: torch, chunked, numba, cuda"
    ):
        all_to_all(
            torch.zeros(1, 2, 2, 2),
            torch.zeros(1, 2, 2, 2),
            torch.zeros(1, 2, 2, 2),
            backend="gpu",
        )


SIM_SCRIPT = """
import json
import torch
from stylelab.attention import all_to_all

g = torch.Generator().manual_seed(0)
errors = {}
for dtype in (torch.float32, torch.float64):
    q = torch.randn(1, 4, 3, 2, generator=g, dtype=dtype) * 20  # logits in the hundreds
    k = torch.randn(1, 4, 2, 3, generator=g, dtype=dtype) * 20
    v = torch.randn(1, 4, 2, 3, generator=g, dtype=dtype)
    got = all_to_all(q, k, v, heads=2, backend="cuda")
    want = all_to_all(q.double(), k.double(), v.double(), heads=2)
    errors[str(dtype)] = (got.double() - want).abs().max().item()
print(json.dumps(errors))
"""


def test_streamed_cuda_kernel_under_the_simulator():
    """The CUDA kernel, run by numba's simulator in a child (it must be set before import)."""
    import json
    import os
    import subprocess
    import sys

    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    proc = subprocess.run(
        [sys.executable, "-c", SIM_SCRIPT], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    errors = json.loads(proc.stdout.strip().splitlines()[-1])
    # float32 accumulators: rounding of logits in the hundreds, relative 1e-7, shows at 1e-4
    assert errors["torch.float32"] < 1e-4 and errors["torch.float64"] < 1e-12, errors


# ---------------------------------------------------------------- baselines and the A2K* target


def test_adaattn_is_an_adain_with_attention_weighted_statistics():
    """M = A v and S = sqrt(A v² - M²), with A the row-softmax of the scores (one head)."""
    from stylelab.attention import adaattn
    from stylelab.stats import mvn

    g = torch.Generator().manual_seed(3)
    q, content = torch.randn(1, 3, 2, 3, generator=g), torch.randn(1, 3, 2, 3, generator=g)
    k, v = torch.randn(1, 3, 3, 2, generator=g), torch.randn(1, 3, 3, 2, generator=g)
    a = torch.softmax(q[0].flatten(1).T @ k[0].flatten(1), dim=1)  # (6 queries, 6 keys)
    vs = v[0].flatten(1).T  # (6, C)
    mean, second = a @ vs, a @ vs**2
    expected = (second - mean**2).clamp_min(0).add(1e-12).sqrt() * mvn(content)[0].flatten(
        1
    ).T + mean
    torch.testing.assert_close(adaattn(q, k, v, content)[0].flatten(1).T, expected)


def test_sanet_and_adaattn_layers_run_and_train():
    from stylelab.attention import AdaAttN, SANet

    content, style = torch.randn(2, 4, 3, 5), torch.randn(1, 4, 4, 4)
    for layer in (SANet(4, heads=2), AdaAttN(4)):
        out = layer(content, style.expand(2, -1, -1, -1))
        assert out.shape == content.shape
        out.square().mean().backward()
        assert layer.q.weight.grad.abs().sum() > 0


def test_a2k_target_is_content_plus_da_plus_pa_on_shallow_keys():
    """Keys: every level up to l, each nearest-resized to l's size and normalised, stacked."""
    from stylelab.attention import a2k_target, shallow_keys

    g = torch.Generator().manual_seed(4)
    content = [torch.randn(1, 2, 8, 8, generator=g, dtype=torch.float64),
               torch.randn(1, 4, 4, 4, generator=g, dtype=torch.float64)]  # fmt: skip
    style = [torch.randn(1, 2, 8, 8, generator=g, dtype=torch.float64),
             torch.randn(1, 4, 4, 4, generator=g, dtype=torch.float64)]  # fmt: skip
    keys_c = shallow_keys(content)
    assert keys_c.shape == (1, 6, 4, 4)
    q, k = keys_c[0].numpy(), shallow_keys(style)[0].numpy()
    v = style[-1][0].numpy()  # 4 value channels, 6 key channels: 2 heads of (3 | 2)
    expected = (
        content[-1][0].numpy()
        + ref.distributed_attention_reference(q, k, v, 2, 2)
        + ref.progressive_attention_reference(q, k, v, 2, 2)
    )
    np.testing.assert_allclose(
        a2k_target(content, style, region=2, heads=2)[0].numpy(), expected, **TOL
    )
