"""All-to-all attention layers, the baselines StyA2K is measured against.

    SANet    (Park & Lee, CVPR 2019)  F_c + out(Σ_j softmax_j(<q_p, k_j>) v_j)
    AdaAttN  (Liu et al., ICCV 2021)  the attention-weighted mean M and std S of the values
                                      feed an AdaIN: S · mvn(F_c) + M

with q = conv(mvn F_c), k = conv(mvn F_s), v = conv(F_s), 1x1 convs. Every content position
attends to every style position: the score matrix is (Hc·Wc) x (Hs·Ws), quadratic in the
pixels, unless `backend="numba"` streams it (no autograd).
"""

from __future__ import annotations

import torch
from torch import nn

from stylelab.attention.ops import all_to_all
from stylelab.stats import mvn


class SANet(nn.Module):
    """SANet(channels, heads=1); forward(content, style) -> (B, C, Hc, Wc)."""

    def __init__(self, channels: int, heads: int = 1, backend: str = "torch"):
        super().__init__()
        self.q, self.k, self.v, self.out = (nn.Conv2d(channels, channels, 1) for _ in range(4))
        self.heads, self.backend = heads, backend

    def forward(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        q, k, v = self.q(mvn(content)), self.k(mvn(style)), self.v(style)
        return content + self.out(all_to_all(q, k, v, self.heads, self.backend))


def adaattn(q, k, v, content, heads: int = 1, backend: str = "torch") -> torch.Tensor:
    """AdaAttN's attentive normalisation: (B, C, Hc, Wc) with M = A v, S = √relu(A v² − M²)."""
    mean = all_to_all(q, k, v, heads, backend)  # (B, C, Hc, Wc)
    second = all_to_all(q, k, v * v, heads, backend)
    std = torch.relu(second - mean * mean).add(1e-12).sqrt()  # eps: a finite gradient at 0
    return std * mvn(content) + mean


class AdaAttN(nn.Module):
    """AdaAttN(channels, heads=1); forward(content, style) -> (B, C, Hc, Wc)."""

    def __init__(self, channels: int, heads: int = 1, backend: str = "torch"):
        super().__init__()
        self.q, self.k, self.v = (nn.Conv2d(channels, channels, 1) for _ in range(3))
        self.heads, self.backend = heads, backend

    def forward(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        q, k, v = self.q(mvn(content)), self.k(mvn(style)), self.v(style)
        return adaattn(q, k, v, content, self.heads, self.backend)
