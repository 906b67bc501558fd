"""Token shifts: how an RWKV block for images mixes each token with its neighbours first.

A WKV pass is global but blind to 2-D position beyond its decay; the shift in front of the
projections adds a local, position-aware mix (mechanisms.md §5.2, §5.3, §5.5). All work on
maps (B, C, H, W) and keep the shape.

    "omni"     Restore-RWKV's Omni-Shift: a0·x + a1·DW1x1(x) + a2·DW3x3(x) + a3·DW5x5(x),
               one depthwise 5x5 at eval (`fused_weight`)
    "q-shift"  Vision-RWKV's quarter shift: each channel quarter takes its value from the
               left, right, upper or lower neighbour (zero fill), mixed with x by a learned mu
    "deform"   StyleRWKV's Deform-Shifting [R]: a depthwise 3x3 DCNv2 whose sampling offsets
               (and masks) are predicted from x by zero-initialised convs, so it starts as a
               plain depthwise conv scaled by 0.5 (sigmoid(0)) and learns where to look
    "none"     identity
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from stylelab.core.errors import StylelabError
from stylelab.rwkv.deform import deform_shift

SHIFTS = ("omni", "q-shift", "deform", "none")


class OmniShift(nn.Module):
    """Restore-RWKV's Omni-Shift. Parameter names follow the official module, so its
    weights load as they are (alpha is randn-initialised there too)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1x1 = nn.Conv2d(channels, channels, 1, groups=channels, bias=False)
        self.conv3x3 = nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=False)
        self.conv5x5 = nn.Conv2d(channels, channels, 5, padding=2, groups=channels, bias=False)
        self.alpha = nn.Parameter(torch.randn(4))

    def fused_weight(self) -> torch.Tensor:
        """The one depthwise 5x5 (C, 1, 5, 5) equal to the four branches (identity = centre
        tap). Recomputed at each eval call (C·25 numbers) rather than cached as the official
        module does, so weights changed in eval mode are never served stale."""
        a = self.alpha
        centre = torch.zeros_like(self.conv5x5.weight)
        centre[:, :, 2, 2] = 1.0
        return (
            a[0] * centre
            + a[1] * F.pad(self.conv1x1.weight, (2, 2, 2, 2))
            + a[2] * F.pad(self.conv3x3.weight, (1, 1, 1, 1))
            + a[3] * self.conv5x5.weight
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return F.conv2d(x, self.fused_weight(), padding=2, groups=x.shape[1])
        a = self.alpha
        return a[0] * x + a[1] * self.conv1x1(x) + a[2] * self.conv3x3(x) + a[3] * self.conv5x5(x)


def quarter_shift(x: torch.Tensor, pixels: int = 1) -> torch.Tensor:
    """Vision-RWKV's Q-Shift: channel quarter 0 from the left neighbour, 1 from the right,
    2 from above, 3 from below; zero where the neighbour is outside. (B, C, H, W) -> same."""
    _, c, h, w = x.shape
    q, s = c // 4, pixels
    out = torch.zeros_like(x)
    out[:, 0:q, :, s:] = x[:, 0:q, :, : w - s]
    out[:, q : 2 * q, :, : w - s] = x[:, q : 2 * q, :, s:]
    out[:, 2 * q : 3 * q, s:, :] = x[:, 2 * q : 3 * q, : h - s, :]
    out[:, 3 * q : 4 * q, : h - s, :] = x[:, 3 * q : 4 * q, s:, :]
    out[:, 4 * q :] = x[:, 4 * q :]  # C not divisible by 4: the remainder is not shifted
    return out


class QShift(nn.Module):
    """x̃ = mu ⊙ x + (1 - mu) ⊙ QShift(x), with one learned mu per channel (init 0.5).

    Vision-RWKV learns one mu per projection (k, v, r); the Restore-RWKV template shifts once
    before all three, so one mu here."""

    def __init__(self, channels: int):
        super().__init__()
        self.mu = nn.Parameter(torch.full((channels,), 0.5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mu = self.mu.view(1, -1, 1, 1)
        return mu * x + (1 - mu) * quarter_shift(x)


class DeformShift(nn.Module):
    """Deform-Shifting [R] (mechanisms.md §5.5): depthwise 3x3 DCNv2 with learned offsets.

    offset = Conv3x3(x) (B, 2·9·G, H, W), mask = sigmoid(Conv3x3(x)) (B, 9·G, H, W), both
    convs zero-initialised; G = offset_groups channel groups share one set of offsets.
    `backend` picks the tier of `stylelab.rwkv.deform.deform_shift`."""

    def __init__(self, channels: int, offset_groups: int = 1):
        super().__init__()
        if offset_groups < 1 or channels % offset_groups:
            raise StylelabError(
                f"DeformShift: offset_groups must divide channels ({channels}), got {offset_groups}"
            )
        self.offset_groups = offset_groups
        self.weight = nn.Parameter(torch.empty(channels, 1, 3, 3))
        nn.init.kaiming_uniform_(self.weight, a=5**0.5)  # nn.Conv2d's default
        self.offset = nn.Conv2d(channels, 2 * 9 * offset_groups, 3, padding=1)
        self.mask = nn.Conv2d(channels, 9 * offset_groups, 3, padding=1)
        for conv in (self.offset, self.mask):
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)

    def offsets(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(offset (B, 18·G, H, W), mask (B, 9·G, H, W)) for x: what the chapter draws."""
        return self.offset(x), torch.sigmoid(self.mask(x))

    def forward(self, x: torch.Tensor, backend: str = "auto") -> torch.Tensor:
        offset, mask = self.offsets(x)
        return deform_shift(x, offset, self.weight, mask, backend=backend)


def make_shift(name: str, channels: int) -> nn.Module:
    """The shift module for a name in SHIFTS."""
    if name == "omni":
        return OmniShift(channels)
    if name == "q-shift":
        return QShift(channels)
    if name == "deform":
        return DeformShift(channels)
    if name == "none":
        return nn.Identity()
    raise StylelabError(f"unknown shift {name!r}; choose one of {', '.join(SHIFTS)}")


def apply_shift(shift: nn.Module, x: torch.Tensor, backend: str = "auto") -> torch.Tensor:
    """Run a shift module; only Deform-Shifting has kernel tiers to pass `backend` to.

    A block's `backend` names its WKV tier; the deformable conv follows it where it has that
    tier, and runs torchvision's op ("torch") for the WKV-only names ("cuda", "torch_loop",
    ...). Its reference tier is forward only: with autograd on it runs numba instead."""
    if not isinstance(shift, DeformShift):
        return shift(x)
    if backend not in ("reference", "numba", "auto"):
        backend = "torch"
    grad = torch.is_grad_enabled() and (x.requires_grad or shift.weight.requires_grad)
    if backend == "reference" and grad:
        backend = "numba"
    return shift(x, backend=backend)
