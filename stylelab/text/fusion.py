"""StyleMamba's style-fusion module, as our reconstruction (mechanisms.md §6.2 [R]).

    z   = E(X)                       the frozen encoder's content tap, (1, 192, H/8, W/8)
    ẑ   = z + f(z, e_t)              f: 1x1 conv -> conditional VSS block -> 1x1 conv (zero-init)
    Y   = D(ẑ)                       the shipped AdaIN decoder, frozen

The paper fuses text into a Stable Diffusion VAE latent. That VAE is not available offline, so
the frozen encoder and the shipped AdaIN decoder stand in for the "latent autoencoder": D(E(X))
is already a picture of X (the decoder was trained to invert E on AdaIN'd features), which is
the property the method needs. Our latent is wider (192 channels, stride 8, vs 4 channels) and
not a generative model's, so what carries over is the mechanism, not the numbers.

Conditioning (additive, as the paper's "conditional SSM"; mechanisms §6.2):

    [δ, B] = W_x x + W_t e_t         per direction k; e_t the prompt's text embedding (D,)

so the text changes how fast each channel forgets (Δ = softplus(W_dt δ + b)) and what the
state writes (B), everywhere at once; the image tokens still give the input u and readout C.
`ConditionalSS2D` is chapter 4's SS2D with that one addition.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from stylelab.core.errors import StylelabError
from stylelab.ssm.ss2d import SS2D, K


class ConditionalSS2D(SS2D):
    """SS2D (self mode) whose δ and B get an additive text term W_t e_t (text_dim -> K(R+N))."""

    def __init__(self, d_model: int, text_dim: int, d_state: int = 16, **kwargs):
        super().__init__(d_model, d_state=d_state, cross=False, **kwargs)
        self.text_dim = text_dim
        self.text_proj = nn.Linear(text_dim, K * (self.dt_rank + d_state))
        nn.init.normal_(self.text_proj.weight, std=0.02)  # small: the text nudges Δ and B
        nn.init.zeros_(self.text_proj.bias)
        self._text = None

    def condition(self, text: torch.Tensor) -> None:
        """Set e_t (text_dim,) or (B, text_dim) for the next forward calls."""
        if text.shape[-1] != self.text_dim:
            raise StylelabError(
                f"ConditionalSS2D: the text embedding must have {self.text_dim} values, "
                f"got {tuple(text.shape)}"
            )
        self._text = text if text.ndim == 2 else text[None]

    def scan_inputs(self, x: torch.Tensor, style=None) -> dict:
        if self._text is None:
            raise StylelabError("ConditionalSS2D: call condition(text_embedding) first")
        inputs = super().scan_inputs(x, style)
        r, n = self.dt_rank, self.d_state
        t = self.text_proj(self._text.to(x)).view(-1, K, r + n)  # (B or 1, K, R+N)
        d_delta, d_b = t.split([r, n], dim=-1)
        inputs["dt"] = inputs["dt"] + torch.einsum("bkr,kdr->bkd", d_delta,
                                                   self.dt_projs_weight)[..., None]  # fmt: skip
        inputs["B"] = inputs["B"] + d_b[..., None]  # (B, K, N, L): one term for every token
        return inputs


class StyleFusion(nn.Module):
    """f(z, e_t): tokens of the latent through one conditional VSS block, back to the latent.

    The VSS block is pre-norm with a residual (VMamba's), and the last 1x1 conv starts at
    zero, so at step 0 ẑ = z and the output is the decoder's picture of the content."""

    def __init__(self, latent_channels: int, text_dim: int, width: int = 64, d_state: int = 16):
        super().__init__()
        self.proj_in = nn.Conv2d(latent_channels, width, 1)
        self.norm = nn.LayerNorm(width)
        self.ssm = ConditionalSS2D(width, text_dim, d_state=d_state)
        self.proj_out = nn.Conv2d(width, latent_channels, 1)
        nn.init.zeros_(self.proj_out.weight)
        nn.init.zeros_(self.proj_out.bias)

    def forward(self, z: torch.Tensor, text: torch.Tensor, backend: str = "auto"):
        """z (B, C, h, w), text (D,) -> ẑ (B, C, h, w)."""
        self.ssm.condition(text)
        x = self.proj_in(z).permute(0, 2, 3, 1)  # (B, h, w, width), channels-last for SS2D
        x = x + self.ssm(self.norm(x), backend=backend)
        return z + self.proj_out(F.gelu(x).permute(0, 3, 1, 2))  # (B, C, h, w)


class StyleNet(nn.Module):
    """CLIPstyler's per-prompt network: a small U-Net with a sigmoid output, X -> Y.

    Written from the paper's description (three stride-2 levels, skip connections, sigmoid),
    widths 16/32/64/128; not a transcription of the official StyleNet."""

    def __init__(self, width: int = 16):
        super().__init__()
        w = (width, 2 * width, 4 * width, 8 * width)

        def block(cin, cout, stride=1):
            return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.InstanceNorm2d(cout),
                                 nn.LeakyReLU(0.2))  # fmt: skip

        self.stem = block(3, w[0])
        self.down = nn.ModuleList([block(w[i], w[i + 1], 2) for i in range(3)])
        self.up = nn.ModuleList([block(w[i + 1] + w[i], w[i]) for i in reversed(range(3))])
        self.head = nn.Conv2d(w[0], 3, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [0, 1], H and W multiples of 8 -> (B, 3, H, W) in (0, 1)."""
        skips = [self.stem(x)]
        for down in self.down:
            skips.append(down(skips[-1]))  # (B, w[i+1], H/2^(i+1), W/2^(i+1))
        h = skips.pop()
        for up in self.up:
            skip = skips.pop()
            h = F.interpolate(h, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            h = up(torch.cat([h, skip], dim=1))
        return torch.sigmoid(self.head(h))
