"""RWKV's token mixers: WKV (causal, RWKV-4) and Bi-WKV (bidirectional, Vision-RWKV).

wkv.py  `wkv` and `bi_wkv`: one dispatch over every backend, and the vectorised torch
        forms; the loops live in `stylelab.kernels` (wkv_reference, wkv_cpu, wkv_cuda)
"""

from stylelab.rwkv.wkv import bi_wkv, wkv

__all__ = ["bi_wkv", "wkv"]
