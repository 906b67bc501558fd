"""The host side of the kernels: kernels/glue.py (CPU and cuda tiers) and kernels/cuda_glue.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from stylelab.core.errors import StylelabError
from stylelab.kernels import glue


@pytest.mark.parametrize("groups", [None, 1, 2, 3])
@pytest.mark.parametrize("layout", ["b d l n", "b l n d"])
def test_sum_groups_adds_the_channels_of_each_group(layout, groups):
    batch, channels, length, state = 2, 6, 5, 4
    g = torch.Generator().manual_seed(0)
    per_channel = torch.randn(batch, channels, length, state, generator=g)  # [b, d, t, n]
    like = torch.empty((batch, state, length) if groups is None else (batch, groups, state, length))
    want = torch.zeros(batch, groups or 1, state, length)
    for d in range(channels):
        want[:, d // (channels // (groups or 1))] += per_channel[:, d].transpose(1, 2)
    want = want[:, 0] if groups is None else want
    if layout == "b d l n":  # the numba tier's layout, as a numpy array
        got = torch.from_numpy(glue.sum_groups(per_channel.numpy(), like, layout))
    else:  # the cuda tier's layout, as a tensor
        got = glue.sum_groups(per_channel.permute(0, 2, 3, 1).contiguous(), like, layout)
    torch.testing.assert_close(got, want)


def test_scan_inputs_lay_out_the_inputs_and_fill_in_absent_ones():
    u = torch.randn(2, 6, 5, dtype=torch.float64)
    A = -torch.rand(6, 4, dtype=torch.float64)
    B = torch.randn(2, 3, 4, 5, dtype=torch.float64)  # 3 groups
    C = torch.randn(2, 4, 5, dtype=torch.float64)
    D = torch.randn(6, dtype=torch.float64)

    def put(x):
        return x.to(torch.float32).contiguous()

    for sequences, seq in (("b d l", u), ("b l d", u.transpose(1, 2))):
        got = glue.scan_inputs(put, u, u, A, B, C, D, None, None, sequences=sequences)
        u_, delta, A_, B_, C_, D_, z, bias = got
        assert all(x.dtype == torch.float32 for x in got)
        assert torch.equal(u_, seq.float()) and torch.equal(delta, seq.float())
        assert torch.equal(A_, A.float()) and torch.equal(D_, D.float())
        assert torch.equal(B_, B.transpose(-1, -2).float())  # (batch, G, L, N)
        assert torch.equal(C_, C[:, None].transpose(-1, -2).float())  # one group
        assert z.shape == (1, 1, 1)  # a placeholder the kernels do not read
        assert torch.equal(bias, torch.zeros(6))


def test_tensor_like_takes_the_dtype_of_its_input():
    a = np.arange(6, dtype=np.float32).reshape(2, 3).T  # not contiguous
    got = glue.tensor_like(a, torch.zeros(1, dtype=torch.float64))
    assert got.dtype == torch.float64 and got.is_contiguous()
    assert torch.equal(got, torch.from_numpy(a.copy()).double())
    assert glue.tensor_like(a, None) is None  # an absent input gets no gradient


def test_require_cuda_names_the_op(monkeypatch):
    from stylelab import kernels

    monkeypatch.setattr(kernels, "cuda_available", lambda: False)
    with pytest.raises(StylelabError, match="bi_wkv: backend 'cuda' needs an NVIDIA GPU"):
        kernels.require_cuda("bi_wkv")
    monkeypatch.setattr(kernels, "cuda_available", lambda: True)
    kernels.require_cuda("bi_wkv")


SIMULATOR_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import torch
    from stylelab.rwkv import bi_wkv
    from stylelab.ssm import selective_scan

    out = {}
    u, BC = torch.randn(1, 2, 5, requires_grad=True), torch.randn(1, 3, 5)
    selective_scan(u, u.abs(), -torch.ones(2, 3), BC, BC, backend="numba").sum().backward()
    k = torch.randn(1, 5, 2, requires_grad=True)
    bi_wkv(torch.ones(2), torch.ones(2), k, k, backend="numba").sum().backward()
    out["numba.cuda after the numba tiers"] = "numba.cuda" in sys.modules

    from numba import cuda
    from stylelab.kernels.cuda_glue import THREADS_PER_BLOCK, Device

    @cuda.jit
    def twice(x, y):
        i = cuda.grid(1)
        if i < x.shape[0]:
            y[i] = 2 * x[i]

    n = 2 * THREADS_PER_BLOCK + 3  # three blocks, the last one partly idle
    for dtype in (torch.float32, torch.float64):
        dev = Device(torch.zeros(1), dtype=dtype)
        x = torch.arange(n, dtype=torch.float64)
        y, y_dev = dev.empty(n)
        dev.launch(twice, n, dev.put(x), y_dev)
        y = dev.get(y)
        out[str(dtype)] = [str(y.dtype), bool(torch.equal(y, 2 * x.to(dtype)))]
    print(json.dumps(out))
    """
)


def test_cuda_glue_under_the_simulator_and_only_cuda_tiers_import_numba_cuda():
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")  # before numba.cuda is first imported
    proc = subprocess.run(
        [sys.executable, "-c", SIMULATOR_SCRIPT], env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["numba.cuda after the numba tiers"] is False
    assert out["torch.float32"] == ["torch.float32", True]
    assert out["torch.float64"] == ["torch.float64", True]
