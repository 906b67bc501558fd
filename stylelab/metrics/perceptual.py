"""Content and style loss as the papers report them (StyTr², StyA2K's Table 1).

With φ_l the encoder's feature map at tap l, o the output, c the content and s the style,

    content(o, c) = Σ_{l ∈ content taps} MSE(mvn(φ_l(o)), mvn(φ_l(c)))
    style(o, s)   = Σ_{l ∈ style taps}   MSE(μ(φ_l(o)), μ(φ_l(s))) + MSE(σ(φ_l(o)), σ(φ_l(s)))

where μ, σ are per-channel mean and std (`stylelab.stats.mean_std`: unbiased variance + 1e-5,
as the papers' calc_mean_std) and mvn(F) = (F − μ) / σ. Lower is better for both.

The taps: on VGG-19 the papers' own, content relu4_1 and relu5_1, style relu1_1 ... relu5_1.
On another encoder, content = its content tap and its deepest tap (strides 8 and 16, as
relu4_1 and relu5_1), style = its style taps. The numbers depend on the encoder (and favour
a method trained with the same one), so every report names it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from stylelab.encoders.base import Encoder
from stylelab.stats import mean_std, mvn

VGG_CONTENT_TAPS = ("relu4_1", "relu5_1")
VGG_STYLE_TAPS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


def metric_taps(enc: Encoder) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(content taps, style taps) the metrics read on `enc` (see the module docstring)."""
    if enc.name == "vgg19":
        return VGG_CONTENT_TAPS, VGG_STYLE_TAPS
    return (enc.content_tap, enc.taps[-1]), tuple(enc.style_taps)


def content_metric(out_feats: dict, content_feats: dict, taps) -> float:
    """Σ over `taps` of MSE(mvn(φ(o)), mvn(φ(c))); o and c must be the same size."""
    total = 0.0
    for tap in taps:
        o, c = out_feats[tap], content_feats[tap]
        if o.shape != c.shape:  # a decoder may return a pixel or two more: compare the overlap
            h, w = min(o.shape[-2], c.shape[-2]), min(o.shape[-1], c.shape[-1])
            o, c = o[..., :h, :w], c[..., :h, :w]
        total += F.mse_loss(mvn(o), mvn(c)).item()
    return total


def style_metric(out_feats: dict, style_feats: dict, taps) -> float:
    """Σ over `taps` of MSE(μ(φ(o)), μ(φ(s))) + MSE(σ(φ(o)), σ(φ(s))); sizes may differ."""
    total = 0.0
    for tap in taps:
        (mu_o, sd_o), (mu_s, sd_s) = mean_std(out_feats[tap]), mean_std(style_feats[tap])
        total += F.mse_loss(mu_o, mu_s).item() + F.mse_loss(sd_o, sd_s).item()
    return total


class PerceptualMetrics:
    """Both losses on one encoder. Compute each input's features once, then score outputs:

    metrics = PerceptualMetrics(enc)
    c_feats, s_feats = metrics.features(content), metrics.features(style)  # (1, 3, H, W)
    content_loss, style_loss = metrics(output, c_feats, s_feats)
    """

    def __init__(self, enc: Encoder):
        self.enc = enc
        self.content_taps, self.style_taps = metric_taps(enc)
        self.taps = list(dict.fromkeys((*self.content_taps, *self.style_taps)))

    def features(self, image: torch.Tensor) -> dict:
        """φ of `image` (1, 3, H, W) at every metric tap: {tap: (1, C, H/s, W/s)}."""
        device = next(self.enc.parameters()).device
        with torch.inference_mode():
            return self.enc(image.to(device), taps=self.taps)

    def __call__(self, output, content_feats: dict, style_feats: dict) -> tuple[float, float]:
        out = self.features(output)
        return (
            content_metric(out, content_feats, self.content_taps),
            style_metric(out, style_feats, self.style_taps),
        )
