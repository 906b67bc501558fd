"""Feature statistics: channel mean/std, Gram matrix, mean-variance norm, colour transfer.

"Style" in the first chapters is a handful of statistics of feature maps.
Every function here takes feature maps `feat` of shape (N, C, H, W) and
reduces over the H*W spatial positions.

    mean_std:    mu_c = 1/HW sum_p F_cp            sigma_c = sqrt(var_unbiased(F_c) + eps)
    gram:        G_cd = 1/HW sum_p F_cp F_dp
    mvn:         (F - mu) / sigma
    match_color: x -> Sigma_t^1/2 Sigma_s^-1/2 (x - mu_s) + mu_t      (CORAL, on RGB pixels)
"""

from __future__ import annotations

import torch

from stylelab.core.errors import StylelabError

__all__ = ["mean_std", "gram", "mvn", "match_color"]


def _check_feat(feat: torch.Tensor, what: str, min_positions: int = 1) -> None:
    if not isinstance(feat, torch.Tensor) or feat.ndim != 4:
        shape = tuple(feat.shape) if isinstance(feat, torch.Tensor) else type(feat).__name__
        raise StylelabError(
            f"{what} expects a 4-D tensor (N, C, H, W), got {shape}; "
            "add a batch dimension with t[None] or reshape it"
        )
    h, w = feat.shape[-2:]
    if h * w < min_positions:
        raise StylelabError(
            f"{what} needs at least {min_positions} spatial positions to estimate a variance, "
            f"got H x W = {h} x {w}; use a larger input image"
        )


def mean_std(feat: torch.Tensor, eps: float = 1e-5) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample, per-channel mean and std, each (N, C, 1, 1).

    The variance is unbiased (divides by HW - 1) and eps is added to the
    *variance*, not the std, as in AdaIN's reference code (mechanisms.md 1.2).
    """
    _check_feat(feat, "mean_std", min_positions=2)
    n, c = feat.shape[:2]
    flat = feat.reshape(n, c, -1)  # (N, C, HW)
    mean = flat.mean(dim=2)
    var = flat.var(dim=2, unbiased=True)
    return mean.view(n, c, 1, 1), (var + eps).sqrt().view(n, c, 1, 1)


def mvn(feat: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Mean-variance normalisation: every channel to zero mean, unit std. Same shape as feat."""
    mean, std = mean_std(feat, eps)
    return (feat - mean) / std


def gram(feat: torch.Tensor) -> torch.Tensor:
    """Gram matrix G = F F^T / (H W), shape (N, C, C). Not centred (Gatys et al.)."""
    _check_feat(feat, "gram")
    n, c, h, w = feat.shape
    flat = feat.reshape(n, c, h * w)  # (N, C, HW)
    return flat @ flat.transpose(1, 2) / (h * w)  # (N, C, C)


def _sym_power(cov: torch.Tensor, power: float) -> torch.Tensor:
    """cov^power for symmetric positive definite (N, 3, 3) matrices, via eigh."""
    evals, evecs = torch.linalg.eigh(cov)
    # eigh can return tiny negative eigenvalues from round-off; cov already has +eps*I.
    scaled = evecs * evals.clamp_min(1e-12).pow(power).unsqueeze(-2)
    return scaled @ evecs.transpose(-1, -2)


def _rgb_mean_cov(img: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    x = img.reshape(img.shape[0], 3, -1).double()  # (N, 3, HW), float64: 3x3 roots stay exact
    mean = x.mean(dim=2, keepdim=True)  # (N, 3, 1)
    centred = x - mean
    cov = centred @ centred.transpose(1, 2) / (x.shape[2] - 1)  # (N, 3, 3), unbiased
    return mean, cov + eps * torch.eye(3, dtype=x.dtype, device=x.device)


def match_color(
    source: torch.Tensor, target: torch.Tensor, eps: float = 1e-5, clamp: bool = True
) -> torch.Tensor:
    """Recolour `source` so its RGB mean and covariance equal those of `target` (CORAL).

    source (N, 3, H, W), target (N or 1, 3, H', W'); sizes may differ.
    Returns (N, 3, H, W), clamped to [0, 1] unless clamp=False (clamping moves the
    statistics slightly where the affine map leaves the unit cube).

    AdaIN uses this for colour preservation: match the *style* image to the
    *content* image's colours, then stylize.
    """
    for name, t in (("source", source), ("target", target)):
        _check_feat(t, f"match_color {name}", min_positions=2)
        if t.shape[1] != 3:
            raise StylelabError(
                f"match_color expects RGB images (N, 3, H, W); {name} has {t.shape[1]} channels"
            )
    if target.shape[0] not in (1, source.shape[0]):
        raise StylelabError(
            f"match_color: target batch {target.shape[0]} must be 1 or equal the source "
            f"batch {source.shape[0]}"
        )
    n, _, h, w = source.shape
    mu_s, cov_s = _rgb_mean_cov(source, eps)
    mu_t, cov_t = _rgb_mean_cov(target, eps)
    # A whitens the source (Sigma_s^-1/2), then colours it with the target (Sigma_t^1/2).
    a = _sym_power(cov_t, 0.5) @ _sym_power(cov_s, -0.5)  # (N, 3, 3)
    x = source.reshape(n, 3, h * w).double()
    out = (a @ (x - mu_s) + mu_t).to(source.dtype).reshape(n, 3, h, w)
    return out.clamp(0.0, 1.0) if clamp else out
