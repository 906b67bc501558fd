"""WKV and Bi-WKV by their definitions: the O(T²) loops that every fast path is tested against.

Both ops are a weighted average of the values v over positions i, per channel c:

    wkv_t = Σ_i a_{t,i} e^{k_i} v_i  /  Σ_i a_{t,i} e^{k_i}

with a position weight a_{t,i} that depends only on the distance:

    causal RWKV-4 (w < 0 decays):      a_{t,i} = e^{(t-1-i)·w}   for i < t,   e^{u} for i = t,   0 for i > t
    Vision-RWKV Bi-WKV (w > 0 decays): a_{t,i} = e^{-(|t-i|-1)·w} for i ≠ t,   e^{u} for i = t

(for Bi-WKV, w and u here are already divided by T; `stylelab.rwkv.bi_wkv` does that).

Written for reading: plain Python floats (float64), one output at a time. Each output is a
softmax over "logits" log(a_{t,i}) + k_i, so we subtract their maximum before exponentiating —
the same value as the definition, computed without overflow for any |k| a float64 can hold.
Tiny inputs only (B·C·T² Python steps).
"""

from __future__ import annotations

import math


def _weighted_average(logits: list[float], values: list[float]) -> float:
    """Σ e^{l_i} v_i / Σ e^{l_i}, shifting the logits by their max first (softmax)."""
    top = max(logits)
    num = sum(math.exp(lg - top) * val for lg, val in zip(logits, values))
    den = sum(math.exp(lg - top) for lg in logits)
    return num / den


def wkv_reference(w, u, k, v, bidirectional: bool = False) -> list:
    """WKV by definition. w, u: lists of C floats; k, v: nested lists [B][T][C].

    Returns nested lists [B][T][C] of floats. `bidirectional=True` gives Bi-WKV with
    w and u taken as already divided by T.
    """
    batch, length, channels = len(k), len(k[0]), len(k[0][0])
    out = [[[0.0] * channels for _ in range(length)] for _ in range(batch)]
    for b in range(batch):
        for c in range(channels):
            for t in range(length):
                logits, values = [], []
                for i in range(length):
                    if i == t:
                        log_a = u[c]
                    elif bidirectional:
                        log_a = -(abs(t - i) - 1) * w[c]
                    elif i < t:
                        log_a = (t - 1 - i) * w[c]
                    else:
                        continue  # causal: the future is not seen
                    logits.append(log_a + k[b][i][c])
                    values.append(v[b][i][c])
                out[b][t][c] = _weighted_average(logits, values)
    return out
