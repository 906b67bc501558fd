"""Autograd glue of the selective scan shared by the numba CPU and the numba.cuda tiers.

Both kernels take the same float32 inputs, each in its own layout, and write per-task
partial gradients that the host sums; this module is that common host side:

    scan_inputs     the inputs as the kernels read them (absent D, z, delta_bias filled in)
    sum_groups      per-channel dB or dC summed over the channels of each group
    scan_gradients  everything the autograd backward returns
    tensor_like     a kernel's result as a tensor in the dtype of the input it belongs to

It imports torch, numpy and einops only, so the CPU tier uses it without importing
numba.cuda (which must not be imported before NUMBA_ENABLE_CUDASIM is decided). Moving
tensors to and from the GPU is cuda_glue.py.
"""

from __future__ import annotations

import numpy as np
import torch
from einops import rearrange, reduce


def groups_time_major(M: torch.Tensor) -> torch.Tensor:
    """B or C, (batch, N, L) or grouped (batch, G, N, L) -> (batch, G, L, N): the N values
    of one step contiguous. The ungrouped form is one group."""
    return rearrange(M, "b n l -> b 1 l n" if M.dim() == 3 else "b g n l -> b g l n")


def scan_inputs(put, u, delta, A, B, C, D, z, delta_bias, sequences: str = "b d l") -> tuple:
    """(u, delta, A, B, C, D, z, delta_bias) as the kernels take them, each through `put`
    (which makes it a float32 array on the kernel's side).

    u, delta and z are laid out as `sequences`: "b d l" as given, or "b l d" time-major;
    B and C as (batch, G, L, N); D and delta_bias are zeros when absent, and an absent z is
    a (1, 1, 1) placeholder (the kernels read z only when told it is there).
    """

    def sequence(x):
        return put(rearrange(x, f"b d l -> {sequences}"))

    zeros = u.new_zeros(u.shape[1])
    return (
        sequence(u),
        sequence(delta),
        put(A),
        put(groups_time_major(B)),
        put(groups_time_major(C)),
        put(zeros if D is None else D),
        put(u.new_zeros(1, 1, 1)) if z is None else sequence(z),
        put(zeros if delta_bias is None else delta_bias),
    )


def sum_groups(part, B_or_C: torch.Tensor, layout: str):
    """Per-channel dB or dC, a numpy array or tensor laid out as `layout` ("b d l n" or
    "b l n d"), summed over the channels d of each group: the layout of B or C itself,
    (batch, N, L) or grouped (batch, G, N, L)."""
    grouped = B_or_C.dim() == 4
    pattern = f"{layout.replace('d', '(g c)')} -> {'b g n l' if grouped else 'b (g n) l'}"
    return reduce(part, pattern, "sum", g=B_or_C.shape[1] if grouped else 1)


def tensor_like(result, tensor: torch.Tensor | None) -> torch.Tensor | None:
    """A kernel's result (numpy array or tensor) as a contiguous tensor in `tensor`'s dtype;
    None where `tensor` is None (an absent input gets no gradient)."""
    if tensor is None:
        return None
    if isinstance(result, np.ndarray):
        result = torch.from_numpy(np.ascontiguousarray(result))
    return result.contiguous().to(tensor.dtype)


def scan_gradients(
    saved, du, ddelta, dz, dA_part, dB_part, dC_part, dD_part, dbias_part, layout: str
) -> tuple:
    """The autograd backward's return value, from what the backward kernel wrote.

    saved: the forward's (u, delta, A, B, C, D, z, delta_bias); du, ddelta, dz (batch, D, L);
    dA_part (batch, D, N) and dD_part, dbias_part (batch, D) per task, summed over the
    batch here; dB_part, dC_part per channel in `layout`, summed over each group here.
    Numpy arrays or tensors. The trailing None is delta_softplus's gradient.
    """
    B, C = saved[3], saved[4]
    grads = (
        du,
        ddelta,
        dA_part.sum(0),
        sum_groups(dB_part, B, layout),
        sum_groups(dC_part, C, layout),
        dD_part.sum(0),
        dz,
        dbias_part.sum(0),
    )
    return (*(tensor_like(grad, tensor) for grad, tensor in zip(grads, saved)), None)
