"""WKV (RWKV-4, causal) and Bi-WKV (Vision-RWKV, bidirectional): the RWKV token mixers.

Per channel c, each output is a weighted average of the values, with weights e^{k_i} times a
factor that decays with the distance between the output position t and the token i:

    wkv_t = Σ_i a_{t,i} e^{k_i} v_i / Σ_i a_{t,i} e^{k_i}

    wkv     a_{t,i} = e^{(t-1-i)·w} (i < t),         e^{u} (i = t),    0 (i > t)
    bi_wkv  a_{t,i} = e^{-(|t-i|-1)·w/T} (i ≠ t),     e^{u/T} (i = t)

Sign conventions follow the two kernels these come from (mechanisms.md §5.1, §5.2): in `wkv`,
w is the decay as the RWKV-4 kernel receives it (the model passes -exp(time_decay)), so
w < 0 decays; in `bi_wkv`, w > 0 decays and both w and u are divided by T here, so the total
decay across a sequence is |w| whatever the image size.

No EPS in the denominator. Vision-RWKV's kernel adds 1e-6 to its max-normalised denominator,
which makes its output depend on the normaliser rather than only on the definition; and
normalised, the denominator is always >= 1 (one of its terms is e^0 = 1 times a sum that
contains a 1), so there is no division by zero to guard against.

Shapes: k, v (B, T, C); w, u (C,); output (B, T, C) in k's dtype.

Backends (`backend=`):
    "reference"    the O(T²) definition as Python loops in float64 (kernels/wkv_reference.py)
    "torch_dense"  the O(T²) definition as one softmax in torch (autograd; small T only)
    "torch"        vectorised O(T) forms with autograd, the training path:
                   bi_wkv: two cumsums (past and future) while |w| + log T fits the dtype,
                   else chunked; wkv: chunked (dense softmax inside a chunk, a running
                   state between chunks)
    "torch_chunked" the chunked form for both ops, whatever w is
    "torch_loop"   the running-max recurrence (one pass causal, two passes bidirectional) as a
                   torch loop over t: the kernel, readable, in the input dtype
    "numba"        CPU kernels, float64 accumulators, forward + backward (kernels/wkv_cpu.py)
    "cuda"         numba.cuda kernels (kernels/wkv_cuda.py), forward + backward
    "auto"         numba on CPU; on CUDA, cuda without grad, torch with grad
"""

from __future__ import annotations

import math

import torch
from einops import rearrange

from stylelab.core.checks import all_finite
from stylelab.core.errors import StylelabError
from stylelab.kernels import resolve_backend

# extra backends of this op, beyond stylelab.kernels.BACKENDS
EXTRA_BACKENDS = ("torch_dense", "torch_chunked", "torch_loop")
CHUNK = 32  # chunked torch path: tokens per chunk (memory B·T·CHUNK·C, compute the same)
# The cumsum form of Bi-WKV holds sums up to T·e^{|w|}: use it while |w| + log T stays this far
# below the dtype's largest exponent (88.7 for float32), else the chunked form. At the limit,
# terms flushed to zero weigh < e^{-12} relative to the largest one.
CUMSUM_MAX_EXPONENT = {torch.float32: 75.0, torch.float64: 690.0}
_NEG = -1e38  # "minus infinity" that stays finite in float32, as in the RWKV-4 kernel


def wkv(w, u, k, v, backend: str = "auto") -> torch.Tensor:
    """Causal RWKV-4 WKV. w, u: (C,) with w < 0 decaying; k, v: (B, T, C) -> (B, T, C)."""
    _check_inputs("wkv", w, u, k, v)
    return _dispatch(w, u, k, v, bidirectional=False, backend=backend)


def bi_wkv(w, u, k, v, backend: str = "auto") -> torch.Tensor:
    """Vision-RWKV Bi-WKV. w, u: (C,), divided by T here, w > 0 decaying; k, v: (B, T, C)."""
    _check_inputs("bi_wkv", w, u, k, v)
    return _dispatch(w, u, k, v, bidirectional=True, backend=backend)


# ---------------------------------------------------------------------------------------------
# input checks and dispatch


def _check_inputs(op, w, u, k, v) -> None:
    for name, t in (("w", w), ("u", u), ("k", k), ("v", v)):
        if not isinstance(t, torch.Tensor):
            raise StylelabError(f"{op}: {name} must be a torch.Tensor, got {type(t).__name__}")
    if k.ndim != 3 or v.shape != k.shape:
        raise StylelabError(
            f"{op}: k and v must both be (batch, T, channels); got k {tuple(k.shape)}, "
            f"v {tuple(v.shape)}. Flatten images to (B, H*W, C) first (stylelab.scan_orders)."
        )
    if min(k.shape) < 1:
        raise StylelabError(f"{op}: empty input {tuple(k.shape)}; need batch, T, channels >= 1")
    channels = k.shape[2]
    if w.shape != (channels,) or u.shape != (channels,):
        raise StylelabError(
            f"{op}: w and u must be ({channels},), one value per channel of k; "
            f"got w {tuple(w.shape)}, u {tuple(u.shape)}"
        )
    for name, t in (("k", k), ("v", v), ("w", w), ("u", u)):
        if t.dtype not in (torch.float32, torch.float64):
            raise StylelabError(
                f"{op}: {name} has dtype {t.dtype}; use float32 or float64 (call .float())"
            )
    if v.dtype != k.dtype:
        raise StylelabError(f"{op}: k is {k.dtype} but v is {v.dtype}; give both the same dtype")
    devices = {t.device for t in (w, u, k, v)}
    if len(devices) > 1:
        raise StylelabError(
            f"{op}: inputs are on different devices {sorted(map(str, devices))}; move them to one"
        )
    for name, t in (("k", k), ("v", v), ("w", w), ("u", u)):
        if not all_finite(t):
            raise StylelabError(f"{op}: {name} contains NaN or Inf; check the layer feeding it")


def _dispatch(w, u, k, v, bidirectional: bool, backend: str) -> torch.Tensor:
    length = k.shape[1]
    w, u = w.to(k.dtype), u.to(k.dtype)
    # one parametrisation for both ops: lam = log of the per-step decay factor, mu = log bonus
    lam, mu = (-w / length, u / length) if bidirectional else (w, u)
    needs_grad = torch.is_grad_enabled() and any(t.requires_grad for t in (w, u, k, v))
    if backend not in EXTRA_BACKENDS:
        backend = resolve_backend(backend, k, needs_grad=needs_grad)
    if backend == "reference":
        return _reference(lam, mu, k, v, bidirectional)
    if backend == "torch_dense":
        return _torch_dense(lam, mu, k, v, bidirectional)
    if backend == "torch":
        if bidirectional and _cumsum_fits(w, k):
            return _torch_cumsum_bi(lam, mu, k, v)
        return _torch_chunked(lam, mu, k, v, bidirectional)
    if backend == "torch_chunked":
        return _torch_chunked(lam, mu, k, v, bidirectional)
    if backend == "torch_loop":
        return _torch_loop(lam, mu, k, v, bidirectional)
    if backend == "numba":
        if k.is_cuda:
            raise StylelabError(
                "backend 'numba' runs on the CPU but the inputs are on CUDA; "
                "use backend='cuda' (no grad) or 'torch', or move the tensors with .cpu()"
            )
        return _NumbaWKV.apply(lam, mu, k, v, bidirectional)
    if backend == "cuda":
        return _CudaWKV.apply(lam, mu, k, v, bidirectional)
    raise AssertionError(f"unhandled backend {backend!r}")  # resolve_backend checked the name


# ---------------------------------------------------------------------------------------------
# tier 1: the definition


def _reference(lam, mu, k, v, bidirectional: bool) -> torch.Tensor:
    from stylelab.kernels.wkv_reference import wkv_reference

    # the reference takes Bi-WKV's w already divided by T, with w > 0 decaying
    w_ref = (-lam if bidirectional else lam).double().tolist()
    out = wkv_reference(
        w_ref, mu.double().tolist(), k.double().tolist(), v.double().tolist(), bidirectional
    )
    return torch.tensor(out, dtype=k.dtype, device=k.device)


def _log_weights(lam, mu, length: int, bidirectional: bool) -> torch.Tensor:
    """log a_{t,i}: (T, T, C), -inf where a token is not seen."""
    pos = torch.arange(length, device=lam.device)
    dist = (pos[:, None] - pos[None, :]).to(lam.dtype)  # t - i
    steps = dist.abs() - 1  # decay steps between i and t
    log_a = steps[..., None] * lam  # (T, T, C)
    eye = torch.eye(length, dtype=torch.bool, device=lam.device)[..., None]
    log_a = torch.where(eye, mu.expand_as(log_a), log_a)
    if not bidirectional:
        log_a = log_a.masked_fill((dist < 0)[..., None], float("-inf"))
    return log_a


def _torch_dense(lam, mu, k, v, bidirectional: bool) -> torch.Tensor:
    """softmax_i(log a_{t,i} + k_i) · v: the definition in one op. Memory B·T²·C."""
    log_a = _log_weights(lam, mu, k.shape[1], bidirectional)  # (T, T, C)
    attn = torch.softmax(log_a[None] + k[:, None, :, :], dim=2)  # (B, T_out, T_in, C)
    return (attn * v[:, None, :, :]).sum(dim=2)  # (B, T, C)


# ---------------------------------------------------------------------------------------------
# tier 2: vectorised torch with autograd


def _exclusive_cumsum(x: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """Σ_{i<t} x_i along `dim` (shifting the inclusive sum; never subtracting, which cancels)."""
    c = torch.cumsum(x, dim=dim)
    zero = torch.zeros_like(c.narrow(dim, 0, 1))
    return torch.cat([zero, c.narrow(dim, 0, c.shape[dim] - 1)], dim=dim)


def _torch_cumsum_bi(lam, mu, k, v) -> torch.Tensor:
    """Bi-WKV with two cumsums, O(T·C) (mechanisms.md §5.2, vectorised alternative).

    Past side: Σ_{i<t} e^{(t-1-i)λ + k_i} v_i = e^{(t-1-h)λ} · Σ_{i<t} e^{(h-i)λ + k_i - k_max} v_i
    (× e^{k_max}, which cancels). Centring at h = (T-1)/2 keeps both exponents within ±|w|/2
    because λ = -w/T. The sums themselves reach T·e^{|w|} (w < 0 favours far tokens), and the
    k_max token weighs at least e^{-|w|}; terms that underflow (below e^{-87} in float32) are
    then below e^{-87+|w|+log T} of the denominator. Hence the guard `_cumsum_fits`:
    |w| + log T <= 75 in float32. The future side is the same with a reversed cumsum.
    """
    length = k.shape[1]
    pos = torch.arange(length, device=k.device, dtype=k.dtype)[None, :, None]  # (1, T, 1)
    h = (length - 1) / 2
    kk = k - k.detach().amax(dim=1, keepdim=True)  # (B, T, C), <= 0
    # past side: i < t
    e_past = torch.exp((h - pos) * lam + kk)  # (B, T, C)
    out_past = torch.exp((pos - 1 - h) * lam)  # (1, T, C)
    num = out_past * _exclusive_cumsum(e_past * v)
    den = out_past * _exclusive_cumsum(e_past)
    # future side: i > t, Σ_{i>t} e^{(i-1-t)λ + k_i} v_i = e^{(h-1-t)λ} Σ_{i>t} e^{(i-h)λ + k_i} v_i
    e_fut = torch.exp((pos - h) * lam + kk).flip(1)
    out_fut = torch.exp((h - 1 - pos) * lam)
    num = num + out_fut * _exclusive_cumsum(e_fut * v.flip(1)).flip(1)
    den = den + out_fut * _exclusive_cumsum(e_fut).flip(1)
    # the token itself
    e_self = torch.exp(mu + kk)
    return (num + e_self * v) / (den + e_self)


def _cumsum_fits(w, k) -> bool:
    """Whether the cumsum form keeps float range for these inputs (see CUMSUM_MAX_EXPONENT)."""
    span = float(w.detach().abs().max()) + math.log(k.shape[1])
    return span <= CUMSUM_MAX_EXPONENT[k.dtype]


def _past_sums_chunked(lam, k, v, chunk: int = CHUNK):
    """Σ_{i<t} e^{(t-1-i)λ + k_i} (v_i, 1) = e^{m_t} (num_t, den_t), each (B, T, C).

    Inside a chunk: a dense masked log-sum-exp over the chunk's earlier tokens. Between
    chunks: a running state (p, q, o), the sums over all earlier chunks = e^{o} (p, q).
    Every exponent is shifted by a maximum first, so any λ is safe (the causal λ = w is not
    divided by T and reaches -20 and beyond). Python loop over T/chunk; work O(T·chunk·C).
    An empty sum (t = 0) has m = _NEG and num = den = 0.
    """
    outs, state = [], None
    for s in range(0, k.shape[1], chunk):
        kc, vc = k[:, s : s + chunk], v[:, s : s + chunk]  # (B, c, C)
        c = kc.shape[1]
        tau = torch.arange(c, device=k.device)
        steps = (tau[:, None] - tau[None, :] - 1).to(k.dtype)  # (c, c): t - 1 - i
        before = (steps >= 0)[None, :, :, None]  # (1, c_out, c_in, 1): i < t
        logits = (steps[..., None] * lam + kc[:, None]).masked_fill(~before, _NEG)
        m = logits.amax(dim=2)  # (B, c, C)
        if state is not None:
            p, q, o = state
            carry = o[:, None] + tau[:, None].to(k.dtype) * lam  # (B, c, C): e^{τλ}·state
            m = torch.maximum(m, carry)
        e = torch.exp(logits - m[:, :, None]) * before  # (B, c, c, C); masked terms are 0
        num, den = (e * vc[:, None]).sum(dim=2), e.sum(dim=2)
        if state is not None:
            e_carry = torch.exp(carry - m)
            num, den = num + e_carry * p[:, None], den + e_carry * q[:, None]
        outs.append((num, den, m))
        # the state at s + c: e^{cλ}·(old state) + Σ_ι e^{(c-1-ι)λ + k_ι} (v_ι, 1)
        log_in = (c - 1 - tau)[:, None].to(k.dtype) * lam + kc  # (B, c, C)
        o_new = log_in.amax(dim=1)
        if state is not None:
            o_new = torch.maximum(o_new, o + c * lam)
        e_in = torch.exp(log_in - o_new[:, None])
        p_new, q_new = (e_in * vc).sum(dim=1), e_in.sum(dim=1)
        if state is not None:
            e_old = torch.exp(o + c * lam - o_new)
            p_new, q_new = p_new + e_old * p, q_new + e_old * q
        state = (p_new, q_new, o_new)
    return [torch.cat(parts, dim=1) for parts in zip(*outs)]


def _torch_chunked(lam, mu, k, v, bidirectional: bool) -> torch.Tensor:
    """y from the past sums (and, for Bi-WKV, the future sums: the past sums of the flipped
    sequence) plus the token's own term, all under one maximum."""
    sides = [_past_sums_chunked(lam, k, v)]
    if bidirectional:
        future = _past_sums_chunked(lam, k.flip(1), v.flip(1))
        sides.append([part.flip(1) for part in future])
    bonus = mu + k
    top = bonus
    for _, _, m in sides:
        top = torch.maximum(top, m)
    e_self = torch.exp(bonus - top)
    num, den = e_self * v, e_self
    for side_num, side_den, m in sides:
        e = torch.exp(m - top)
        num, den = num + e * side_num, den + e * side_den
    return num / den


def _torch_loop(lam, mu, k, v, bidirectional: bool) -> torch.Tensor:
    """The running-max recurrence of the kernels, as a torch loop over t on (B, C) slices.

    Pass 1 (forwards) records the past-side state before each t, pass 2 (backwards, Bi-WKV
    only) the future-side state; then all T outputs are combined at once.
    """
    batch, length, channels = k.shape
    zeros = k.new_zeros(batch, channels)
    empty = (zeros, zeros, torch.full_like(zeros, _NEG))  # (p, q, o): an empty sum

    def states(ks, vs):  # state before each step: Σ over the tokens already pushed
        out, (p, q, o) = [], empty
        for kt, vt in zip(ks, vs):
            out.append((p, q, o))
            decayed = o + lam
            new_o = torch.maximum(decayed, kt)
            a, b = torch.exp(decayed - new_o), torch.exp(kt - new_o)
            p, q, o = a * p + b * vt, a * q + b, new_o
        return [torch.stack(s, dim=1) for s in zip(*out)]  # 3 × (B, T, C)

    p, q, o = states(k.unbind(1), v.unbind(1))  # past side: i < t
    if bidirectional:
        pf, qf, of = (s.flip(1) for s in states(k.flip(1).unbind(1), v.flip(1).unbind(1)))
    else:
        pf, qf, of = (s[:, None].expand(-1, length, -1) for s in empty)
    bonus = mu + k
    m = torch.maximum(torch.maximum(o, of), bonus)
    e1, e2, e3 = torch.exp(o - m), torch.exp(of - m), torch.exp(bonus - m)
    return (e1 * p + e2 * pf + e3 * v) / (e1 * q + e2 * qf + e3)


# ---------------------------------------------------------------------------------------------
# tier 3: kernels


class _NumbaWKV(torch.autograd.Function):
    """numba forward and backward (kernels/wkv_cpu.py) as one autograd op."""

    @staticmethod
    def forward(ctx, lam, mu, k, v, bidirectional):
        from stylelab.kernels.wkv_cpu import wkv_forward

        # one contiguous row per (batch, channel): what each thread of the kernel walks
        kt, vt = (rearrange(x.detach(), "b t c -> b c t").contiguous() for x in (k, v))
        lam64, mu64 = lam.detach().double().contiguous(), mu.detach().double().contiguous()
        y = wkv_forward(lam64.numpy(), mu64.numpy(), kt.numpy(), vt.numpy(), bidirectional)
        ctx.save_for_backward(lam64, mu64, kt, vt)
        ctx.bidirectional = bidirectional
        ctx.param_dtype = lam.dtype
        return rearrange(torch.from_numpy(y), "b c t -> b t c").contiguous()

    @staticmethod
    def backward(ctx, gy):
        from stylelab.kernels.wkv_cpu import wkv_backward

        lam64, mu64, kt, vt = ctx.saved_tensors
        g = rearrange(gy, "b t c -> b c t").contiguous().to(kt.dtype)
        dk, dv, dlam, dmu = wkv_backward(
            lam64.numpy(), mu64.numpy(), kt.numpy(), vt.numpy(), g.numpy(), ctx.bidirectional
        )

        def back(a):
            return rearrange(torch.from_numpy(a), "b c t -> b t c").contiguous()

        dlam = torch.from_numpy(dlam).sum(0).to(ctx.param_dtype)  # sum over the batch
        dmu = torch.from_numpy(dmu).sum(0).to(ctx.param_dtype)
        return dlam, dmu, back(dk), back(dv), None


class _CudaWKV(torch.autograd.Function):
    """numba.cuda forward and backward (kernels/wkv_cuda.py) as one autograd op."""

    @staticmethod
    def forward(ctx, lam, mu, k, v, bidirectional):
        from stylelab.kernels.wkv_cuda import wkv_forward_cuda

        ctx.save_for_backward(lam, mu, k, v)
        ctx.bidirectional = bidirectional
        return wkv_forward_cuda(lam, mu, k, v, bidirectional)

    @staticmethod
    def backward(ctx, gy):
        from stylelab.kernels.wkv_cuda import wkv_backward_cuda

        lam, mu, k, v = ctx.saved_tensors
        dk, dv, dlam, dmu = wkv_backward_cuda(lam, mu, k, v, gy.to(k.dtype), ctx.bidirectional)
        return dlam.to(lam.dtype), dmu.to(mu.dtype), dk, dv, None
