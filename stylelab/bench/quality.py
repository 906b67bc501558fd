"""How far an output lands from a reference, and how much fine detail it keeps."""

from __future__ import annotations

import math


def snr_db(x, ref) -> float:
    """10 log10(sum ref² / sum (x - ref)²): scale-free, for outputs that are not images."""
    err = float(((x - ref) ** 2).sum())
    return math.inf if err == 0 else 10 * math.log10(float((ref**2).sum()) / err)


def psnr_db(x, ref) -> float:
    """PSNR of the displayed images (clamped to [0, 1], peak 1)."""
    mse = float(((x.clamp(0, 1) - ref.clamp(0, 1)) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(1.0 / mse)


def detail(img) -> float:
    """Mean |Laplacian| of the luminance of a [0,1] image: fine detail per pixel (soft -> low)."""
    import torch
    import torch.nn.functional as F

    y = (img.clamp(0, 1) * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, True)
    kernel = torch.tensor([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]]).view(1, 1, 3, 3)
    return float(F.conv2d(y, kernel).abs().mean())
