"""Input checks shared by the ops: cheap enough for hot paths."""

from __future__ import annotations

import torch


def all_finite(t: torch.Tensor) -> bool:
    """True when no element of `t` is NaN or ±Inf.

    A finite sum proves every element finite (NaN and ±Inf propagate through +),
    and costs about 1/100 of `isfinite(t).all()` on a CPU; only a sum that
    overflows or is NaN needs the element-wise check to decide.
    """
    return bool(torch.isfinite(t.sum())) or bool(torch.isfinite(t).all())


def image_batch(img, what: str, device: torch.device) -> torch.Tensor:
    """`img` as a float32 (N, 3, H, W) tensor on `device`; a StylelabError naming `what` and
    the shape it got otherwise (the networks' `stylize` inputs)."""
    from stylelab.core.errors import StylelabError

    if not isinstance(img, torch.Tensor) or img.dim() != 4 or img.shape[1] != 3:
        got = tuple(img.shape) if isinstance(img, torch.Tensor) else type(img).__name__
        raise StylelabError(f"{what} must be (N, 3, H, W), got {got}")
    return img.to(device).float()
