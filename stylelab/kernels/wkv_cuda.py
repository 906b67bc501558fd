"""WKV and Bi-WKV as numba.cuda kernels, forward and backward: one thread per (batch, channel).

The same running-max recurrence as `wkv_cpu.wkv_forward` (read that module's docstring for the
math). Layout is (B, T, C): at each step t, neighbouring threads (neighbouring channels) read
neighbouring addresses, so global loads coalesce — the layout the RWKV CUDA kernels use.
The Bi-WKV future side is written to scratch arrays (B, T, C) in a first backwards pass,
then read back in the forward pass that produces y.

Accumulators have the inputs' precision: float32 in, float32 sums. That is safe because the
running max keeps every exponent <= 0 (the reason the trick exists) and it is what the
RWKV/Vision-RWKV kernels do; float64 runs at 1/32-1/64 speed on most consumer GPUs.

CUDA tensors are used in place and CPU tensors copied to the GPU and back by
`cuda_glue.Device`, as in `ssm_cuda`.

The backward is `wkv_cpu.wkv_backward`'s algorithm (its docstring derives it): the future
side with d/dlam accumulators, then the past side giving y, log D, dlam, dmu, then the
gradient sums scanned the other way. What the CPU kernel keeps in per-thread arrays lives
here in scratch arrays (B, T, C) — nine of them, so the backward needs 9·B·T·C floats of
scratch. Without a GPU, both kernels run under the numba CUDA simulator
(NUMBA_ENABLE_CUDASIM=1, set before numba is imported) — slow, for tiny correctness checks.
"""

from __future__ import annotations

import math

import torch
from numba import cuda, float32, float64

from stylelab.kernels import require_cuda
from stylelab.kernels.cuda_glue import Device


def _make_kernel(acc):
    """Compile-time specialisation on the accumulator type (float32 or float64)."""
    neg_big = acc(-1e38)  # "minus infinity" that stays finite in float32 (the RWKV-4 choice)

    @cuda.jit
    def kernel(lam, mu, k, v, y, pf, qf, of, bidirectional):
        # k, v, y, pf, qf, of: (B, T, C); lam, mu: (C,)
        batch, length, channels = k.shape
        idx = cuda.grid(1)
        if idx >= batch * channels:
            return
        b = idx // channels
        c = idx % channels
        lam_c = acc(lam[c])
        mu_c = acc(mu[c])
        if bidirectional:
            p = acc(0.0)
            q = acc(0.0)
            o = neg_big
            for t in range(length - 1, -1, -1):
                pf[b, t, c] = p
                qf[b, t, c] = q
                of[b, t, c] = o
                kt = acc(k[b, t, c])
                new_o = max(o + lam_c, kt)
                a = math.exp(o + lam_c - new_o)
                e = math.exp(kt - new_o)
                p = a * p + e * acc(v[b, t, c])
                q = a * q + e
                o = new_o
        p = acc(0.0)
        q = acc(0.0)
        o = neg_big
        for t in range(length):
            kt = acc(k[b, t, c])
            vt = acc(v[b, t, c])
            if bidirectional:
                pft = acc(pf[b, t, c])
                qft = acc(qf[b, t, c])
                oft = acc(of[b, t, c])
            else:
                pft = acc(0.0)
                qft = acc(0.0)
                oft = neg_big
            m = max(max(o, oft), mu_c + kt)
            e1 = math.exp(o - m)
            e2 = math.exp(oft - m)
            e3 = math.exp(mu_c + kt - m)
            y[b, t, c] = (e1 * p + e2 * pft + e3 * vt) / (e1 * q + e2 * qft + e3)
            new_o = max(o + lam_c, kt)
            a = math.exp(o + lam_c - new_o)
            e = math.exp(kt - new_o)
            p = a * p + e * vt
            q = a * q + e
            o = new_o

    return kernel


def _make_backward(acc):
    neg_big = acc(-1e38)

    @cuda.jit(device=True, inline=True)
    def rescale(old, key):
        """(e^{old-m}, e^{key-m}, m), m = max(old, key), as wkv_cpu._rescale."""
        if old >= key:
            return acc(1.0), math.exp(key - old), old
        return math.exp(old - key), acc(1.0), key

    @cuda.jit
    def kernel(lam, mu, k, v, gy, dk, dv, dlam, dmu, pf, qf, pdf, qdf, of, ys, logd, gv, gyy,
               bidirectional):  # fmt: skip
        # k, v, gy, dk, dv and the scratch arrays: (B, T, C); dlam, dmu: (B, C)
        batch, length, channels = k.shape
        idx = cuda.grid(1)
        if idx >= batch * channels:
            return
        b = idx // channels
        c = idx % channels
        lam_c = acc(lam[c])
        mu_c = acc(mu[c])
        # 1. future side with d/dlam accumulators (Bi-WKV); empty sums for the causal op
        p, q, pd, qd, o = acc(0.0), acc(0.0), acc(0.0), acc(0.0), neg_big
        for t in range(length - 1, -1, -1):
            pf[b, t, c] = p
            qf[b, t, c] = q
            pdf[b, t, c] = pd
            qdf[b, t, c] = qd
            of[b, t, c] = o
            if bidirectional:
                a, e, new_o = rescale(o + lam_c, acc(k[b, t, c]))
                p, q, pd, qd = a * p + e * acc(v[b, t, c]), a * q + e, a * (pd + p), a * (qd + q)
                o = new_o
        # 2. past side: y, log D, dlam, dmu, and the sums over outputs t' < t (Bi-WKV)
        p, q, pd, qd, o = acc(0.0), acc(0.0), acc(0.0), acc(0.0), neg_big
        s1, s2, og = acc(0.0), acc(0.0), neg_big
        acc_lam, acc_mu = acc(0.0), acc(0.0)
        for t in range(length):
            kt, vt, gt = acc(k[b, t, c]), acc(v[b, t, c]), acc(gy[b, t, c])
            oft = acc(of[b, t, c])
            m = max(max(o, oft), mu_c + kt)
            e1, e2, e3 = math.exp(o - m), math.exp(oft - m), math.exp(mu_c + kt - m)
            den = e1 * q + e2 * acc(qf[b, t, c]) + e3
            yt = (e1 * p + e2 * acc(pf[b, t, c]) + e3 * vt) / den
            num_d = e1 * pd + e2 * acc(pdf[b, t, c])
            den_d = e1 * qd + e2 * acc(qdf[b, t, c])
            acc_lam += gt * (num_d - yt * den_d) / den
            p_self = e3 / den
            acc_mu += gt * p_self * (vt - yt)
            ys[b, t, c] = yt
            log_d = m + math.log(den)
            logd[b, t, c] = log_d
            g_v = p_self * gt
            g_yy = p_self * gt * yt
            if bidirectional:
                scale = math.exp(min(kt + og, acc(0.0)))
                g_v += scale * s1
                g_yy += scale * s2
                a, e, og = rescale(og + lam_c, -log_d)
                s1, s2 = a * s1 + e * gt, a * s2 + e * gt * yt
            gv[b, t, c] = g_v
            gyy[b, t, c] = g_yy
            a, e, new_o = rescale(o + lam_c, kt)
            p, q, pd, qd = a * p + e * vt, a * q + e, a * (pd + p), a * (qd + q)
            o = new_o
        dlam[b, c] = acc_lam
        dmu[b, c] = acc_mu
        # 3. the sums over outputs t' > t, then dk and dv
        s1, s2, og = acc(0.0), acc(0.0), neg_big
        for t in range(length - 1, -1, -1):
            kt, vt, gt = acc(k[b, t, c]), acc(v[b, t, c]), acc(gy[b, t, c])
            scale = math.exp(min(kt + og, acc(0.0)))
            g_v = acc(gv[b, t, c]) + scale * s1
            g_yy = acc(gyy[b, t, c]) + scale * s2
            dv[b, t, c] = g_v
            dk[b, t, c] = vt * g_v - g_yy
            a, e, og = rescale(og + lam_c, -acc(logd[b, t, c]))
            s1, s2 = a * s1 + e * gt, a * s2 + e * gt * acc(ys[b, t, c])

    return kernel


_KERNELS: dict = {}
_BACKWARD: dict = {}


def _kernel_for(dtype: torch.dtype):
    if dtype not in _KERNELS:
        _KERNELS[dtype] = _make_kernel(float32 if dtype == torch.float32 else float64)
    return _KERNELS[dtype]


def wkv_forward_cuda(lam, mu, k, v, bidirectional: bool):
    """y (B, T, C) for torch tensors k, v (B, T, C) and lam, mu (C,) of one float dtype.

    Inputs are assumed checked (`stylelab.rwkv` does that). Computed in k's dtype; returns
    y on k's device.
    """
    require_cuda("bi_wkv" if bidirectional else "wkv")
    dev = Device(k, dtype=k.dtype)
    y, y_dev = dev.empty(*k.shape)
    scratch_shape = k.shape if bidirectional else (1, 1, 1)  # the future side, Bi-WKV only
    scratch = [dev.empty(*scratch_shape)[1] for _ in range(3)]
    batch, _, channels = k.shape
    inputs = [dev.put(t) for t in (lam, mu, k, v)]
    dev.launch(_kernel_for(k.dtype), batch * channels, *inputs, y_dev, *scratch, bidirectional)
    return dev.get(y)


def wkv_backward_cuda(lam, mu, k, v, gy, bidirectional: bool):
    """(dk, dv (B, T, C), dlam, dmu (C,)) for upstream gy (B, T, C): the gradients of
    `wkv_forward_cuda`, summed over the batch for lam and mu. Computed in k's dtype."""
    require_cuda("bi_wkv" if bidirectional else "wkv")
    if k.dtype not in _BACKWARD:
        _BACKWARD[k.dtype] = _make_backward(float32 if k.dtype == torch.float32 else float64)
    dev = Device(k, dtype=k.dtype)
    batch, _, channels = k.shape
    (dk, dk_dev), (dv, dv_dev) = dev.empty(*k.shape), dev.empty(*k.shape)
    (dlam, dlam_dev), (dmu, dmu_dev) = dev.empty(batch, channels), dev.empty(batch, channels)
    scratch = [dev.empty(*k.shape)[1] for _ in range(9)]
    inputs = [dev.put(t) for t in (lam, mu, k, v, gy)]
    dev.launch(
        _BACKWARD[k.dtype], batch * channels, *inputs, dk_dev, dv_dev, dlam_dev, dmu_dev,
        *scratch, bidirectional,
    )  # fmt: skip
    return dev.get(dk), dev.get(dv), dev.get(dlam).sum(0), dev.get(dmu).sum(0)
