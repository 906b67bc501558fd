"""WKV and Bi-WKV forward as a numba.cuda kernel: one thread per (batch, channel).

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

Forward only: training on a GPU goes through the torch path (`stylelab.rwkv`), whose autograd
covers the backward. Without a GPU, the kernel runs under the numba CUDA simulator
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


_KERNELS: dict = {}


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
