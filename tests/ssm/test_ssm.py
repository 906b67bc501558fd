"""Selective scan: every backend against the reference loop, gradients, extremes, errors."""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ssm_inputs import (
    OPTIONS,
    beyond_softplus_threshold_case,
    cases,
    make_inputs,
    with_dtype,
)

from stylelab.core.errors import StylelabError
from stylelab.kernels.ssm_reference import SOFTPLUS_THRESHOLD
from stylelab.ssm import selective_scan, selective_scan_chunked, selective_scan_loop

# Set in the child process that runs the CUDA-simulator tests of this module (see the end).
IN_CUDASIM_CHILD = os.environ.get("STYLELAB_SSM_CUDASIM_CHILD") == "1"
not_in_child = pytest.mark.skipif(IN_CUDASIM_CHILD, reason="runs in the parent process")
only_in_child = pytest.mark.skipif(not IN_CUDASIM_CHILD, reason="runs under the CUDA simulator")


def as_tuple(out):
    return out if isinstance(out, tuple) else (out,)


def scale_of(ref) -> float:
    """Tolerances are relative to the largest output (state included), not to each element."""
    return max(float(r.abs().max()) for r in ref) + 1e-300


def assert_float32_close(got, ref, msg=""):
    """The float32 kernels against the float64 reference.

    They round inputs and every product to float32 (eps 6e-8) and sum N <= 5 terms over
    L <= 40 steps of decay < 1, so errors stay near 40 · 1.2e-7 of the magnitudes summed;
    5e-6 of the largest output leaves room, and a real bug is off by far more.
    """
    scale = scale_of(ref)
    for g, r in zip(got, ref):
        assert g.dtype == r.dtype and g.shape == r.shape, msg
        torch.testing.assert_close(g, r, rtol=0, atol=5e-6 * scale, msg=msg)


# --- forward against the reference ----------------------------------------------------------


@not_in_child
@settings(max_examples=40, deadline=None)
@given(case=cases(), chunk=st.sampled_from([1, 3, 8, 64]))
def test_torch_backends_match_reference(case, chunk):
    x, kw = case
    ref = as_tuple(selective_scan(**x, **kw, backend="reference"))
    for name, got in (
        ("torch_loop", selective_scan(**x, **kw, backend="torch_loop")),
        ("torch", selective_scan(**x, **kw, backend="torch")),
        (f"chunked({chunk})", selective_scan_chunked(**x, **kw, chunk=chunk)),
    ):
        got = as_tuple(got)
        assert len(got) == len(ref), name
        # float64 everywhere; only the order of the sums differs (chunked: pairwise decays)
        for g, r in zip(got, ref):
            assert g.dtype == torch.float64 and g.shape == r.shape, name
            torch.testing.assert_close(g, r, rtol=0, atol=1e-11 * scale_of(ref), msg=name)


@not_in_child
@settings(max_examples=40, deadline=None)
@given(case=cases())
def test_numba_matches_reference(case):
    x, kw = case
    ref = as_tuple(selective_scan(**x, **kw, backend="reference"))
    got = as_tuple(selective_scan(**x, **kw, backend="numba"))
    assert len(got) == len(ref)
    assert_float32_close(got, ref, "numba")


# N = 16 takes the numba kernels' vector-IR path (kernels/simd.py): 8 steps at a time, then
# a tail of L mod 8 single steps, so lengths up to 20 cover blocks, tails and both together
# (16 states draw many values: hypothesis' data-size check is off for this one); the
# backward recomputes through it in segments of CHECKPOINT_EVERY steps (70, 131 > 64)
STATE16 = st.just(16)


@not_in_child
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.data_too_large])
@given(case=cases(max_length=20, states=STATE16))
def test_numba_state16_matches_reference(case):
    x, kw = case
    ref = as_tuple(selective_scan(**x, **kw, backend="reference"))
    got = as_tuple(selective_scan(**x, **kw, backend="numba"))
    assert len(got) == len(ref)
    assert_float32_close(got, ref, "numba")


@not_in_child
@pytest.mark.parametrize("length", [1, 7, 8, 9, 64, 70, 131])
def test_numba_state16_gradients_match_torch_autograd(length):
    case = make_inputs(length, 2, 4, 16, length, 2, None, set(OPTIONS))
    assert_kernel_gradients_match_torch(case, "numba")


@not_in_child
@settings(max_examples=10, deadline=None)
@given(case=cases())
def test_float32_inputs_give_float32_outputs(case):
    x, kw = with_dtype(case, torch.float32)
    ref = as_tuple(selective_scan(**x, **kw, backend="reference"))
    for backend in ("torch_loop", "torch", "numba", "auto"):
        got = as_tuple(selective_scan(**x, **kw, backend=backend))
        assert all(g.dtype == torch.float32 for g in got), backend
        # float32 torch paths accumulate in float32 too: same bound as the kernels
        assert_float32_close(got, ref, backend)


# --- the kernel's exp ---------------------------------------------------------------------


@not_in_child
def test_exp32_matches_exp_within_two_ulp():
    import numpy as np

    from stylelab.kernels.ssm_cpu import exp32

    edges = [-1000, -87.33, -87.0, -86.99, -86.98, -1e-6, 0, 1e-6, 88.72, 88.7228, 88.73, 100]
    xs = np.concatenate([np.linspace(-90, 90, 4001), edges]).astype(np.float32)
    for x in xs:
        got, want = float(exp32(x)), float(np.exp(np.float64(x)))
        if want < 1.7e-38:  # flushed to zero near the smallest normal float32 (1.2e-38)
            assert got == 0.0 or abs(got - want) <= 2.4e-7 * want, x
        elif want > float(np.finfo(np.float32).max):
            assert got == float("inf"), x
        else:  # float32 rounding alone is 0.5 ulp; Cephes' polynomial adds about as much
            assert abs(got - want) <= 2.0**-22 * want, (x, got, want)


# --- extreme values ---------------------------------------------------------------------------


def _extreme_inputs(step_sizes, seed=0, state=4):
    """u, B, C random; the step size Δ given (batch, D, L); A = -(1..N) as Mamba's init."""
    batch, channels, length = step_sizes.shape
    g = torch.Generator().manual_seed(seed)
    return {
        "u": torch.randn(batch, channels, length, generator=g, dtype=torch.float64),
        "delta": step_sizes,
        "A": -torch.arange(1.0, state + 1, dtype=torch.float64).repeat(channels, 1),
        "B": torch.randn(batch, state, length, generator=g, dtype=torch.float64),
        "C": torch.randn(batch, state, length, generator=g, dtype=torch.float64),
    }


@not_in_child
@pytest.mark.parametrize(
    "kind",
    ["tiny", "huge", "mixed"],
)
def test_extreme_step_sizes(kind):
    g = torch.Generator().manual_seed(1)
    shape = (1, 3, 150)
    if kind == "tiny":  # Δ ~ 1e-6: decays 1 - 1e-6·|A|, the state barely moves
        dt = 1e-6 * (0.5 + torch.rand(shape, generator=g, dtype=torch.float64))
    elif kind == "huge":  # Δ·|A| from 50 to 1000: exp underflows (to 0 below e^-745 / e^-87)
        dt = 50 + 950 * torch.rand(shape, generator=g, dtype=torch.float64)
    else:  # resets between long stretches of memory: the chunked path's hardest case
        dt = torch.where(torch.rand(shape, generator=g) < 0.2, 300.0, 1e-3).double()
    x = _extreme_inputs(dt)
    y_ref, h_ref = selective_scan(**x, return_last_state=True, backend="reference")
    ref = (y_ref, h_ref)
    for backend in ("torch_loop", "torch"):
        got = selective_scan(**x, return_last_state=True, backend=backend)
        for g_, r in zip(got, ref):
            torch.testing.assert_close(g_, r, rtol=0, atol=1e-11 * scale_of(ref), msg=backend)
    assert_float32_close(selective_scan(**x, return_last_state=True, backend="numba"), ref)
    assert torch.isfinite(y_ref).all()
    # N = 16: the numba kernel's vector-IR path, on the same step sizes
    x16 = _extreme_inputs(dt, state=16)
    ref16 = selective_scan(**x16, return_last_state=True, backend="reference")
    got16 = selective_scan(**x16, return_last_state=True, backend="numba")
    assert_float32_close(got16, ref16, "numba, N = 16")


@not_in_child
def test_long_sequence_numba_against_torch():
    # L = 4096 is too long for the Python reference; the float64 torch loop stands in
    g = torch.Generator().manual_seed(2)
    shape = (1, 4, 4096)
    x = _extreme_inputs(torch.randn(shape, generator=g, dtype=torch.float64), seed=3)
    kw = {"delta_softplus": True, "delta_bias": torch.full((4,), -2.0, dtype=torch.float64)}
    kw["return_last_state"] = True
    ref = selective_scan(**x, **kw, backend="torch_loop")
    chunked = selective_scan(**x, **kw, backend="torch")
    for c, r in zip(chunked, ref):
        torch.testing.assert_close(c, r, rtol=0, atol=1e-10 * scale_of(ref))
    # float32 over 4096 steps: the state forgets (Δ|A| ~ 0.1 per step), so errors do not
    # grow with L; same bound as the short sequences
    assert_float32_close(selective_scan(**x, **kw, backend="numba"), ref, "numba")


# --- step sizes above the softplus threshold --------------------------------------------------
# Above SOFTPLUS_THRESHOLD = 20 every tier takes softplus(x) = x (the kernels branch on it).
# One fixed example puts the raw step size delta + delta_bias on both sides of it in every
# channel; every backend's outputs and gradients are compared with the reference's, the
# gradients with central differences of the float64 reference.

SOFTPLUS_INPUTS = ("u", "delta", "A", "B", "C", "D", "z", "delta_bias")


@functools.cache
def _beyond_softplus_threshold_reference():
    """The case, the reference's (y, last_state), fixed cotangents for both, and the gradient
    of Σ cotangent · output for every input by central differences of the reference."""
    from stylelab.kernels.ssm_reference import selective_scan_reference

    x, kw = beyond_softplus_threshold_case()
    arrays_ = {name: {**x, **kw}[name].numpy().copy() for name in SOFTPLUS_INPUTS}

    def outputs():
        return selective_scan_reference(*arrays_.values(), True, True)

    y, last_state = outputs()
    g = torch.Generator().manual_seed(7)
    cotangents = [torch.randn(o.shape, generator=g, dtype=torch.float64) for o in (y, last_state)]

    def loss():
        return sum(float((o * w.numpy()).sum()) for o, w in zip(outputs(), cotangents))

    grads = {}
    for name, a in arrays_.items():
        grad = np.empty_like(a)
        for i in np.ndindex(a.shape):
            keep = a[i]
            a[i] = up = keep + 1e-6 * max(1.0, abs(keep))
            loss_up = loss()
            a[i] = down = keep - 1e-6 * max(1.0, abs(keep))
            grad[i] = (loss_up - loss()) / (up - down)
            a[i] = keep
        grads[name] = torch.from_numpy(grad)
    ref = (torch.from_numpy(y), torch.from_numpy(last_state))
    return x, kw, ref, cotangents, grads


def assert_beyond_softplus_threshold_matches_reference(backend):
    x, kw, ref, cotangents, ref_grads = _beyond_softplus_threshold_reference()
    raw = x["delta"] + kw["delta_bias"][:, None]
    assert ((raw > SOFTPLUS_THRESHOLD).any(-1) & (raw < SOFTPLUS_THRESHOLD).any(-1)).all()
    leaves = {k: v.clone().requires_grad_() for k, v in {**x, **kw}.items() if k in ref_grads}
    flags = {k: v for k, v in kw.items() if k not in leaves}
    got = selective_scan(**leaves, **flags, backend=backend)
    sum((o * w).sum() for o, w in zip(got, cotangents)).backward()
    float64 = backend in ("torch_loop", "torch")
    if float64:  # only the order of the sums differs
        for g, r in zip(got, ref):
            torch.testing.assert_close(g, r, rtol=0, atol=1e-11 * scale_of(ref), msg=backend)
    else:
        assert_float32_close([o.detach() for o in got], ref, backend)
    for name, want in ref_grads.items():
        got_grad = leaves[name].grad
        # central differences (step 1e-6) of the reference agree with float64 autograd to
        # 2e-9 of the largest gradient: 1e-7 leaves 50x; float32 kernels as in
        # assert_kernel_gradients_match_torch (measured 2e-7)
        scale = float(want.abs().max())
        atol = (1e-7 if float64 else 2e-5) * scale
        torch.testing.assert_close(got_grad, want, rtol=0, atol=atol, msg=f"{backend} d{name}")


@not_in_child
@pytest.mark.parametrize("backend", ["torch_loop", "torch", "numba"])
def test_step_sizes_beyond_the_softplus_threshold(backend):
    assert_beyond_softplus_threshold_matches_reference(backend)


# --- gradients --------------------------------------------------------------------------------

GRAD_OPTIONS = {"D", "z", "delta_bias", "delta_softplus", "return_last_state"}


@not_in_child
@pytest.mark.parametrize("path", ["loop", "chunked"])
def test_torch_paths_pass_gradcheck(path):
    # grouped B (2 groups of 2 channels) and plain C; every optional input and both outputs
    x, kw = make_inputs(5, 1, 4, 2, 7, 2, None, GRAD_OPTIONS)
    names = list(x) + ["D", "z", "delta_bias"]
    tensors = [x[k] for k in x] + [kw[k] for k in ("D", "z", "delta_bias")]

    def fn(*args):
        named = dict(zip(names, args))
        flags = {"delta_softplus": True, "return_last_state": True}
        if path == "loop":
            return selective_scan_loop(**named, **flags)
        return selective_scan_chunked(**named, **flags, chunk=3)  # 7 = 3 + 3 + 1: carry + pad

    inputs = [t.clone().requires_grad_() for t in tensors]
    assert torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-7)


@not_in_child
@settings(max_examples=10, deadline=None)
@given(case=cases(max_length=30))
def test_numba_gradients_match_torch_autograd(case):
    assert_kernel_gradients_match_torch(case, "numba")


def assert_kernel_gradients_match_torch(case, backend):
    """Gradients of every input, through both outputs, against float64 torch autograd."""
    x, kw = case
    grads = {}
    gen = torch.Generator().manual_seed(0)  # cotangents: fixed, the inputs are what is drawn
    cotangents = None
    for name in ("torch_loop", backend):
        leaves = {k: v.clone().requires_grad_() for k, v in x.items()}
        opt = {
            k: (v.clone().requires_grad_() if isinstance(v, torch.Tensor) else v)
            for k, v in kw.items()
        }
        outs = as_tuple(selective_scan(**leaves, **opt, backend=name))
        if cotangents is None:  # the same random cotangents for both backends
            cotangents = [torch.randn(o.shape, generator=gen, dtype=o.dtype) for o in outs]
        sum((o * w).sum() for o, w in zip(outs, cotangents)).backward()
        every = {**leaves, **{k: v for k, v in opt.items() if isinstance(v, torch.Tensor)}}
        grads[name] = {k: v.grad for k, v in every.items()}
    for name, want in grads["torch_loop"].items():
        got = grads[backend][name]
        assert got is not None and got.dtype == want.dtype and got.shape == want.shape, name
        # float32 forward recomputed in the backward, and sums over up to L·D terms (dA, dB):
        # 2e-5 of the largest gradient (measured errors are ~3e-7 of it)
        scale = float(want.abs().max()) + 1e-300
        torch.testing.assert_close(got, want, rtol=0, atol=2e-5 * scale, msg=name)


@not_in_child
def test_numba_gradient_only_for_inputs_that_ask():
    x, kw = make_inputs(7, 1, 2, 3, 9, None, None, {"D"})
    u = x.pop("u").requires_grad_()
    y = selective_scan(u, **x, **kw, backend="numba")
    y.sum().backward()
    assert u.grad is not None and u.grad.shape == u.shape
    assert x["A"].grad is None and kw["D"].grad is None


# --- errors -----------------------------------------------------------------------------------


def _good(dtype=torch.float32):
    return make_inputs(0, 2, 4, 3, 6, None, None, {"D", "z", "delta_bias"}, dtype=dtype)


@not_in_child
@pytest.mark.parametrize(
    "name, bad, pattern",
    [
        ("u", torch.zeros(2, 4), r"u must be \(batch, channels D, length L\).*\(2, 4\)"),
        ("delta", torch.zeros(2, 4, 5), r"delta must be .*\(2, 4, 6\); got shape \(2, 4, 5\)"),
        ("A", torch.zeros(3, 3), r"A must be \(D, N\) = \(4, N\).*\(3, 3\)"),
        ("B", torch.zeros(2, 4, 6), r"B must be \(batch, N, L\) = \(2, 3, 6\).*\(2, 4, 6\)"),
        ("C", torch.zeros(2, 1, 3, 5), r"C must be .*got shape \(2, 1, 3, 5\)"),
        ("B", torch.zeros(2, 3, 3, 6), r"B has 3 groups, which does not divide the D = 4"),
        ("D", torch.zeros(3), r"D must be \(D,\).*\(4,\); got shape \(3,\)"),
        ("z", torch.zeros(1, 4, 6), r"z must be .*\(2, 4, 6\); got shape \(1, 4, 6\)"),
        ("delta_bias", torch.zeros(4, 1), r"delta_bias must be .*\(4,\)"),
        ("u", torch.zeros(2, 0, 6), r"every size >= 1"),
    ],
)
def test_bad_shapes_name_the_argument(name, bad, pattern):
    x, kw = _good()
    (x if name in x else kw)[name] = bad
    with pytest.raises(StylelabError, match=pattern):
        selective_scan(**x, **kw)


@not_in_child
def test_bad_dtypes_devices_values_and_backends(monkeypatch):
    x, kw = _good()
    with pytest.raises(StylelabError, match="A is torch.float64 but u is torch.float32"):
        selective_scan(**{**x, "A": x["A"].double()}, **kw)
    with pytest.raises(StylelabError, match="u has dtype torch.float16"):
        selective_scan(**{k: v.half() for k, v in x.items()})
    with pytest.raises(StylelabError, match="C must be a torch.Tensor, got ndarray"):
        selective_scan(**{**x, "C": x["C"].numpy()})
    with pytest.raises(StylelabError, match=r"different devices \(.*D on meta"):
        selective_scan(**x, **{**kw, "D": kw["D"].to("meta")})
    with pytest.raises(StylelabError, match="z contains NaN or Inf"):
        selective_scan(**x, **{**kw, "z": kw["z"].index_fill(2, torch.tensor([1]), float("inf"))})
    huge = torch.full_like(x["u"], 3e38)  # finite, but its sum overflows: still accepted
    assert torch.isinf(huge.sum()) and selective_scan(**{**x, "u": huge}).shape == huge.shape
    with pytest.raises(StylelabError, match="unknown backend 'fortran'"):
        selective_scan(**x, backend="fortran")
    with pytest.raises(StylelabError, match="N <= 64"):
        big = make_inputs(0, 1, 2, 65, 3, None, None, set(), dtype=torch.float32)[0]
        selective_scan(**big, backend="cuda")
    monkeypatch.delenv("NUMBA_ENABLE_CUDASIM", raising=False)
    from stylelab.kernels import cuda_available

    if not cuda_available():
        with pytest.raises(StylelabError, match="needs an NVIDIA GPU"):
            selective_scan(**x, backend="cuda")


# --- the CUDA kernels on a real GPU (skipped without one) ----------------------------------


@not_in_child
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs an NVIDIA GPU")
@pytest.mark.parametrize("backend", ["cuda", "torch", "auto"])
def test_gpu_backends_match_reference(backend):
    case = (11, 2, 6, 5, 300, 3, None, set(OPTIONS))
    x, kw = make_inputs(*case)
    ref = as_tuple(selective_scan(**x, **kw, backend="torch_loop"))
    on_gpu = {k: v.cuda().float() for k, v in x.items()}
    kw_gpu = {k: v.cuda().float() if isinstance(v, torch.Tensor) else v for k, v in kw.items()}
    got = as_tuple(selective_scan(**on_gpu, **kw_gpu, backend=backend))
    assert all(g.is_cuda for g in got)
    assert_float32_close([g.cpu().double() for g in got], ref, backend)


# --- the CUDA kernel, under numba's simulator -----------------------------------------------
# The simulator must be switched on before numba.cuda is first imported, so the tests below
# run in a child pytest process of this same module, started with NUMBA_ENABLE_CUDASIM=1.

CHILD_TESTS = (
    "test_cuda_matches_reference",
    "test_cuda_extremes",
    "test_cuda_beyond_the_softplus_threshold",
    "test_cuda_gradients",
)


@only_in_child
@settings(max_examples=8, deadline=None)
@given(case=cases(max_length=20))
def test_cuda_matches_reference(case):
    import numba

    assert numba.config.ENABLE_CUDASIM
    x, kw = case
    ref = as_tuple(selective_scan(**x, **kw, backend="reference"))
    got = as_tuple(selective_scan(**x, **kw, backend="cuda"))
    assert len(got) == len(ref)
    assert_float32_close(got, ref, "cuda")


@only_in_child
def test_cuda_extremes():
    g = torch.Generator().manual_seed(4)
    for dt in (
        1e-6 * torch.ones(1, 2, 30, dtype=torch.float64),
        50 + 950 * torch.rand(1, 2, 30, generator=g, dtype=torch.float64),
    ):
        x = _extreme_inputs(dt)
        ref = selective_scan(**x, return_last_state=True, backend="reference")
        assert_float32_close(selective_scan(**x, return_last_state=True, backend="cuda"), ref)


@only_in_child
def test_cuda_beyond_the_softplus_threshold():
    assert_beyond_softplus_threshold_matches_reference("cuda")


@only_in_child
@settings(max_examples=6, deadline=None)
@given(case=cases(max_length=20))
def test_cuda_gradients(case):
    assert_kernel_gradients_match_torch(case, "cuda")


@not_in_child
def test_cuda_kernel_under_simulator():
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", STYLELAB_SSM_CUDASIM_CHILD="1")
    cmd = [sys.executable, "-m", "pytest", __file__, "-q", "-p", "no:cacheprovider"]
    cmd += ["-k", " or ".join(CHILD_TESTS)]
    proc = subprocess.run(
        cmd, env=env, capture_output=True, text=True, timeout=300, cwd=Path(__file__).parents[2]
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    passed = re.search(r"(\d+) passed", proc.stdout)
    assert passed and int(passed.group(1)) == len(CHILD_TESTS), proc.stdout[-3000:]
