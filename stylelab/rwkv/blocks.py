"""The RWKV block for images: SpatialMix (Re-WKV), ChannelMix, and the Block that holds both.

Restore-RWKV's layout (mechanisms.md §5.3), with the shift and the scan made choices so the
chapter can ablate them (StyleRWKV §5.4, §5.5):

    SpatialMix  x̃ = shift(x);  k, v, r = W_k x̃, W_v x̃, W_r x̃   (no bias)
                v = Re-WKV(k, v) over `recurrence` passes      (stylelab.rwkv.re_wkv)
                out = W_o(σ(r) ⊙ v)
    ChannelMix  x̃ = shift(x);  out = σ(W_r x̃) ⊙ W_v(ReLU(W_k x̃)²),  hidden 4C
    Block       x += γ1 ⊙ SpatialMix(LN(x));  x += γ2 ⊙ ChannelMix(LN(x)),  γ init 1

Tokens are (B, T, C) with T = h·w in row-major order; `resolution = (h, w)` says how to fold
them back into a map for the shift and the column/S-scan orders.
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import nn

from stylelab.core.errors import StylelabError
from stylelab.rwkv.re_wkv import SCANS, check_resolution, re_wkv
from stylelab.rwkv.shift import SHIFTS, apply_shift, make_shift

# keys of Restore-RWKV's VRWKV_SpatialMix that carry no weight of the forward: the eval cache
# of the fused 5x5 (rebuilt from the branches) and, in its first release, an unused dwconv
OFFICIAL_IGNORED = ("omni_shift.conv5x5_reparam.weight", "dwconv.weight")


def _ours(key: str) -> str:
    """Official names to ours: the shift is `shift` here, whichever kind it is."""
    return key.replace("omni_shift.", "shift.")


def _official(key: str) -> str:
    return key.replace("shift.", "omni_shift.")


def _shifted(shift: nn.Module, x: torch.Tensor, resolution, backend: str) -> torch.Tensor:
    """Apply a map shift to tokens: (B, T, C) -> map -> shift -> (B, T, C)."""
    h, w = resolution
    grid = rearrange(x, "b (h w) c -> b c h w", h=h, w=w)
    return rearrange(apply_shift(shift, grid, backend), "b c h w -> b (h w) c")


class SpatialMix(nn.Module):
    def __init__(self, channels: int, recurrence: int = 2, shift="omni", scan="raster", skip=2):
        super().__init__()
        if channels < 1 or recurrence < 1 or skip < 1:
            raise StylelabError(
                f"SpatialMix: channels, recurrence and skip must be >= 1, got "
                f"{channels}, {recurrence}, {skip}"
            )
        if shift not in SHIFTS or scan not in SCANS:
            raise StylelabError(
                f"SpatialMix: shift must be one of {SHIFTS} and scan one of {SCANS}, "
                f"got shift={shift!r}, scan={scan!r}"
            )
        self.channels, self.recurrence = channels, recurrence
        self.shift_name, self.scan, self.skip = shift, scan, skip
        self.shift = make_shift(shift, channels)
        self.key = nn.Linear(channels, channels, bias=False)
        self.value = nn.Linear(channels, channels, bias=False)
        self.receptance = nn.Linear(channels, channels, bias=False)
        self.output = nn.Linear(channels, channels, bias=False)
        # per-pass decay w_j and bonus u_j, randn as Restore-RWKV (w is not sign-constrained)
        self.spatial_decay = nn.Parameter(torch.randn(recurrence, channels))
        self.spatial_first = nn.Parameter(torch.randn(recurrence, channels))

    def forward(self, x: torch.Tensor, resolution, backend: str = "auto") -> torch.Tensor:
        resolution = check_resolution("SpatialMix", x, resolution)
        if x.shape[2] != self.channels:
            raise StylelabError(
                f"SpatialMix: x has {x.shape[2]} channels, the layer was built for {self.channels}"
            )
        xs = _shifted(self.shift, x, resolution, backend)  # (B, T, C), shifted once
        k, v, r = self.key(xs), self.value(xs), self.receptance(xs)
        v = re_wkv(
            k, v, self.spatial_decay, self.spatial_first, resolution, self.scan, self.skip, backend
        )
        return self.output(torch.sigmoid(r) * v)

    @classmethod
    def from_official_state_dict(cls, state_dict: dict, prefix: str = "") -> SpatialMix:
        """A SpatialMix holding Restore-RWKV's VRWKV_SpatialMix parameters (shift "omni",
        scan "raster", recurrence = rows of `spatial_decay`). A missing, extra or
        wrong-shaped key is an error that names it; OFFICIAL_IGNORED keys are accepted."""
        sd = {k[len(prefix) :]: v for k, v in state_dict.items() if k.startswith(prefix)}
        for key in ("spatial_decay", "key.weight"):
            if key not in sd:
                raise StylelabError(f"official SpatialMix state dict: missing key {prefix + key!r}")
        recurrence, channels = sd["spatial_decay"].shape
        module = cls(channels, recurrence=recurrence, shift="omni", scan="raster")
        for key in OFFICIAL_IGNORED:
            sd.pop(key, None)
        sd = {_ours(k): v for k, v in sd.items()}
        load_checked(module, sd, "official SpatialMix", prefix, _official)
        return module


class ChannelMix(nn.Module):
    def __init__(self, channels: int, hidden_rate: int = 4, shift="omni"):
        super().__init__()
        hidden = int(hidden_rate * channels)
        self.shift = make_shift(shift, channels)
        self.key = nn.Linear(channels, hidden, bias=False)
        self.value = nn.Linear(hidden, channels, bias=False)
        self.receptance = nn.Linear(channels, channels, bias=False)

    def forward(self, x: torch.Tensor, resolution, backend: str = "auto") -> torch.Tensor:
        resolution = check_resolution("ChannelMix", x, resolution)
        xs = _shifted(self.shift, x, resolution, backend)
        hidden = torch.relu(self.key(xs)).square()  # (B, T, 4C)
        return torch.sigmoid(self.receptance(xs)) * self.value(hidden)


class Block(nn.Module):
    """Pre-LN RWKV block: spatial mix then channel mix, each scaled by a learned γ."""

    def __init__(self, channels, recurrence=2, shift="omni", scan="raster", skip=2, hidden_rate=4):
        super().__init__()
        self.ln1 = nn.LayerNorm(channels)
        self.ln2 = nn.LayerNorm(channels)
        self.att = SpatialMix(channels, recurrence, shift, scan, skip)
        self.ffn = ChannelMix(channels, hidden_rate, shift)
        self.gamma1 = nn.Parameter(torch.ones(channels))
        self.gamma2 = nn.Parameter(torch.ones(channels))

    def forward(self, x: torch.Tensor, resolution, backend: str = "auto") -> torch.Tensor:
        x = x + self.gamma1 * self.att(self.ln1(x), resolution, backend)
        return x + self.gamma2 * self.ffn(self.ln2(x), resolution, backend)

    def forward_map(self, x: torch.Tensor, backend: str = "auto") -> torch.Tensor:
        """The block on a map (B, C, H, W), as Restore-RWKV's Block.forward takes it."""
        h, w = x.shape[-2:]
        tokens = rearrange(x, "b c h w -> b (h w) c")
        return rearrange(self(tokens, (h, w), backend), "b (h w) c -> b c h w", h=h, w=w)

    @classmethod
    def from_official_state_dict(cls, state_dict: dict, prefix: str = "") -> Block:
        """A Block holding Restore-RWKV's Block parameters (att.*, ffn.*, ln1/2, gamma1/2)."""
        key = prefix + "att.spatial_decay"
        if key not in state_dict:
            raise StylelabError(f"official Block state dict: missing key {key!r}")
        recurrence, channels = state_dict[key].shape
        hidden = state_dict.get(prefix + "ffn.key.weight", torch.empty(4 * channels, 1)).shape[0]
        module = cls(channels, recurrence, hidden_rate=hidden / channels)
        sd = {k[len(prefix) :]: v for k, v in state_dict.items() if k.startswith(prefix)}
        for part in ("att.", "ffn."):
            for ignored in OFFICIAL_IGNORED:
                sd.pop(part + ignored, None)
        sd = {_ours(k): v for k, v in sd.items()}
        load_checked(module, sd, "official Block", prefix, _official)
        return module


def load_checked(module: nn.Module, sd: dict, what: str, prefix: str = "", name=str) -> None:
    """load_state_dict with errors that name the missing, extra or wrong-shaped key, as
    `prefix + name(key)` (name maps our key back to the checkpoint's)."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(sd))
    extra = sorted(set(sd) - set(expected))
    if missing or extra:
        raise StylelabError(
            f"{what} state dict: missing keys {[prefix + name(k) for k in missing]}, "
            f"unexpected keys {[prefix + name(k) for k in extra]}"
        )
    for key, tensor in expected.items():
        if tuple(sd[key].shape) != tuple(tensor.shape):
            raise StylelabError(
                f"{what} state dict: {prefix + name(key)!r} has shape {tuple(sd[key].shape)}, "
                f"expected {tuple(tensor.shape)}"
            )
    module.load_state_dict(sd)
