"""SS2D and ST-VSSM (stylelab.ssm.ss2d) against an independent transcription of the official
VMamba-v0 / MambaST forward (flips and transposes, a plain per-step scan), on every backend."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from stylelab.core.errors import StylelabError
from stylelab.ssm.ss2d import SS2D, K


def _scan(u, delta, A, Bs, Cs, Ds, bias):
    """selective_scan_ref with delta_softplus, B and C grouped by direction: a plain loop."""
    n_batch, channels, length = u.shape
    per_group = channels // Bs.shape[1]
    delta = F.softplus(delta + bias[None, :, None])
    Bx = Bs.repeat_interleave(per_group, dim=1)  # (B, K·D, N, L)
    Cx = Cs.repeat_interleave(per_group, dim=1)
    h = u.new_zeros(n_batch, channels, A.shape[1])
    ys = []
    for t in range(length):
        h = (
            torch.exp(delta[..., t, None] * A) * h
            + (delta[..., t] * u[..., t])[..., None] * Bx[..., t]
        )
        ys.append((h * Cx[..., t]).sum(-1) + Ds * u[..., t])
    return torch.stack(ys, dim=-1)


def official_forward(sd: dict, x: torch.Tensor, style=None) -> torch.Tensor:
    """VMamba-v0 SS2D.forward (and MambaST's is_cross branch), transcribed op by op."""
    n_batch, H, W, _ = x.shape
    L = H * W
    R = sd["dt_projs_weight"].shape[-1]
    N = sd["A_logs"].shape[-1]

    def conv(t):  # (B, H, W, D) -> (B, D, H, W)
        t = t.permute(0, 3, 1, 2).contiguous()
        pad = (sd["conv2d.weight"].shape[-1] - 1) // 2
        return F.silu(
            F.conv2d(t, sd["conv2d.weight"], sd["conv2d.bias"], padding=pad, groups=t.shape[1])
        )

    def cross(t):  # (B, D, H, W) -> (B, 4, D, L)
        x_hwwh = torch.stack(
            [t.view(n_batch, -1, L), torch.transpose(t, 2, 3).contiguous().view(n_batch, -1, L)],
            dim=1,
        ).view(n_batch, 2, -1, L)
        return torch.cat([x_hwwh, torch.flip(x_hwwh, dims=[-1])], dim=1)

    xz = x @ sd["in_proj.weight"].T
    xc, z = xz.chunk(2, dim=-1)
    xs = cross(conv(xc))
    if style is None:
        x_dbl = torch.einsum("b k d l, k c d -> b k c l", xs, sd["x_proj_weight"])
        dts, Bs, Cs = torch.split(x_dbl, [R, N, N], dim=2)
        u = xs
    else:
        ss = cross(conv(style @ sd["in_style_proj.weight"].T))
        Cs = torch.einsum("b k d l, k c d -> b k c l", xs, sd["x_proj_weight"])
        dts, Bs = torch.split(
            torch.einsum("b k d l, k c d -> b k c l", ss, sd["style_proj_weight"]), [R, N], dim=2
        )
        u = ss
    dts = torch.einsum("b k r l, k d r -> b k d l", dts, sd["dt_projs_weight"])
    out_y = _scan(
        u.reshape(n_batch, -1, L),
        dts.reshape(n_batch, -1, L),
        -torch.exp(sd["A_logs"]),
        Bs,
        Cs,
        sd["Ds"],
        sd["dt_projs_bias"].reshape(-1),
    ).view(n_batch, K, -1, L)
    inv_y = torch.flip(out_y[:, 2:4], dims=[-1]).view(n_batch, 2, -1, L)
    wh_y = (
        torch.transpose(out_y[:, 1].view(n_batch, -1, W, H), 2, 3).contiguous().view(n_batch, -1, L)
    )
    invwh_y = (
        torch.transpose(inv_y[:, 1].view(n_batch, -1, W, H), 2, 3).contiguous().view(n_batch, -1, L)
    )
    y = out_y[:, 0] + inv_y[:, 0] + wh_y + invwh_y
    y = torch.transpose(y, 1, 2).contiguous().view(n_batch, H, W, -1)
    y = F.layer_norm(y, (y.shape[-1],), sd["out_norm.weight"], sd["out_norm.bias"])
    return (y * F.silu(z)) @ sd["out_proj.weight"].T


def official_state(d_model, d_inner, d_state, d_conv, cross, seed=0, dtype=torch.float32):
    """A state dict in the official naming, random values of plausible size."""
    g = torch.Generator().manual_seed(seed)
    R = math.ceil(d_model / 16)

    def r(*shape, scale=0.3):
        return (torch.randn(*shape, generator=g) * scale).to(dtype)

    sd = {
        "in_proj.weight": r(2 * d_inner, d_model),
        "in_style_proj.weight": r(d_inner, d_model),
        "conv2d.weight": r(d_inner, 1, d_conv, d_conv),
        "conv2d.bias": r(d_inner),
        "x_proj_weight": r(K, d_state if cross else R + 2 * d_state, d_inner),
        "dt_projs_weight": r(K, d_inner, R),
        "dt_projs_bias": r(K, d_inner, scale=1.0) - 2,
        "A_logs": torch.log(torch.arange(1, d_state + 1, dtype=dtype)).repeat(K * d_inner, 1)
        + r(K * d_inner, d_state, scale=0.1),
        "Ds": r(K * d_inner, scale=1.0),
        "out_norm.weight": 1 + r(d_inner),
        "out_norm.bias": r(d_inner),
        "out_proj.weight": r(d_model, d_inner),
    }
    if cross:
        sd["style_proj_weight"] = r(K, R + d_state, d_inner)
    return sd


@pytest.mark.parametrize("cross", [False, True])
@pytest.mark.parametrize("backend", ["reference", "torch_loop", "torch", "numba"])
def test_official_weights_reproduce_the_official_forward(cross, backend):
    sd = official_state(20, 40, 6, 3, cross)  # R = ceil(20/16) = 2
    module = SS2D.from_official_state_dict(sd, cross=cross).double()
    assert (module.d_model, module.d_inner, module.d_state, module.dt_rank) == (20, 40, 6, 2)
    x = torch.randn(2, 5, 3, 20, dtype=torch.float64)  # H != W
    style = torch.randn(2, 5, 3, 20, dtype=torch.float64) if cross else None
    # the module holds float32 parameters: the transcription runs on the same values in float64
    expected = official_forward({k: v.double() for k, v in sd.items()}, x, style)
    got = module(x, style, backend=backend)
    # float64 paths agree to rounding; numba computes in float32 (inputs of size ~1: 1e-4)
    tol = 1e-4 if backend == "numba" else 1e-10
    torch.testing.assert_close(got, expected, rtol=tol, atol=tol)


@settings(max_examples=12, deadline=None)
@given(
    h=st.integers(1, 6),
    w=st.integers(1, 6),
    d_model=st.integers(1, 24),
    d_state=st.integers(1, 8),
    cross=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_every_backend_matches_the_reference_on_random_shapes(h, w, d_model, d_state, cross, seed):
    torch.manual_seed(seed)
    module = SS2D(d_model, d_state=d_state, cross=cross).double()
    x = torch.randn(2, h, w, d_model, dtype=torch.float64)
    style = torch.randn(2, h, w, d_model, dtype=torch.float64) if cross else None
    expected = module(x, style, backend="reference")
    for backend, tol in (("torch", 1e-9), ("torch_loop", 1e-9), ("numba", 2e-4)):
        torch.testing.assert_close(module(x, style, backend=backend), expected, rtol=tol, atol=tol)


def test_numba_gradients_match_torch():
    torch.manual_seed(0)
    module = SS2D(16, d_state=4, cross=True)
    x, s = torch.randn(2, 4, 6, 16), torch.randn(2, 4, 6, 16)
    grads = {}
    for backend in ("torch", "numba"):
        module.zero_grad()
        module(x, s, backend=backend).square().sum().backward()
        grads[backend] = {k: p.grad.clone() for k, p in module.named_parameters()}
    for key, g in grads["torch"].items():
        torch.testing.assert_close(grads["numba"][key], g, rtol=1e-3, atol=1e-4, msg=key)


def test_cross_mode_with_the_content_as_style_is_self_mode():
    """With its weights split from a self SS2D (in_style_proj = in_proj's x half, the style
    projection = x_proj's (δ, B) rows, the content's = its C rows), ST-VSSM on (x, x) is SS2D
    on x: the two modes differ only in which stream feeds which projection."""
    torch.manual_seed(0)
    self_mode = SS2D(16, d_state=5).double()
    cross_mode = SS2D(16, d_state=5, cross=True).double()
    sd = dict(self_mode.state_dict())
    r, n, di = self_mode.dt_rank, self_mode.d_state, self_mode.d_inner
    sd["in_style_proj.weight"] = sd["in_proj.weight"][:di]
    sd["style_proj_weight"] = sd["x_proj_weight"][:, : r + n]
    sd["x_proj_weight"] = sd["x_proj_weight"][:, r + n :]
    cross_mode.load_state_dict(sd)
    x = torch.randn(2, 3, 5, 16, dtype=torch.float64)
    torch.testing.assert_close(cross_mode(x, x), self_mode(x), rtol=1e-12, atol=1e-12)
    # and a different style changes the output: the style really drives the scan
    assert (cross_mode(x, torch.randn_like(x)) - self_mode(x)).abs().max() > 1e-3


def test_official_init_overwrites_a_and_the_step_bias():
    s4d, official = SS2D(32, init="s4d"), SS2D(32, init="official")
    A = -torch.exp(s4d.A_logs)
    torch.testing.assert_close(A[0].detach(), -torch.arange(1.0, 17.0))  # S4D-real: -(1..N)
    step = F.softplus(s4d.dt_projs_bias)
    assert step.min() >= 1e-4 and step.max() <= 0.1 + 1e-6
    # Xavier over (4·Di, N) and (K, Di): A ≈ -1, Δ ≈ softplus(0) = 0.69
    assert (-torch.exp(official.A_logs)).mean().item() == pytest.approx(-1.0, abs=0.05)
    assert F.softplus(official.dt_projs_bias).mean().item() == pytest.approx(0.69, abs=0.05)


def test_loader_names_a_missing_or_wrong_shaped_key():
    sd = official_state(16, 32, 4, 3, cross=True)
    missing = {k: v for k, v in sd.items() if k != "style_proj_weight"}
    with pytest.raises(StylelabError, match="style_proj_weight"):
        SS2D.from_official_state_dict(missing, cross=True)
    bad = dict(sd, Ds=torch.zeros(7))
    with pytest.raises(StylelabError, match="'Ds' has shape"):
        SS2D.from_official_state_dict(bad, cross=True)
    extra = dict(sd, stray=torch.zeros(1))
    with pytest.raises(StylelabError, match="stray"):
        SS2D.from_official_state_dict(extra, cross=True)
    with pytest.raises(StylelabError, match="in_proj.weight"):
        SS2D.from_official_state_dict({}, cross=False)
    # a self-mode checkpoint loaded as cross: x_proj_weight's rows are R + 2N, not N
    self_sd = official_state(16, 32, 4, 3, cross=False)
    with pytest.raises(StylelabError, match="style_proj_weight|x_proj_weight"):
        SS2D.from_official_state_dict(self_sd, cross=True)


def test_loader_takes_a_prefix_and_ignores_in_style_proj_in_self_mode():
    sd = official_state(16, 32, 4, 5, cross=False)
    prefixed = {f"layers.0.self_attention.{k}": v for k, v in sd.items()}
    module = SS2D.from_official_state_dict(prefixed, cross=False, prefix="layers.0.self_attention.")
    assert module.d_conv == 5 and module.in_style_proj is None


def test_bad_input_is_a_clear_error():
    module = SS2D(8, cross=True)
    x = torch.randn(1, 4, 4, 8)
    with pytest.raises(StylelabError, match=r"\(B, H, W, 8\)"):
        module(torch.randn(1, 8, 4, 4), x)  # channels-first by mistake
    with pytest.raises(StylelabError, match="channels-last"):
        SS2D(8)(torch.randn(4, 4, 8))  # no batch dimension
    with pytest.raises(StylelabError, match="must match"):
        module(x, torch.randn(1, 4, 5, 8))
    with pytest.raises(StylelabError, match="needs a style"):
        module(x)
    with pytest.raises(StylelabError, match="takes no style"):
        SS2D(8)(x, x)
    with pytest.raises(StylelabError, match="init"):
        SS2D(8, init="xavier")


@pytest.mark.parametrize("cross", [False, True])
def test_hidden_attention_unrolls_the_scan(cross):
    """y_i = Σ_j M[i, j] u_j + D u_i reproduces the selective scan, direction by direction."""
    torch.manual_seed(1)
    module = SS2D(8, d_state=4, cross=cross)
    x = torch.randn(2, 3, 4, 8)
    style = torch.randn(2, 3, 4, 8) if cross else None
    M = module.hidden_attention(x, style)  # (B, K, Di, L, L)
    p = module.scan_inputs(x, style)
    assert M.shape == (2, K, module.d_inner, 12, 12)
    assert torch.all(M.triu(1) == 0)  # causal: nothing read from later positions
    Ds = module.Ds.view(1, K, -1, 1)
    y_unrolled = (M @ p["u"][..., None])[..., 0] + Ds * p["u"]  # (B, K, Di, L)
    from stylelab.ssm import selective_scan

    y_scan = selective_scan(
        p["u"].reshape(2, -1, 12), p["dt"].reshape(2, -1, 12), -torch.exp(module.A_logs),
        p["B"].contiguous(), p["C"].contiguous(), module.Ds,
        delta_bias=module.dt_projs_bias.reshape(-1), delta_softplus=True, backend="reference",
    ).view(2, K, -1, 12)  # fmt: skip
    torch.testing.assert_close(y_unrolled.detach(), y_scan.detach(), rtol=1e-4, atol=1e-5)


def test_one_row_of_the_hidden_attention_is_the_full_matrix_row():
    from stylelab.scan_orders import cross_orders

    torch.manual_seed(2)
    module = SS2D(8, d_state=3, cross=True)
    x, s = torch.randn(1, 3, 5, 8), torch.randn(1, 3, 5, 8)
    M = module.hidden_attention(x, s)  # (1, K, Di, L, L) in scan order
    orders = cross_orders(3, 5)
    for position in (0, 7, 14):
        rows = module.hidden_attention_row(x, s, position)  # (1, K, Di, L) row-major
        for k in range(K):
            i = int((orders[k] == position).nonzero())
            expected = torch.zeros_like(rows[:, k])
            expected[..., orders[k]] = M[:, k, :, i, :]
            torch.testing.assert_close(rows[:, k], expected, rtol=1e-5, atol=1e-7)
    with pytest.raises(StylelabError, match="position"):
        module.hidden_attention_row(x, s, 15)
