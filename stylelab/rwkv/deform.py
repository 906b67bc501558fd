"""Deform-Shifting's op in three tiers: `deform_shift(x, offset, weight, mask, backend)`.

A depthwise 3x3 deformable convolution (DCNv2, mechanisms.md §5.5): each output pixel reads
its 9 taps at learned fractional offsets, bilinearly, each tap weighted by a learned mask.
Shapes: x (B, C, H, W); offset (B, 18·G, H, W) with (y, x) pairs per tap, torchvision's
layout; weight (C, 1, 3, 3); mask (B, 9·G, H, W) or None; G offset groups divide C.

Backends (`backend=`):
    "reference"  Python loops by the definition (kernels/deform_reference.py); tiny inputs
    "torch"      torchvision.ops.deform_conv2d (depthwise via groups = C), with autograd:
                 the training path
    "numba"      CPU kernels, forward + backward (kernels/deform_cpu.py); it avoids
                 torchvision's im2col buffer (B·C·9·H·W) and its batched matmuls
    "auto"       numba on CPU, torch on CUDA
"""

from __future__ import annotations

import torch
from torchvision.ops import deform_conv2d

from stylelab.core.checks import all_finite
from stylelab.core.errors import StylelabError

BACKENDS = ("reference", "torch", "numba", "auto")


def deform_shift(x, offset, weight, mask=None, backend: str = "auto") -> torch.Tensor:
    """Depthwise 3x3 deformable conv, zero padding of 1: (B, C, H, W) -> (B, C, H, W)."""
    _check(x, offset, weight, mask)
    needs_grad = torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (x, offset, weight, mask)
    )
    if backend == "auto":
        backend = "torch" if x.is_cuda else "numba"
    if backend == "torch":
        return deform_conv2d(x, offset, weight, padding=1, mask=mask)
    if backend in ("numba", "reference"):
        if x.is_cuda:
            raise StylelabError(f"deform_shift: backend {backend!r} runs on the CPU; use 'torch'")
        if backend == "numba":
            has_mask = mask is not None
            mask = mask if has_mask else offset.new_ones(offset.shape[0], 1, 1, 1)
            return _NumbaDeform.apply(x, offset, weight, mask, has_mask)
        if needs_grad:
            raise StylelabError(
                "deform_shift: backend 'reference' has no backward; use 'numba' or 'torch' to "
                "train, or run under torch.no_grad()"
            )
        return _reference(x, offset, weight, mask)
    raise StylelabError(f"deform_shift: unknown backend {backend!r}; choose one of {BACKENDS}")


def _check(x, offset, weight, mask) -> None:
    if not all(isinstance(t, torch.Tensor) for t in (x, offset, weight)):
        raise StylelabError("deform_shift: x, offset and weight must be torch tensors")
    if x.ndim != 4:
        raise StylelabError(f"deform_shift: x must be (B, C, H, W), got {tuple(x.shape)}")
    b, c, h, w = x.shape
    if weight.shape != (c, 1, 3, 3):
        raise StylelabError(
            f"deform_shift: weight must be ({c}, 1, 3, 3) (depthwise 3x3), got {tuple(weight.shape)}"
        )
    groups = offset.shape[1] // 18 if offset.ndim == 4 else 0
    if offset.ndim != 4 or offset.shape[1] % 18 or groups < 1 or c % groups:
        raise StylelabError(
            f"deform_shift: offset must be (B, 18·G, H, W) with G dividing C={c}, "
            f"got {tuple(offset.shape)}"
        )
    if offset.shape[0] != b or offset.shape[2:] != (h, w):
        raise StylelabError(
            f"deform_shift: offset {tuple(offset.shape)} does not match x {tuple(x.shape)}"
        )
    if mask is not None and mask.shape != (b, 9 * groups, h, w):
        raise StylelabError(
            f"deform_shift: mask must be ({b}, {9 * groups}, {h}, {w}), got {tuple(mask.shape)}"
        )
    for name, t in (("x", x), ("offset", offset), ("mask", mask)):
        if t is not None and not all_finite(t):
            raise StylelabError(f"deform_shift: {name} contains NaN or Inf")


def _arrays(*tensors):
    return [t.detach().contiguous().numpy() for t in tensors]


class _NumbaDeform(torch.autograd.Function):
    """numba forward and backward (kernels/deform_cpu.py) as one autograd op. Without a mask,
    `mask` is a (B, 1, 1, 1) placeholder the kernels do not read, and gets no gradient."""

    @staticmethod
    def forward(ctx, x, offset, weight, mask, has_mask):
        from stylelab.kernels.deform_cpu import deform_shift_forward

        ctx.save_for_backward(x, offset, weight, mask)
        ctx.has_mask = has_mask
        return torch.from_numpy(deform_shift_forward(*_arrays(x, offset, weight, mask), has_mask))

    @staticmethod
    def backward(ctx, grad_out):
        from stylelab.kernels.deform_cpu import deform_shift_backward

        x, offset, weight, mask = ctx.saved_tensors
        grads = deform_shift_backward(
            *_arrays(x, offset, weight, mask), ctx.has_mask, *_arrays(grad_out.to(x.dtype))
        )
        dx, doffset, dweight, dmask = (torch.from_numpy(g) for g in grads)
        dmask = dmask.to(mask.dtype) if ctx.has_mask else None
        return dx.to(x.dtype), doffset.to(offset.dtype), dweight.to(weight.dtype), dmask, None


def _reference(x, offset, weight, mask) -> torch.Tensor:
    from stylelab.kernels.deform_reference import deform_shift_reference

    lists = [t.double().tolist() if t is not None else None for t in (x, offset, weight, mask)]
    return torch.tensor(deform_shift_reference(*lists), dtype=x.dtype)
