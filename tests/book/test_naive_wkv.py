"""Bi-WKV as written: right where nothing overflows, and the overflow chapter 3 shows."""

from __future__ import annotations

import torch

from stylelab.book.naive_wkv import naive_bi_wkv
from stylelab.rwkv import bi_wkv


def test_equals_the_reference_when_nothing_overflows():
    g = torch.Generator().manual_seed(0)
    k = (torch.rand(2, 12, 4, generator=g, dtype=torch.float64) * 2 - 1) * 5
    v = torch.randn(2, 12, 4, generator=g, dtype=torch.float64)
    w = torch.tensor([-3.0, -0.5, 0.5, 3.0], dtype=torch.float64)
    u = torch.randn(4, generator=g, dtype=torch.float64)
    want = bi_wkv(w, u, k, v, backend="reference")
    torch.testing.assert_close(naive_bi_wkv(w, u, k, v), want, rtol=1e-12, atol=1e-12)


def test_overflows_in_float32_where_the_kernels_do_not():
    # the chapter's case: keys up to |k| = 60, and w = -60 adds up to 60 more
    g = torch.Generator().manual_seed(1)
    k = torch.rand(1, 64, 4, generator=g) * 120 - 60
    v = torch.randn(1, 64, 4, generator=g)
    w, u = torch.tensor([-60.0, -5.0, 5.0, 60.0]), torch.zeros(4)
    naive = naive_bi_wkv(w, u, k, v)
    assert not torch.isfinite(naive[..., 0]).all()  # e^{60 + 60} = inf, inf / inf = nan
    assert torch.isfinite(bi_wkv(w, u, k, v, backend="numba")).all()
    assert not torch.isfinite(naive_bi_wkv(*(t.half() for t in (w, u, k, v)))).any()
