"""The A2K layer of StyA2K (Zhu et al., ICCV 2023): all-to-key attention, eq. 13-14.

    Z = F_c + fusion1(DA(q(mvn F_c), k(mvn F_s), v(F_s))) + fusion2(PA(q2(mvn F_c), k2(mvn F_s), v2(F_s)))

Two independent sets of 1x1 projections feed distributed attention (DA: every query against
one aggregated key per style block) and progressive attention (PA: each block against its
best-matching style block, then point-wise inside it). The names of the submodules are the
official code's, so its checkpoints load with `A2K.from_official_state_dict`.

Shapes: content (B, C, Hc, Wc) and style (B, C, Hs, Ws) may differ in size (the official code
needs them equal and square); each side must be a multiple of the block side `region`,
else a clear error says what to resize (no padding: a padded block would attend to padding).
"""

from __future__ import annotations

import torch
from torch import nn

from stylelab.attention.ops import check_heads, distributed_attention, progressive_attention
from stylelab.core.errors import StylelabError
from stylelab.stats import mvn

PROJECTIONS = ("q", "k", "v", "q2", "k2", "v2", "fusion1", "fusion2")


class A2K(nn.Module):
    """A2K(channels, region=8, heads=8); forward(content, style) -> (B, C, Hc, Wc)."""

    def __init__(self, channels: int, region: int = 8, heads: int = 8):
        super().__init__()
        check_heads(channels, heads)
        if region < 1:
            raise StylelabError(f"region (the block side) must be >= 1 pixel, got {region}")
        self.channels, self.region, self.heads = channels, region, heads
        for name in PROJECTIONS:
            setattr(self, name, nn.Conv2d(channels, channels, 1))
        self.sim_alpha = nn.Parameter(torch.ones(1))  # DA's similarity gate, sigmoid(α s + β)
        self.sim_beta = nn.Parameter(torch.zeros(1))
        self.use_da, self.use_pa = True, True  # ablation switches (inference)
        self.match_blocks = True  # PA's step 1; False: each block's position-aligned block
        self.backend = "torch"  # DA's attention step: any `ops.all_to_all` backend

    def forward(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        if content.shape[:2] != style.shape[:2] and style.shape[0] != 1:
            raise StylelabError(
                f"content {tuple(content.shape)} and style {tuple(style.shape)} need the same "
                "batch and channels (or a style batch of 1)"
            )
        if style.shape[0] != content.shape[0]:
            style = style.expand(content.shape[0], -1, -1, -1)
        nc, ns = mvn(content), mvn(style)  # unbiased variance + 1e-5, mechanisms §1.2
        out = content
        if self.use_da:
            da = distributed_attention(
                self.q(nc), self.k(ns), self.v(style), self.region, self.heads,
                self.sim_alpha, self.sim_beta, self.backend,
            )  # fmt: skip
            out = out + self.fusion1(da)
        if self.use_pa:
            pa = progressive_attention(
                self.q2(nc), self.k2(ns), self.v2(style), self.region, self.heads,
                self.match_blocks,
            )  # fmt: skip
            out = out + self.fusion2(pa)
        return out

    @classmethod
    def from_official_state_dict(
        cls, state_dict: dict, region: int = 8, heads: int = 8, prefix: str = ""
    ) -> A2K:
        """An A2K holding a layer of the official checkpoint (`latest_net_A2K.pth`).

        state_dict: one layer's keys, `q.weight` (C, C, 1, 1), `q.bias` (C,), the same for
        k, v, q2, k2, v2, fusion1, fusion2, and `sim_alpha`, `sim_beta` (1,). prefix: take
        only the keys under it, e.g. "attn_adain_4_1." in a whole transform's checkpoint.
        A missing, extra or wrong-shaped key is an error that names it.
        """
        if prefix:
            state_dict = {
                k[len(prefix) :]: v for k, v in state_dict.items() if k.startswith(prefix)
            }
        if "q.weight" not in state_dict:
            raise StylelabError(
                f"no {prefix}q.weight in the state dict: is it an A2K layer (prefix {prefix!r})?"
            )
        channels = state_dict["q.weight"].shape[0]
        layer = cls(channels, region, heads)
        expected = layer.state_dict()
        missing = sorted(set(expected) - set(state_dict))
        extra = sorted(set(state_dict) - set(expected))
        if missing or extra:
            raise StylelabError(
                f"not an A2K layer with {channels} channels: missing keys {missing or 'none'}, "
                f"unexpected keys {extra or 'none'}"
            )
        for key, value in state_dict.items():
            if tuple(value.shape) != tuple(expected[key].shape):
                raise StylelabError(
                    f"{key} has shape {tuple(value.shape)}, expected {tuple(expected[key].shape)}"
                )
        layer.load_state_dict({k: torch.as_tensor(v).float() for k, v in state_dict.items()})
        return layer
