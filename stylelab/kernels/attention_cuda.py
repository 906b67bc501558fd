"""Streamed all-to-all attention as a numba.cuda kernel: one thread per (head, query).

The same online softmax as `attention_cpu.streamed_attention` (read its docstring for the
recurrence): the running maximum keeps every exponent <= 0, and the (Lq, Lk) scores are never
stored, so memory is O(Lq·dv) on the GPU too. Each thread keeps its dv running sums in
registers-or-local memory (a fixed MAX_DV array), which is the simple form; a tiled version
that shares key blocks between threads through shared memory is the next step for speed.

Accumulators have the inputs' precision (float32 on a GPU, as the RWKV kernels). Forward
only. Without a GPU it runs under the numba CUDA simulator (NUMBA_ENABLE_CUDASIM=1 set before
numba is imported): slow, for tiny correctness checks.
"""

from __future__ import annotations

import math

import torch
from numba import cuda, float32, float64

from stylelab.core.errors import StylelabError
from stylelab.kernels import require_cuda
from stylelab.kernels.cuda_glue import Device

MAX_DV = 128  # per-thread accumulator length: channels per head, at most


def _make_kernel(acc):
    @cuda.jit
    def kernel(q, k, v, out):
        # q (h, Lq, d), k (h, Lk, d), v (h, Lk, dv), out (h, Lq, dv)
        heads, lq, d = q.shape
        lk = k.shape[1]
        dv = v.shape[2]
        task = cuda.grid(1)
        if task >= heads * lq:
            return
        h = task // lq
        p = task % lq
        sums = cuda.local.array(MAX_DV, acc)
        for c in range(dv):
            sums[c] = acc(0.0)
        top = acc(-math.inf)
        total = acc(0.0)
        for j in range(lk):
            s = acc(0.0)
            for c in range(d):
                s += acc(q[h, p, c]) * acc(k[h, j, c])
            if s > top:
                shrink = math.exp(top - s)
                total *= shrink
                for c in range(dv):
                    sums[c] *= shrink
                top = s
            w = math.exp(s - top)
            total += w
            for c in range(dv):
                sums[c] += w * acc(v[h, j, c])
        for c in range(dv):
            out[h, p, c] = sums[c] / total

    return kernel


_KERNELS: dict = {}


def streamed_attention_cuda(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """q (h, Lq, d), k (h, Lk, d), v (h, Lk, dv) torch tensors -> (h, Lq, dv) on q's device."""
    require_cuda("all_to_all")
    if v.shape[-1] > MAX_DV:
        raise StylelabError(
            f"all_to_all backend 'cuda' holds at most {MAX_DV} channels per head, got "
            f"{v.shape[-1]}; use more heads or backend='numba'"
        )
    if q.dtype not in _KERNELS:
        _KERNELS[q.dtype] = _make_kernel(float32 if q.dtype == torch.float32 else float64)
    dev = Device(q, dtype=q.dtype)
    out, out_dev = dev.empty(q.shape[0], q.shape[1], v.shape[-1])
    inputs = [dev.put(t) for t in (q, k, v)]
    dev.launch(_KERNELS[q.dtype], q.shape[0] * q.shape[1], *inputs, out_dev)
    return dev.get(out)
