"""Perceptual losses: content, style (Gram or mean/std), total variation, shift averaging.

A loss here compares *features*: the dicts `{tap: (N, C, H, W)}` that an `Encoder` returns.
Notation (mechanisms.md §1.2–1.3, §2.3): φ_l(x) is the feature map at tap l, with
C_l channels and M_l = H_l·W_l positions.

    content   L_c = mean( (φ_c(x) − φ_c(c))² )                      one tap, usually stride 8
    Gram      L_s = Σ_l w_l · mean( (G_l(x) − G_l(s))² ),  G_l = φ_l φ_lᵀ / M_l   (C_l, C_l)
    mean/std  L_s = Σ_l w_l · [ mean( (μ_l(x) − μ_l(s))² ) + mean( (σ_l(x) − σ_l(s))² ) ]
    TV        L_tv = mean |∂_y x| + mean |∂_x x|

The Gram loss is Gatys et al.'s E_l up to a constant: with G normalised by M_l,
E_l = 1/(4 C_l² M_l²) Σ (G_raw − A_raw)² = ¼ · mean((G − A)²).

Style targets are computed once from the style image (`style_targets`), so an optimisation
loop only pays for the features of the image it changes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F

from stylelab.core.errors import StylelabError
from stylelab.stats import gram, mean_std

STYLE_KINDS = ("gram", "mean_std")

# The four one-pixel shifts (dy, dx) used by `shift_averaged` and `one_pixel_shifts`.
SHIFTS = ((0, 0), (0, 1), (1, 0), (1, 1))

Features = Mapping[str, torch.Tensor]


def content_loss(feats: Features, target: Features, tap: str) -> torch.Tensor:
    """MSE between the features of the image and of the content image at one tap -> scalar."""
    _check_taps(feats, [tap], "image features")
    _check_taps(target, [tap], "content features")
    return F.mse_loss(feats[tap], target[tap])  # (N, C, h, w) vs (N, C, h, w) -> ()


def style_targets(feats: Features, taps: Sequence[str], kind: str = "gram") -> dict:
    """The statistics of the style image that a style loss matches, one entry per tap.

    kind="gram":     {tap: G}            G (N, C, C)
    kind="mean_std": {tap: (mu, sigma)}  each (N, C, 1, 1)
    Computed without grad: they are constants of the optimisation.
    """
    _check_kind(kind)
    _check_taps(feats, taps, "style features")
    with torch.no_grad():
        if kind == "gram":
            return {t: gram(feats[t]) for t in taps}
        return {t: mean_std(feats[t]) for t in taps}


def gram_style_loss(
    feats: Features, targets: Mapping[str, torch.Tensor], weights: Mapping[str, float] | None = None
) -> torch.Tensor:
    """Σ_l w_l · MSE(G_l(x), G_l(s)) over the taps in `targets` (Gatys et al.) -> scalar."""
    _check_taps(feats, targets.keys(), "image features")
    loss = feats[next(iter(targets))].new_zeros(())
    for tap, g_style in targets.items():
        g = gram(feats[tap])  # (N, C, C)
        loss = loss + _weight(weights, tap) * F.mse_loss(g, g_style.expand_as(g))
    return loss


def mean_std_style_loss(
    feats: Features,
    targets: Mapping[str, tuple[torch.Tensor, torch.Tensor]],
    weights: Mapping[str, float] | None = None,
) -> torch.Tensor:
    """Σ_l w_l · [MSE(μ_l) + MSE(σ_l)] over the taps in `targets` (AdaIN §2.3) -> scalar."""
    _check_taps(feats, targets.keys(), "image features")
    loss = feats[next(iter(targets))].new_zeros(())
    for tap, (mu_s, sigma_s) in targets.items():
        mu, sigma = mean_std(feats[tap])  # each (N, C, 1, 1)
        term = F.mse_loss(mu, mu_s.expand_as(mu)) + F.mse_loss(sigma, sigma_s.expand_as(sigma))
        loss = loss + _weight(weights, tap) * term
    return loss


def style_loss(feats: Features, targets: Mapping, kind: str = "gram", weights=None):
    """Dispatch to `gram_style_loss` or `mean_std_style_loss` by `kind`."""
    _check_kind(kind)
    if kind == "gram":
        return gram_style_loss(feats, targets, weights)
    return mean_std_style_loss(feats, targets, weights)


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Anisotropic total variation mean|∂_y x| + mean|∂_x x| of x (N, C, H, W) -> scalar.

    Hand-written: torchvision has no TV loss, and two lines of slicing are clearer than a
    dependency.
    """
    if x.dim() != 4:
        raise StylelabError(f"total_variation expects (N, C, H, W), got shape {tuple(x.shape)}")
    dy = (x[:, :, 1:, :] - x[:, :, :-1, :]).abs().mean()  # (N, C, H-1, W)
    dx = (x[:, :, :, 1:] - x[:, :, :, :-1]).abs().mean()  # (N, C, H, W-1)
    return dy + dx


def one_pixel_shifts(x: torch.Tensor) -> torch.Tensor:
    """The 4 one-pixel shifts of x, as crops stacked on the batch axis.

    x (N, C, H, W) -> (4N, C, H-1, W-1); shift k of sample n is row k·N + n.
    Crops, not `torch.roll`: a roll would wrap the right edge onto the left and add a seam.
    """
    if x.dim() != 4 or x.shape[-1] < 2 or x.shape[-2] < 2:
        raise StylelabError(f"one_pixel_shifts expects (N, C, H>=2, W>=2), got {tuple(x.shape)}")
    h, w = x.shape[-2] - 1, x.shape[-1] - 1
    return torch.cat([x[:, :, dy : dy + h, dx : dx + w] for dy, dx in SHIFTS])


def shift_averaged(loss_fn: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """Wrap `loss_fn(*images)` so it returns the mean over the 4 one-pixel shifts of the images.

    Every tensor argument is cropped the same way (so a content image stays aligned with the
    image being optimised); other arguments pass through unchanged.

    Why: a stride-2 convolution sees pixel (2i, 2j) and pixel (2i+1, 2j+1) in different roles,
    so a loss on its features is not shift invariant. A pattern of period 2 (a checkerboard)
    can then change the features little while the optimiser uses it freely; averaging the loss
    over the four phases of the stride-2 grid takes that freedom away (measured in
    scripts/compare_encoders.py with MobileNetV2).
    """

    def averaged(*args, **kwargs):
        total = None
        for dy, dx in SHIFTS:
            shifted = [_crop(a, dy, dx) if torch.is_tensor(a) else a for a in args]
            value = loss_fn(*shifted, **kwargs)
            total = value if total is None else total + value
        return total / len(SHIFTS)

    return averaged


def tap_balance(targets: Mapping, kind: str = "gram") -> dict[str, float]:
    """Per-tap weights 1 / (mean squared target) so each tap's style loss is a *relative* error.

    Why: feature scales differ by orders of magnitude between taps and between encoders
    (a random-init VGG and a trained MobileNetV2), so equal weights let one tap dominate and a
    style weight tuned for one encoder means nothing for another. With these weights a style
    loss of 1 means "as large as the target statistics themselves" at every tap.
    """
    _check_kind(kind)
    weights = {}
    for tap, target in targets.items():
        parts = [target] if kind == "gram" else list(target)
        energy = sum(float(p.pow(2).mean()) for p in parts)
        weights[tap] = 1.0 / max(energy, 1e-12)  # a dead (all-zero) tap gets a large, finite weight
    return weights


def _crop(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    h, w = x.shape[-2] - 1, x.shape[-1] - 1
    return x[..., dy : dy + h, dx : dx + w]


def _weight(weights: Mapping[str, float] | None, tap: str) -> float:
    if weights is None:
        return 1.0
    if tap not in weights:
        raise StylelabError(f"no style weight for tap {tap!r}; give one for each of the style taps")
    return float(weights[tap])


def _check_kind(kind: str) -> None:
    if kind not in STYLE_KINDS:
        raise StylelabError(f"unknown style loss {kind!r}; choose one of {', '.join(STYLE_KINDS)}")


def _check_taps(feats: Mapping, taps, what: str) -> None:
    missing = [t for t in taps if t not in feats]
    if missing:
        raise StylelabError(
            f"{what} have no tap(s) {missing}; available: {list(feats)}. "
            "Ask the encoder for these taps (enc(x, taps=[...]))."
        )
    if not list(taps):
        raise StylelabError(f"no taps given for the {what}; pass at least one tap name")
