"""The Hillis-Steele scan: every prefix of h_t = a_t h_{t-1} + b_t, in log2 L rounds."""

from __future__ import annotations

import pytest
import torch

from stylelab.ssm import selective_scan
from stylelab.ssm.parallel_scan import hillis_steele


def serial(a, b):
    """The recurrence one step at a time: the spec."""
    h, out = torch.zeros_like(b[..., 0]), []
    for t in range(b.shape[-1]):
        h = a[..., t] * h + b[..., t]
        out.append(h)
    return torch.stack(out, -1)


@pytest.mark.parametrize("length", [1, 2, 3, 5, 8, 17, 64, 100])
def test_matches_the_serial_recurrence(length):
    g = torch.Generator().manual_seed(length)
    a = torch.rand(2, 3, length, generator=g, dtype=torch.float64)
    b = torch.randn(2, 3, length, generator=g, dtype=torch.float64)
    torch.testing.assert_close(hillis_steele(a, b), serial(a, b), rtol=1e-12, atol=1e-12)


def test_known_values():
    # a = 2 everywhere, b = 1: h = 1, 3, 7, 15, 31 (h_t = 2^(t+1) - 1)
    a, b = torch.full((5,), 2.0), torch.ones(5)
    assert hillis_steele(a, b).tolist() == [1.0, 3.0, 7.0, 15.0, 31.0]
    # a = 0 forgets: h = b
    assert hillis_steele(torch.zeros(4), torch.arange(4.0)).tolist() == [0.0, 1.0, 2.0, 3.0]


def test_is_the_one_state_selective_scan():
    g = torch.Generator().manual_seed(0)
    u = torch.randn(1, 4, 33, generator=g, dtype=torch.float64)
    delta = torch.rand(1, 4, 33, generator=g, dtype=torch.float64) * 0.1
    A = -torch.rand(4, 1, generator=g, dtype=torch.float64)
    ones = torch.ones(1, 1, 33, dtype=torch.float64)
    want = selective_scan(u, delta, A, ones, ones, backend="reference")
    torch.testing.assert_close(hillis_steele(torch.exp(delta * A), delta * u), want)
