"""Re-WKV: Bi-WKV applied `q` times along alternating scan orders, K fixed and V chained.

Restore-RWKV's recurrence (mechanisms.md §5.3) with StyleRWKV's S-scan (§5.4):

    for j in 0..q-1:
        π_j = order of pass j       raster: row-major (j even) / column-major (j odd)
                                    s-scan: horizontal S-scan (j even) / vertical (j odd)
        v   = BiWKV(w_j, u_j, k[π_j], v[π_j])[π_j⁻¹]
    return v

k is never recomputed: every pass sees the same keys, in its own order; v is the previous
pass's output, so pass 2 mixes tokens that pass 1 already mixed along the other axis and the
receptive field covers the plane. Each pass gathers once and scatters once (one index_select
each; the S-scan's four groups are one permutation, not four scans).

Shapes: k, v (B, T, C) row-major with T = h·w; w, u (q, C), divided by T inside `bi_wkv`.
"""

from __future__ import annotations

from functools import lru_cache

import torch

from stylelab.core.errors import StylelabError
from stylelab.rwkv.wkv import bi_wkv
from stylelab.scan_orders import column, inverse, s_scan

SCANS = ("raster", "s-scan")


@lru_cache(maxsize=64)
def _orders(h: int, w: int, scan: str, skip: int, j: int):
    """(π_j, π_j⁻¹) as CPU LongTensors, or None for the row-major pass (no gather needed).

    Cached, so built outside inference mode: a first call under torch.inference_mode must
    not leave inference tensors that a later training step's index_select saves."""
    if scan == "raster" and j % 2 == 0:
        return None
    with torch.inference_mode(False):
        perm = column(h, w) if scan == "raster" else s_scan(h, w, skip, vertical=j % 2 == 1)
        return perm, inverse(perm)


def pass_order(resolution, scan: str, skip: int, j: int) -> torch.Tensor:
    """π_j (T,): the row-major indices of the tokens in pass j's visiting order."""
    h, w = resolution
    orders = _orders(h, w, scan, skip, j)
    return torch.arange(h * w) if orders is None else orders[0]


def check_resolution(op: str, x: torch.Tensor, resolution) -> tuple[int, int]:
    """(h, w) from `resolution`, with a clear error unless x is (B, h·w, C)."""
    if x.ndim != 3:
        raise StylelabError(f"{op}: x must be (batch, tokens, channels), got {tuple(x.shape)}")
    try:
        h, w = (int(n) for n in resolution)
    except (TypeError, ValueError):
        raise StylelabError(f"{op}: resolution must be (h, w), got {resolution!r}") from None
    if h < 1 or w < 1 or h * w != x.shape[1]:
        raise StylelabError(
            f"{op}: x has T={x.shape[1]} tokens but resolution {h}x{w} gives {h * w}; "
            "pass the (h, w) of the map the tokens were flattened from"
        )
    return h, w


def re_wkv(k, v, decay, first, resolution, scan="raster", skip=2, backend="auto"):
    """q Bi-WKV passes (q = decay.shape[0]); k, v (B, T, C) -> (B, T, C)."""
    if scan not in SCANS:
        raise StylelabError(f"re_wkv: unknown scan {scan!r}; choose one of {', '.join(SCANS)}")
    h, w = check_resolution("re_wkv", k, resolution)
    if decay.ndim != 2 or decay.shape != first.shape:
        raise StylelabError(
            f"re_wkv: decay and first must both be (q, C), got {tuple(decay.shape)}, "
            f"{tuple(first.shape)}"
        )
    for j in range(decay.shape[0]):
        orders = _orders(h, w, scan, skip, j)
        if orders is None:
            v = bi_wkv(decay[j], first[j], k, v, backend=backend)
            continue
        perm, inv = (o.to(k.device) for o in orders)
        # gather once, one WKV over the whole permuted sequence, scatter once
        y = bi_wkv(decay[j], first[j], k.index_select(1, perm), v.index_select(1, perm), backend)
        v = y.index_select(1, inv)
    return v
