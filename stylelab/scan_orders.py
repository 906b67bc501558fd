"""Scan orders: how an H×W image becomes a sequence for a 1-D recurrence (SSM scan, WKV).

An order is a permutation `perm` (LongTensor of length L = H*W): `perm[i]` is the row-major
index r*W + c of the pixel visited i-th. So `x.flatten(-2)[..., perm]` is the sequence, and
`seq[..., inverse(perm)]` puts a per-step output back in row-major order.

    raster   row by row, left to right                      (VMamba direction 0)
    column   column by column, top to bottom                (direction 1)
    reversed any order, backwards                           (directions 2 and 3)
    snake    boustrophedon: every other row right to left   (MambaST's zig-zag ablation)
    s_scan   skip scan with step p (EfficientVMamba ES2D as StyleRWKV uses it, mechanisms.md
             §5.4): the p² strided sub-grids x[dr::p, dc::p], in the order g0 = (0,0),
             g1 = (1,0), g2 = (0,1), g3 = (1,1) for p = 2 (row offset fastest), each
             traversed row-major and concatenated. Pixels p apart become neighbours in the
             sequence. Odd H or W need no padding: a group is whatever its stride hits.

Every "vertical" variant is the horizontal one on the transposed image, mapped back:
column = vertical raster; vertical snake goes down and up columns; vertical s_scan traverses
each group column-major and, being the transpose, visits the groups g0, g2, g1, g3
(the reference, §5.4, is a reconstruction that says only "group traversal transposed").

The SS2D cross scan (§4.2) stacks four orders: raster, column, reversed raster, reversed
column; `cross_merge` maps the four outputs back and sums them (sum, not mean).
"""

from __future__ import annotations

import numpy as np
import torch
from einops import rearrange

from stylelab.core.errors import StylelabError

ORDERS = (
    "raster",
    "column",
    "raster_reversed",
    "column_reversed",
    "snake",
    "snake_vertical",
    "s_scan",
    "s_scan_vertical",
)


def _check_size(height, width, step=1) -> None:
    for name, n in (("height", height), ("width", width), ("step p", step)):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise StylelabError(f"scan order: {name} must be a positive integer, got {n!r}")


def _grid(height: int, width: int) -> torch.Tensor:
    """(H, W) row-major indices: grid[r, c] = r*W + c."""
    return torch.arange(height * width).view(height, width)


def raster(height: int, width: int) -> torch.Tensor:
    """Row-major: 0, 1, ..., L-1."""
    _check_size(height, width)
    return torch.arange(height * width)


def column(height: int, width: int) -> torch.Tensor:
    """Column-major: down the first column, then the next."""
    _check_size(height, width)
    return _grid(height, width).t().reshape(-1)


def reversed_order(perm: torch.Tensor) -> torch.Tensor:
    """The same pixels visited backwards."""
    _check_perm(perm)
    return perm.flip(0)


def snake(height: int, width: int, vertical: bool = False) -> torch.Tensor:
    """Boustrophedon: rows alternate left-to-right and right-to-left (columns if vertical)."""
    _check_size(height, width)
    if vertical:
        return _transposed(snake(width, height), height, width)
    grid = _grid(height, width).clone()
    grid[1::2] = grid[1::2].flip(1)
    return grid.reshape(-1)


def s_scan(height: int, width: int, step: int = 2, vertical: bool = False) -> torch.Tensor:
    """Skip scan: sub-grids x[dr::p, dc::p] (dr fastest), each row-major, concatenated.

    With p = 1 this is the raster order; vertical=True is the same scan of the transposed image.
    """
    _check_size(height, width, step)
    if vertical:
        return _transposed(s_scan(width, height, step), height, width)
    grid = _grid(height, width)
    groups = [grid[dr::step, dc::step].reshape(-1) for dc in range(step) for dr in range(step)]
    return torch.cat(groups)


def _transposed(perm_t: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """An order of the transposed (W×H) image, as indices of the original H×W image."""
    # pixel j of the transposed image is (c, r) = divmod(j, H), i.e. original index r*W + c
    cols, rows = perm_t // height, perm_t % height
    return rows * width + cols


def scan_order(name: str, height: int, width: int, step: int = 2) -> torch.Tensor:
    """The permutation for an order named in ORDERS (`step` is the s_scan skip p)."""
    if name == "raster":
        return raster(height, width)
    if name == "column":
        return column(height, width)
    if name == "raster_reversed":
        return reversed_order(raster(height, width))
    if name == "column_reversed":
        return reversed_order(column(height, width))
    if name in ("snake", "snake_vertical"):
        return snake(height, width, vertical=name == "snake_vertical")
    if name in ("s_scan", "s_scan_vertical"):
        return s_scan(height, width, step, vertical=name == "s_scan_vertical")
    raise StylelabError(f"unknown scan order {name!r}; choose one of {', '.join(ORDERS)}")


def _check_perm(perm) -> None:
    if not isinstance(perm, torch.Tensor) or perm.ndim != 1 or perm.dtype != torch.long:
        raise StylelabError(
            "a scan order is a 1-D LongTensor of pixel indices (see stylelab.scan_orders.ORDERS)"
        )


def inverse(perm: torch.Tensor) -> torch.Tensor:
    """inv with inv[perm[i]] = i, so seq[..., inv] is back in row-major order."""
    _check_perm(perm)
    n = perm.numel()
    if n == 0 or perm.min() < 0 or perm.max() >= n or perm.unique().numel() != n:
        raise StylelabError(
            f"not a scan order: {n} indices that are not a permutation of 0..{n - 1}"
        )
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(perm.numel(), device=perm.device)
    return inv


def scan(x: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    """(..., H, W) -> (..., L): the pixels in visiting order."""
    _check_perm(perm)
    flat = x.flatten(-2)
    if flat.shape[-1] != perm.numel():
        raise StylelabError(
            f"scan: image has {flat.shape[-1]} pixels but the order has {perm.numel()}; "
            "build the order with the image's H and W"
        )
    return flat.index_select(-1, perm.to(x.device))


def unscan(seq: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    """(..., L) in visiting order -> (..., L) in row-major order (undo `scan`)."""
    _check_perm(perm)
    if seq.shape[-1] != perm.numel():
        raise StylelabError(
            f"unscan: sequence has length {seq.shape[-1]} but the order has {perm.numel()}"
        )
    return seq.index_select(-1, inverse(perm).to(seq.device))


def cross_orders(height: int, width: int) -> torch.Tensor:
    """The four SS2D orders (4, L): raster, column, reversed raster, reversed column."""
    row, col = raster(height, width), column(height, width)
    return torch.stack([row, col, row.flip(0), col.flip(0)])


def cross_scan(x: torch.Tensor) -> torch.Tensor:
    """SS2D cross scan (mechanisms.md §4.2 step 3): (B, C, H, W) -> (B, 4, C, L)."""
    if x.ndim != 4:
        raise StylelabError(f"cross_scan expects (B, C, H, W), got shape {tuple(x.shape)}")
    orders = cross_orders(x.shape[2], x.shape[3]).to(x.device)  # (4, L)
    pixels = rearrange(x, "b c h w -> b c (h w)")
    return rearrange(pixels[..., orders], "b c k l -> b k c l").contiguous()


def cross_merge(y: torch.Tensor, height: int | None = None, width: int | None = None):
    """SS2D cross merge (§4.2 step 5): (B, 4, C, L) -> (B, C, L) row-major, the four summed.

    Pass height and width for non-square images (the column order depends on them);
    without them the image is taken as square.
    """
    if y.ndim != 4 or y.shape[1] != 4:
        raise StylelabError(f"cross_merge expects (B, 4, C, L), got shape {tuple(y.shape)}")
    length = y.shape[-1]
    if height is None and width is None:
        side = int(round(length**0.5))
        if side * side != length:
            raise StylelabError(
                f"cross_merge: length {length} is not a square; pass height= and width="
            )
        height = width = side
    elif height is None or width is None or height * width != length:
        raise StylelabError(
            f"cross_merge: height*width must equal the length {length}; got {height}x{width}"
        )
    orders = cross_orders(height, width).to(y.device)
    return sum(unscan(y[:, k], orders[k]) for k in range(4))


def scan_picture(order, height: int, width: int, step: int = 2) -> np.ndarray:
    """(H, W) int array: the step at which each pixel is visited (for figures).

    `order` is a name from ORDERS or a permutation tensor.
    """
    perm = scan_order(order, height, width, step) if isinstance(order, str) else order
    _check_perm(perm)
    if perm.numel() != height * width:
        raise StylelabError(f"scan_picture: order has {perm.numel()} steps, not {height}*{width}")
    return inverse(perm).view(height, width).cpu().numpy()
