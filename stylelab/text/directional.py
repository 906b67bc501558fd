"""Text-guided losses on embeddings: CLIPstyler's exactly, StyleMamba's as our reconstruction.

Notation (mechanisms.md §6): E_I, E_T the image and text towers of one space, outputs
L2-normalised; X the content image, Y the output; ΔT = norm(t_tgt - t_src) the text direction.

    directional        L_dir = 1 - cos(norm(E_I(Y) - E_I(X)), ΔT)            CLIPstyler
    patch              l_i = 1 - cos(norm(E_I(crop_i(Y)) - E_I(X)), ΔT),
                       l_i = 0 where l_i < τ (0.7);  L_patch = mean_i l_i      CLIPstyler
    masked directional L_md = mean_j [1 - cos(norm(E_I(M_j⊙Y) - E_I(M_j⊙X)), ΔT)]  StyleMamba [R]
    second order (a)   L_so = 1 - cos(ΔI_k - ΔI_{k-1}, ΔT - ΔI_{k-1})          StyleMamba [R]
    second order (b)   L_so = 1 - cos(E_I(Y_a) - E_I(Y_b), E_I(X_a) - E_I(X_b))  StyleMamba [R]
    total variation    L_tv = Σ ‖neighbour differences‖₂ over 4 directions   CLIPstyler

The functions here take embeddings (and masks), so each is checked on hand-made vectors whose
answer is known; `stylelab.text.objective` runs the towers and the crops around them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from stylelab.core.errors import StylelabError

PATCH_THRESHOLD = 0.7  # CLIPstyler's τ: patches already aligned below it add nothing


def unit(x: torch.Tensor) -> torch.Tensor:
    """x / ‖x‖ along the last axis (eps 1e-12: a zero vector stays zero, never NaN)."""
    return F.normalize(x, dim=-1, eps=1e-12)


def text_direction(target: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """ΔT = norm(t_tgt - t_src): (D,) each -> (D,)."""
    if target.shape != source.shape:
        raise StylelabError(f"text direction: shapes differ, {target.shape} vs {source.shape}")
    return unit(target - source)


def _check(images: torch.Tensor, sources: torch.Tensor, direction: torch.Tensor, what: str):
    if images.ndim != 2 or direction.ndim != 1 or images.shape[1] != direction.shape[0]:
        raise StylelabError(
            f"{what}: embeddings must be (N, D) with a (D,) direction, got "
            f"{tuple(images.shape)} and {tuple(direction.shape)}"
        )
    if sources.shape[-1] != direction.shape[0]:
        raise StylelabError(f"{what}: source embeddings are {tuple(sources.shape)}")


def directional_terms(images, sources, direction) -> torch.Tensor:
    """1 - cos(norm(e_img - e_src), ΔT) per row: images (N, D), sources (N, D) or (D,)."""
    _check(images, sources, direction, "directional loss")
    return 1.0 - (unit(images - sources) * unit(direction)).sum(-1)  # (N,)


def directional_loss(image, source, direction) -> torch.Tensor:
    """CLIPstyler's global L_dir, averaged over a batch: image (N, D) or (D,)."""
    image = image[None] if image.ndim == 1 else image
    return directional_terms(image, source, direction).mean()


def patch_loss(crops, source, direction, threshold: float = PATCH_THRESHOLD) -> torch.Tensor:
    """CLIPstyler's L_patch: crops (N, D) of the output against the WHOLE content's (D,);
    terms below `threshold` are set to 0 (rejected), then the mean over all N crops."""
    terms = directional_terms(crops, source, direction)
    return torch.where(terms < threshold, torch.zeros_like(terms), terms).mean()


def masked_directional_loss(masked_outputs, masked_contents, direction) -> torch.Tensor:
    """StyleMamba's L_md [R]: row j embeds M_j⊙Y and M_j⊙X (the same mask on both, see
    `apply_masks`); the mean over the masks of the directional term."""
    if masked_outputs.shape != masked_contents.shape:
        raise StylelabError(
            "masked directional loss: output and content embeddings must pair up mask by mask, "
            f"got {tuple(masked_outputs.shape)} and {tuple(masked_contents.shape)}"
        )
    return directional_terms(masked_outputs, masked_contents, direction).mean()


def second_order_steps(delta, previous, direction) -> torch.Tensor:
    """L_so, option (a) [R]: the change of the image direction since the last step,
    ΔI_k - ΔI_{k-1}, should point along what is left to go, ΔT - ΔI_{k-1}.

    delta: ΔI_k = norm(E_I(Y_k) - E_I(X)) (D,) or (N, D); previous: ΔI_{k-1}, detached here
    (it is a stored value, not a path for the gradient)."""
    previous = previous.detach()
    return (1.0 - (unit(delta - previous) * unit(direction - previous)).sum(-1)).mean()


def second_order_pairs(out_a, out_b, content_a, content_b) -> torch.Tensor:
    """L_so, option (b) [R]: two contents under one prompt keep their difference:
    1 - cos(E_I(Y_a) - E_I(Y_b), E_I(X_a) - E_I(X_b)); (D,) or (N, D) each."""
    return (1.0 - (unit(out_a - out_b) * unit(content_a - content_b)).sum(-1)).mean()


def random_masks(count: int, height: int, width: int, grid: int = 8, keep: float = 0.5,
                 generator: torch.Generator | None = None) -> torch.Tensor:  # fmt: skip
    """(count, 1, H, W) binary masks: a grid x grid board of cells, each kept with
    probability `keep`, at least one cell kept per mask."""
    if not 0.0 < keep <= 1.0:
        raise StylelabError(f"random masks: keep must be in (0, 1], got {keep}")
    cells = torch.rand(count, 1, grid, grid, generator=generator) < keep
    empty = ~cells.flatten(1).any(1)
    cells[empty, 0, 0, 0] = True  # an empty mask has no direction to measure
    return F.interpolate(cells.float(), size=(height, width), mode="nearest")


def apply_masks(masks: torch.Tensor, output: torch.Tensor, content: torch.Tensor):
    """(M⊙Y, M⊙X) for every mask: masks (J, 1, H, W), images (1, 3, H, W) -> (J, 3, H, W)
    each. The same mask on both, so the direction compares like with like."""
    if output.shape != content.shape or output.shape[-2:] != masks.shape[-2:]:
        raise StylelabError(
            f"apply_masks: output {tuple(output.shape)}, content {tuple(content.shape)} and "
            f"masks {tuple(masks.shape)} must share H and W"
        )
    return masks * output, masks * content


def total_variation(images: torch.Tensor) -> torch.Tensor:
    """CLIPstyler's L_tv: the sum of the L2 norms of the horizontal, vertical and two
    diagonal neighbour differences of (N, C, H, W)."""
    horizontal = images[..., :, :-1] - images[..., :, 1:]
    vertical = images[..., :-1, :] - images[..., 1:, :]
    diagonal = images[..., 1:, :-1] - images[..., :-1, 1:]
    anti = images[..., :-1, :-1] - images[..., 1:, 1:]
    return sum(torch.linalg.vector_norm(d) for d in (horizontal, vertical, diagonal, anti))
