"""An SSIM structure score: how much of the content's layout an output keeps.

SSIM (Wang et al. 2004) on luminance, output against content, at the content's size, with
scikit-image's implementation (7x7 windows, data range 1). 1 means the same structure;
stylisation lowers it by design, so read it next to the style loss, as a trade-off.
"""

from __future__ import annotations

import numpy as np
import torch

from stylelab.core.errors import StylelabError

# ITU-R BT.601 luma, as PIL's "L" mode and skimage.color.rgb2gray use (up to rounding).
LUMA = (0.299, 0.587, 0.114)


def luminance(image: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) in [0, 1] -> (H, W) float64 luminance."""
    if image.dim() != 4 or image.shape[:2] != (1, 3):
        raise StylelabError(f"expected one RGB image (1, 3, H, W), got {tuple(image.shape)}")
    rgb = image[0].detach().double().cpu().numpy()  # (3, H, W)
    return np.tensordot(np.asarray(LUMA), rgb, axes=1)


def ssim(output: torch.Tensor, content: torch.Tensor) -> float:
    """SSIM of the luminance of `output` against `content`, both (1, 3, H, W) in [0, 1].

    An output of another size (a decoder may round H and W) is resized to the content's.
    """
    from skimage.metrics import structural_similarity

    if output.shape[-2:] != content.shape[-2:]:
        output = torch.nn.functional.interpolate(
            output, size=content.shape[-2:], mode="bilinear", antialias=True, align_corners=False
        )
    a, b = luminance(output.clamp(0, 1)), luminance(content)
    if min(a.shape) < 7:
        raise StylelabError(f"SSIM needs images of at least 7x7 pixels, got {a.shape}")
    return float(structural_similarity(a, b, data_range=1.0))
