"""The numba backward with several channels per task (`channels_per_task`): the same
gradients as one channel per task, and as the torch loop."""

import pytest
import torch

from stylelab.kernels import ssm_cpu
from stylelab.ssm import selective_scan


def _grads(backend, inputs):
    leaves = [t.detach().clone().requires_grad_(True) for t in inputs]
    u, delta, A, B, C, D, z, bias = leaves
    y = selective_scan(u, delta, A, B, C, D, z, bias, delta_softplus=True, backend=backend)
    (y * torch.linspace(-1, 1, y.numel()).view_as(y)).sum().backward()
    return [t.grad for t in leaves]


@pytest.mark.parametrize("n_state", [16, 5])  # the vector N = 16 path and the generic one
@pytest.mark.parametrize("grouped", [True, False])
def test_every_span_gives_the_loop_gradients(monkeypatch, n_state, grouped):
    g = torch.Generator().manual_seed(n_state)
    batch, channels, length = 2, 8, 37  # 37: a partial checkpoint segment
    shape_bc = (batch, 2, n_state, length) if grouped else (batch, n_state, length)
    inputs = [
        torch.randn(batch, channels, length, generator=g),
        torch.randn(batch, channels, length, generator=g),
        -torch.rand(channels, n_state, generator=g) * 2,
        torch.randn(*shape_bc, generator=g),
        torch.randn(*shape_bc, generator=g),
        torch.randn(channels, generator=g),
        torch.randn(batch, channels, length, generator=g),
        torch.randn(channels, generator=g) - 1,
    ]
    want = _grads("torch_loop", inputs)
    spans = []
    for tasks_per_thread in (0, 10**6):  # 0: a whole group per task; huge: one channel
        monkeypatch.setattr(ssm_cpu, "TASKS_PER_THREAD", tasks_per_thread)
        groups = shape_bc[1] if grouped else 1
        spans.append(ssm_cpu.channels_per_task(batch, channels, groups, groups))
        for got, expected in zip(_grads("numba", inputs), want):
            torch.testing.assert_close(got, expected, rtol=1e-3, atol=1e-3)
    assert spans == [channels // (2 if grouped else 1), 1]


def test_differently_grouped_b_and_c_take_one_channel_per_task():
    assert ssm_cpu.channels_per_task(12, 1024, 4, 1) == 1
    assert ssm_cpu.channels_per_task(12, 1024, 4, 4) > 1


def test_ungrouped_b_with_a_channel_count_that_n_does_not_divide(monkeypatch):
    """Regression: the backward once took a 3-D B's N for its group count, so with 5
    channels and N = 2 it ran tasks of 2 channels over 2 slots and never did channel 4
    (seen when an earlier test left numba at one thread)."""
    g = torch.Generator().manual_seed(5)
    batch, channels, length, n_state = 2, 5, 3, 2
    inputs = [
        torch.randn(batch, channels, length, generator=g),
        torch.randn(batch, channels, length, generator=g),
        -torch.rand(channels, n_state, generator=g),
        torch.randn(batch, n_state, length, generator=g),
        torch.randn(batch, n_state, length, generator=g),
        torch.randn(channels, generator=g),
        torch.randn(batch, channels, length, generator=g),
        torch.randn(channels, generator=g),
    ]
    want = _grads("torch_loop", inputs)
    seen = []
    real = ssm_cpu.channels_per_task
    monkeypatch.setattr(ssm_cpu, "TASKS_PER_THREAD", 0)  # as few tasks as possible
    monkeypatch.setattr(ssm_cpu, "channels_per_task", lambda *a: seen.append(real(*a)) or seen[-1])
    for got, expected in zip(_grads("numba", inputs), want):
        torch.testing.assert_close(got, expected, rtol=1e-3, atol=1e-3)
    assert seen == [channels]  # one group of 5: one task per batch element takes all five
    assert ssm_cpu.channels_per_task(2, 5, 2, 2) == 1  # 2 groups cannot split 5 channels
