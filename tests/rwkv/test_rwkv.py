"""WKV and Bi-WKV: every backend against the O(T²) reference, gradients, extremes, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from stylelab.core.errors import StylelabError
from stylelab.rwkv import bi_wkv, wkv

OPS = {"wkv": wkv, "bi_wkv": bi_wkv}
FAST = ("torch_dense", "torch", "torch_chunked", "torch_loop", "numba")


def _inputs(seed, batch, length, channels, k_scale, w_scale, dtype=torch.float64):
    """Random (w, u, k, v) for the fixed-example tests (the property tests draw theirs)."""
    g = torch.Generator().manual_seed(seed)
    k = (torch.rand(batch, length, channels, generator=g, dtype=dtype) * 2 - 1) * k_scale
    v = torch.randn(batch, length, channels, generator=g, dtype=dtype)
    w = (torch.rand(channels, generator=g, dtype=dtype) * 2 - 1) * w_scale
    u = torch.randn(channels, generator=g, dtype=dtype) * 2
    return w, u, k, v


@st.composite
def drawn_inputs(draw):
    """(w, u, k, v) with drawn values: batch <= 2, T <= 20, channels <= 3; |k| up to 0, 1,
    10 or 60 (e^60 ≈ 1e26: the running max at work), about half of its elements at that
    bound (drawn floats favour small ones); |v| <= 3, |u| <= 4, and w in [-1, 1] for the
    test to scale. Every element is drawn (no fill value, which hypothesis uses for large
    arrays): a mostly constant v would make any weighting look right."""
    batch, length, channels = (draw(st.integers(1, n)) for n in (2, 20, 3))
    k_scale = draw(st.sampled_from([0.0, 1.0, 10.0, 60.0]))

    def values(shape, bound, extremes=False):
        elements = st.floats(-bound, bound)
        if extremes:
            elements = st.one_of(elements, st.sampled_from([-bound, bound]))
        array = draw(arrays(np.float64, shape, elements=elements, fill=st.nothing()))
        return torch.from_numpy(array)

    k = values((batch, length, channels), k_scale, extremes=True)
    v = values((batch, length, channels), 3.0)
    return values((channels,), 1.0), values((channels,), 4.0), k, v


@pytest.mark.parametrize("op", OPS)
@settings(max_examples=25, deadline=None)
@given(inputs=drawn_inputs(), w_scale=st.sampled_from([0.0, 1.0, 5.0, 60.0]))
def test_forward_matches_reference_float64(op, inputs, w_scale):
    # causal w is per step (RWKV-4 w reaches about -20); Bi-WKV's w is divided by T inside
    w, u, k, v = inputs
    w = w * w_scale
    expected = OPS[op](w, u, k, v, backend="reference")
    for backend in FAST:
        got = OPS[op](w, u, k, v, backend=backend)
        assert got.dtype == torch.float64 and got.shape == k.shape
        # float64 throughout, at most 20 terms per output, each e^{<=0}: only rounding differs
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-12, msg=backend)


@pytest.mark.parametrize("op", OPS)
@settings(max_examples=15, deadline=None)
@given(inputs=drawn_inputs(), large_w=st.booleans())
def test_forward_float32_matches_reference(op, inputs, large_w):
    # Bi-WKV with |w| up to 100 makes "torch" leave the cumsum form for the chunked one;
    # the causal w multiplies distances up to T, so 5 already spans e^{±100}
    w_scale = 100.0 if large_w and op == "bi_wkv" else 5.0
    w, u, k, v = inputs
    w, u, k, v = (t.float() for t in (w * w_scale, u, k, v))
    # reference on the same (float32-rounded) numbers, so only the arithmetic differs
    expected = OPS[op](*(t.double() for t in (w, u, k, v)), backend="reference")
    for backend in FAST:
        got = OPS[op](w, u, k, v, backend=backend)
        assert got.dtype == torch.float32
        # numba accumulates in float64: output rounding only (2^-24 relative, |v| < ~5).
        # torch paths round exponents like 60 + 5·T to 2^-24·|x| ≈ 1e-5 absolute, which moves
        # a weight by the same relative amount, hence the output by ~1e-5·max|v|.
        atol = 1e-6 if backend == "numba" else 1e-4
        torch.testing.assert_close(got.double(), expected, rtol=0, atol=atol, msg=backend)


@pytest.mark.parametrize("op", OPS)
@settings(max_examples=15, deadline=None)
@given(inputs=drawn_inputs())
def test_gradients_match_dense_autograd(op, inputs):
    w, u, k, v = inputs
    base = (w * 5.0, u, k, v)
    # fixed cotangents: the inputs are what is drawn
    g = torch.randn(k.shape, generator=torch.Generator().manual_seed(0))
    grads = {}
    for backend in ("torch_dense", "torch", "torch_chunked", "numba"):
        leaves = [t.clone().requires_grad_() for t in base]
        (OPS[op](*leaves, backend=backend) * g).sum().backward()
        grads[backend] = [t.grad for t in leaves]
    for backend in ("torch", "torch_chunked", "numba"):
        for name, got, want in zip("wukv", grads[backend], grads["torch_dense"]):
            # float64; dw sums T² terms weighted by distance (up to 20), hence atol 1e-9
            torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9, msg=f"{backend} d{name}")


@pytest.mark.parametrize("op", OPS)
def test_numba_gradcheck(op):
    w, u, k, v = (t.requires_grad_() for t in _inputs(3, 2, 7, 3, 3.0, 2.0))
    assert torch.autograd.gradcheck(lambda *a: OPS[op](*a, backend="numba"), (w, u, k, v))


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("backend", FAST + ("reference",))
def test_weighted_average_properties(op, backend):
    w, u, k, v = _inputs(1, 1, 6, 2, 10.0, 3.0)
    # a weighted average of constant values is that constant
    const = torch.full_like(v, 0.7)
    torch.testing.assert_close(OPS[op](w, u, k, const, backend=backend), const)
    # the first output of the causal op sees only its own token; one token sees itself
    if op == "wkv":
        torch.testing.assert_close(wkv(w, u, k, v, backend=backend)[:, 0], v[:, 0])
    one = OPS[op](w, u, k[:, :1], v[:, :1], backend=backend)
    torch.testing.assert_close(one, v[:, :1])


@pytest.mark.parametrize("backend", FAST)
def test_bi_wkv_is_symmetric_in_time(backend):
    w, u, k, v = _inputs(2, 2, 9, 3, 10.0, 5.0)
    flipped = bi_wkv(w, u, k.flip(1), v.flip(1), backend=backend).flip(1)
    torch.testing.assert_close(flipped, bi_wkv(w, u, k, v, backend=backend))


# --- extreme values: |k| = 60 and T = 65 536 -------------------------------------------------


@pytest.fixture(scope="module")
def long_inputs():
    g = torch.Generator().manual_seed(0)
    length = 65_536
    k = torch.rand(1, length, 2, generator=g) * 120 - 60  # |k| up to 60: e^{60} ≈ 1e26
    v = torch.randn(1, length, 2, generator=g)
    return k, v


@pytest.mark.parametrize(
    "op,w",
    [
        ("bi_wkv", [60.0, -60.0]),  # total decay e^{±60} across the sequence: the cumsum form
        ("bi_wkv", [150.0, -150.0]),  # beyond float32 for the cumsum form: the chunked form
        ("wkv", [-0.05, -3.0]),  # slow and fast per-step decay: e^{-0.05·65535} = e^{-3277}
    ],
)
def test_long_sequences_with_large_keys(long_inputs, op, w):
    k, v = long_inputs
    w, u = torch.tensor(w), torch.tensor([1.0, -2.0])
    # float64 inputs and accumulators (numba) on the same float32 numbers: the yardstick
    want = OPS[op](*(t.double() for t in (w, u, k, v)), backend="numba")
    assert torch.isfinite(want).all()
    for backend in ("numba", "torch"):
        got = OPS[op](w, u, k, v, backend=backend)
        assert torch.isfinite(got).all(), backend
        # measured: numba 1.2e-7, torch 6e-8 (bi, cumsum) and 6e-7 (chunked); the bound
        # leaves 10x for other seeds and summation orders
        atol = 1e-6 if backend == "numba" else 1e-5
        torch.testing.assert_close(got.double(), want, rtol=0, atol=atol, msg=backend)


@pytest.mark.slow
def test_torch_two_pass_loop_at_65536(long_inputs):
    k, v = long_inputs
    w, u = torch.tensor([5.0, -60.0]), torch.tensor([1.0, -2.0])
    want = bi_wkv(*(t.double() for t in (w, u, k, v)), backend="numba")
    got = bi_wkv(w, u, k, v, backend="torch_loop")  # float32 accumulators, ~10 s of Python loop
    # measured 6e-7: float32 running sums stay relative-accurate because every factor is <= 1
    torch.testing.assert_close(got.double(), want, rtol=0, atol=1e-5)


def test_naive_sum_overflows_where_the_stable_form_does_not():
    # why the running max exists: e^{k} with k = 100 is inf in float32
    k = torch.full((1, 4, 1), 100.0)
    v = torch.ones(1, 4, 1)
    naive = (torch.exp(k) * v).cumsum(1) / torch.exp(k).cumsum(1)
    assert not torch.isfinite(naive).all()
    w, u = torch.tensor([-1.0]), torch.tensor([0.0])
    torch.testing.assert_close(wkv(w, u, k, v, backend="numba"), v)


# --- the CUDA kernel, under the numba simulator ---------------------------------------------

SIM_SCRIPT = textwrap.dedent(
    """
    import json
    import torch
    from stylelab.rwkv import bi_wkv, wkv
    g = torch.Generator().manual_seed(0)
    out = {}
    for name, op in (("wkv", wkv), ("bi_wkv", bi_wkv)):
        for dtype in (torch.float32, torch.float64):
            k = (torch.rand(2, 7, 3, generator=g) * 120 - 60).to(dtype)
            v = torch.randn(2, 7, 3, generator=g).to(dtype)
            w = (torch.randn(3, generator=g) * 3).to(dtype)
            u = torch.randn(3, generator=g).to(dtype)
            got = op(w, u, k, v, backend="cuda")
            want = op(*(t.double() for t in (w, u, k, v)), backend="reference")
            out[f"{name} {dtype}"] = (got.double() - want).abs().max().item()
            # the backward kernel against the numba CPU backward (float64), one upstream gy
            gy = torch.randn(2, 7, 3, generator=g).to(dtype)
            grads = {}
            for backend, dt in (("cuda", dtype), ("numba", torch.float64)):
                leaves = [t.detach().to(dt).requires_grad_() for t in (w, u, k, v)]
                (op(*leaves, backend=backend) * gy.to(dt)).sum().backward()
                grads[backend] = [t.grad.double() for t in leaves]
            err = max((a - b).abs().max().item() for a, b in zip(*grads.values()))
            out[f"{name} {dtype} grad"] = err
    print(json.dumps(out))
    """
)


def test_cuda_kernel_under_simulator():
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")  # must be set before numba is imported
    proc = subprocess.run(
        [sys.executable, "-c", SIM_SCRIPT], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    errors = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(errors) == 8
    for case, err in errors.items():
        # float32 accumulators on GPU: output rounding and exponent rounding of |k| <= 60;
        # gradients are sums of T = 7 such terms times |gy| ~ 1 (x 10)
        tol = (1e-4 if "grad" in case else 1e-5) if "float32" in case else 1e-12
        assert err < tol, (case, err)


# --- errors -----------------------------------------------------------------------------------


def test_bad_inputs_raise_clear_errors(monkeypatch):
    w, u, k, v = _inputs(0, 1, 5, 3, 1.0, 1.0, dtype=torch.float32)
    with pytest.raises(StylelabError, match="batch, T, channels"):
        wkv(w, u, k[0], v[0])
    with pytest.raises(StylelabError, match="k and v"):
        wkv(w, u, k, v[:, :4])
    with pytest.raises(StylelabError, match=r"\(3,\)"):
        bi_wkv(w[:2], u, k, v)
    with pytest.raises(StylelabError, match="float32 or float64"):
        wkv(w, u, k.half(), v.half())
    with pytest.raises(StylelabError, match="same dtype"):
        wkv(w, u, k, v.double())
    with pytest.raises(StylelabError, match="torch.Tensor"):
        wkv(w.numpy(), u, k, v)
    with pytest.raises(StylelabError, match="NaN or Inf"):
        bi_wkv(w, u, k, v.index_fill(1, torch.tensor([2]), float("nan")))
    with pytest.raises(StylelabError, match="different devices"):
        wkv(w.to("meta"), u, k, v)
    with pytest.raises(StylelabError, match="unknown backend"):
        wkv(w, u, k, v, backend="fortran")
    with pytest.raises(StylelabError, match="empty"):
        wkv(w, u, k[:, :0], v[:, :0])
    monkeypatch.delenv("NUMBA_ENABLE_CUDASIM", raising=False)
    monkeypatch.setattr("stylelab.kernels.cuda_available", lambda: False)
    with pytest.raises(StylelabError, match="needs an NVIDIA GPU"):
        with torch.no_grad():
            wkv(w, u, k, v, backend="cuda")
