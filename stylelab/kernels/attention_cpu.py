"""Streamed all-to-all attention as a numba CPU kernel: an online softmax (the flash-attention
recurrence), so the (Lq, Lk) score matrix is never stored. Memory O(Lq·dv), time O(Lq·Lk·d).

Per query p (one thread of the prange), with keys taken one at a time:

    s_j = <q_p, k_j>
    m_j = max(m_{j-1}, s_j)                              the running maximum
    l_j = l_{j-1} e^{m_{j-1} - m_j} + e^{s_j - m_j}      the running denominator
    a_j = a_{j-1} e^{m_{j-1} - m_j} + e^{s_j - m_j} v_j  the running numerator (dv numbers)
    out_p = a_L / l_L

Every exponent is <= 0, so large logits do not overflow. Accumulators are float64 (the inputs
may be float32). No autograd: the training path is `stylelab.attention.ops.all_to_all`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True)
def streamed_attention(q, k, v):
    """q (h, Lq, d), k (h, Lk, d), v (h, Lk, dv) -> (h, Lq, dv), softmax over the Lk keys."""
    heads, lq, d = q.shape
    lk, dv = k.shape[1], v.shape[2]
    out = np.empty((heads, lq, dv), dtype=q.dtype)
    for task in prange(heads * lq):
        h, p = task // lq, task % lq
        acc = np.zeros(dv)  # float64
        top, total = -math.inf, 0.0
        for j in range(lk):
            s = 0.0
            for c in range(d):
                s += q[h, p, c] * k[h, j, c]
            if s > top:  # rescale what is summed so far to the new maximum
                shrink = math.exp(top - s)
                total *= shrink
                for c in range(dv):
                    acc[c] *= shrink
                top = s
            w = math.exp(s - top)
            total += w
            for c in range(dv):
                acc[c] += w * v[h, j, c]
        for c in range(dv):
            out[h, p, c] = acc[c] / total
    return out
