"""Bi-WKV computed as written, every weight exponentiated on its own: chapter 3's example
of what overflows.

Not a backend and not a reference: `stylelab.rwkv.bi_wkv` computes the same definition
safely (`stylelab.kernels.wkv_reference` subtracts the largest exponent; the kernels carry
a running maximum). This version exists to be run in float32 and float16 next to them, so
the chapter can show e^{120} turning into inf and inf / inf into nan.
"""

from __future__ import annotations

import torch


def naive_bi_wkv(w, u, k, v):
    """Bi-WKV by its formula, in the inputs' dtype. w, u (C,); k, v (B, T, C) -> (B, T, C)."""
    T = k.shape[1]
    pos = torch.arange(T)
    steps = ((pos[:, None] - pos[None, :]).abs() - 1).to(k.dtype)  # (T, T): |t - i| - 1
    log_a = -steps[..., None] * (w / T)  # (T, T, C)
    log_a = torch.where(torch.eye(T, dtype=torch.bool)[..., None], u / T, log_a)
    weights = torch.exp(log_a[None] + k[:, None, :, :])  # (batch, T_out, T_in, C)
    return (weights * v[:, None]).sum(2) / weights.sum(2)
