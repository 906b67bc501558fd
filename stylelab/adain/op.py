"""Adaptive instance normalisation (AdaIN): style as channel statistics.

Huang & Belongie (ICCV 2017). For a content feature map x and a style feature
map y (same channels, any spatial size), per sample n and channel c:

    AdaIN(x, y) = sigma(y) * (x - mu(x)) / sigma(x) + mu(y)

mu and sigma come from `stylelab.stats.mean_std` (spatial mean; unbiased
variance plus eps, then the square root), so the output keeps the *layout* of x
and takes the *first two moments* of y.

Test-time controls built on it (mechanisms §2.1):
- `blend`: content-style trade-off alpha and interpolation between K styles,
  t = alpha * sum_k w_k AdaIN(x, y_k) + (1 - alpha) * x, with sum_k w_k = 1.
- `adain_masked`: spatial control, a different style inside each mask.
- `preserve_color`: recolour the style image to the content's colours first.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from stylelab.core.errors import StylelabError
from stylelab.stats import match_color, mean_std


def _check_feat(feat, what: str) -> None:
    if not isinstance(feat, torch.Tensor):
        raise StylelabError(f"{what} must be a torch.Tensor, got {type(feat).__name__}")
    if feat.dim() != 4:
        raise StylelabError(f"{what} must have shape (N, C, H, W), got {tuple(feat.shape)}")
    if not feat.is_floating_point():
        raise StylelabError(f"{what} must be a floating-point tensor, got {feat.dtype}")
    if feat.shape[2] * feat.shape[3] < 2:
        # the unbiased variance of a single pixel is undefined (0/0)
        raise StylelabError(
            f"{what} has a {feat.shape[2]}x{feat.shape[3]} map; AdaIN needs at least 2 pixels "
            "per channel: use a larger image"
        )


def _check_pair(content_feat, style_feat, what: str = "style_feat") -> None:
    _check_feat(content_feat, "content_feat")
    _check_feat(style_feat, what)
    n_c, c_c = content_feat.shape[:2]
    n_s, c_s = style_feat.shape[:2]
    if c_c != c_s:
        raise StylelabError(
            f"content and style features must have the same channels, got {c_c} and {c_s} "
            "(were they made by the same encoder tap?)"
        )
    if n_s not in (1, n_c):
        raise StylelabError(f"style batch {n_s} must be 1 or match the content batch {n_c}")
    if content_feat.dtype != style_feat.dtype or content_feat.device != style_feat.device:
        raise StylelabError(
            f"content and style features differ in dtype/device: {content_feat.dtype} on "
            f"{content_feat.device} vs {style_feat.dtype} on {style_feat.device}"
        )


def adain(content_feat: torch.Tensor, style_feat: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """AdaIN(x, y) per sample and channel. x: (N,C,H,W), y: (N or 1,C,H',W') -> (N,C,H,W)."""
    _check_pair(content_feat, style_feat)
    s_mean, s_std = mean_std(style_feat, eps)  # (N or 1,C,1,1), broadcasts over N
    return adain_to_stats(content_feat, s_mean, s_std, eps)


def adain_to_stats(
    content_feat: torch.Tensor, style_mean: torch.Tensor, style_std: torch.Tensor, eps: float = 1e-5
) -> torch.Tensor:
    """AdaIN with the style's statistics given: x (N,C,H,W), mu, sigma (N or 1,C,1,1).

    What `adain` computes once it has the style's mean and std; a style that is used many
    times (a video, a batch of photos) needs its statistics only once (`adain.fast`).
    """
    c_mean, c_std = mean_std(content_feat, eps)  # (N,C,1,1) each
    return style_std * (content_feat - c_mean) / c_std + style_mean


def normalize_weights(weights, k: int) -> list[float]:
    """Check K mixing weights (non-negative, sum > 0) and scale them to sum to 1."""
    if weights is None:
        return [1.0 / k] * k
    weights = [float(w) for w in weights]
    if len(weights) != k:
        raise StylelabError(
            f"got {len(weights)} mixing weights for {k} style(s); give one weight per style"
        )
    if any(not torch.isfinite(torch.tensor(w)) or w < 0 for w in weights):
        raise StylelabError(f"mixing weights must be finite and non-negative, got {weights}")
    total = sum(weights)
    if total <= 0:
        raise StylelabError(f"mixing weights must sum to a positive number, got {weights}")
    return [w / total for w in weights]


def check_alpha(alpha: float) -> float:
    alpha = float(alpha)
    if not 0.0 <= alpha <= 1.0:
        raise StylelabError(f"alpha (style strength) must be in [0, 1], got {alpha}")
    return alpha


def _as_list(style_feat_or_list) -> list[torch.Tensor]:
    if isinstance(style_feat_or_list, torch.Tensor):
        return [style_feat_or_list]
    styles = list(style_feat_or_list)
    if not styles:
        raise StylelabError("need at least one style feature map")
    return styles


def blend(
    content_feat: torch.Tensor,
    style_feat_or_list,
    alpha: float = 1.0,
    weights: Sequence[float] | None = None,
    eps: float = 1e-5,
) -> torch.Tensor:
    """t = alpha * sum_k w_k AdaIN(x, y_k) + (1 - alpha) * x, weights normalised to sum 1.

    x: (N,C,H,W); each y_k: (N or 1,C,H_k,W_k) -> t: (N,C,H,W).
    alpha = 0 returns the content feature, alpha = 1 full stylization.
    """
    alpha = check_alpha(alpha)
    styles = _as_list(style_feat_or_list)
    ws = normalize_weights(weights, len(styles))
    mixed = sum(w * adain(content_feat, s, eps) for w, s in zip(ws, styles))
    return alpha * mixed + (1.0 - alpha) * content_feat


def _check_masks(masks, k: int) -> list[torch.Tensor]:
    masks = [masks] if isinstance(masks, torch.Tensor) else list(masks)
    if len(masks) != k:
        raise StylelabError(f"got {len(masks)} mask(s) for {k} style(s); give one mask per style")
    shape = None
    for i, m in enumerate(masks):
        if not isinstance(m, torch.Tensor) or m.dim() != 4 or m.shape[:2] != (1, 1):
            got = tuple(m.shape) if isinstance(m, torch.Tensor) else type(m).__name__
            raise StylelabError(f"mask {i} must be a (1, 1, H, W) tensor, got {got}")
        if shape is not None and m.shape != shape:
            raise StylelabError(
                f"masks must all have the same size, got {tuple(shape)} and {tuple(m.shape)}"
            )
        shape = m.shape
        if not torch.isfinite(m).all() or (m < 0).any():
            raise StylelabError(f"mask {i} must be finite and non-negative (e.g. in [0, 1])")
    return masks


def adain_masked(
    content_feat: torch.Tensor,
    style_feats: Sequence[torch.Tensor],
    masks: Sequence[torch.Tensor],
    eps: float = 1e-5,
) -> torch.Tensor:
    """Spatial control: style k inside mask k.

    masks: K tensors (1,1,H_img,W_img), soft or binary, resized (area) to the map.
    Region k's content statistics are the mask-weighted mean/std of x (as the
    original Torch code takes statistics over the masked pixels only); its style
    statistics are those of the whole y_k. Each pixel gets the mask-weighted
    average of the K results; pixels no mask covers keep the content feature.
    """
    styles = _as_list(style_feats)
    for s in styles:
        _check_pair(content_feat, s)
    masks = _check_masks(masks, len(styles))
    n, c, h, w = content_feat.shape
    m = torch.cat(masks, dim=1).to(content_feat)  # (1,K,H_img,W_img)
    m = F.interpolate(m, size=(h, w), mode="area") if m.shape[-2:] != (h, w) else m  # (1,K,h,w)
    cover = m.sum(dim=1, keepdim=True)  # (1,1,h,w)
    out = torch.zeros_like(content_feat)
    for k, s in enumerate(styles):
        mk = m[:, k : k + 1]  # (1,1,h,w)
        mass = mk.sum()
        if mass <= 0:
            continue  # this region vanished at the feature resolution
        # weighted mean and unbiased weighted variance of x inside region k: (N,C,1,1).
        # Reliability-weights correction V1 - V2/V1: it is count - 1 for a binary mask,
        # so an all-ones mask gives exactly `mean_std`'s unbiased statistics.
        mu = (content_feat * mk).sum(dim=(2, 3), keepdim=True) / mass
        dof = (mass - (mk**2).sum() / mass).clamp_min(1e-12)
        var = ((content_feat - mu) ** 2 * mk).sum(dim=(2, 3), keepdim=True) / dof
        sigma = (var + eps).sqrt()
        s_mean, s_std = mean_std(s, eps)
        out = out + mk * (s_std * (content_feat - mu) / sigma + s_mean)
    covered = cover > 0
    return torch.where(covered, out / cover.clamp_min(1e-12), content_feat)


def preserve_color(style_img: torch.Tensor, content_img: torch.Tensor) -> torch.Tensor:
    """The style image recoloured to the content image's RGB mean and covariance.

    Stylizing with the result keeps the content's colours (mechanisms §2.1: CORAL).
    """
    for t, what in ((style_img, "style image"), (content_img, "content image")):
        if not isinstance(t, torch.Tensor) or t.dim() != 4 or t.shape[1] != 3:
            got = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise StylelabError(f"{what} must be a (N, 3, H, W) RGB tensor, got {got}")
    return match_color(style_img, content_img).clamp(0.0, 1.0)
