"""StyA2K's non-parametric attention target A2K* (eq. 17), used by its loss.

At encoder level l, with F^1 ... F^l the content's (or style's) feature maps up to l:

    keys_l(F)  = concat_i mvn(resize_nearest(F^i, size of F^l))      (AdaAttN's shallow keys)
    A2K*_l     = F_c^l + DA(keys_l(c), keys_l(s), F_s^l) + PA(keys_l(c), keys_l(s), F_s^l)

with no projections, α = 1 and β = 0 fixed, 8 heads and block sides 16, 8, 8, 4 at the
relu2_1 ... relu5_1 counterparts. The loss asks the output's features to match it:
Σ_l MSE(E^l(I_cs), A2K*_l). Queries and keys carry the sum of the channels up to l; values
carry level l's channels.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from stylelab.attention.ops import distributed_attention, progressive_attention
from stylelab.stats import mvn


def shallow_keys(feats: Sequence[torch.Tensor]) -> torch.Tensor:
    """feats shallow -> deep, each (B, C_i, H_i, W_i) -> (B, Σ C_i, H_l, W_l) at the last's size."""
    size = feats[-1].shape[-2:]
    return torch.cat([mvn(F.interpolate(f, size=size, mode="nearest")) for f in feats], dim=1)


def a2k_target(
    content_feats: Sequence[torch.Tensor],
    style_feats: Sequence[torch.Tensor],
    region: int,
    heads: int = 8,
) -> torch.Tensor:
    """A2K*_l for the deepest level given: (B, C_l, H_l, W_l). Inputs shallow -> deep."""
    q, k = shallow_keys(content_feats), shallow_keys(style_feats)
    v, content = style_feats[-1], content_feats[-1]
    return (
        content
        + distributed_attention(q, k, v, region, heads)
        + progressive_attention(q, k, v, region, heads)
    )
