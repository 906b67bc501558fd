"""Chapter 6's figures: Bi-WKV and Re-WKV unrolled into attention matrices, and what the
S-scan does to the distance between neighbours. The mechanism itself is `stylelab.rwkv`.

Re-WKV is linear in v: each pass replaces v by P_j v, with P_j the (T, T) row-stochastic
matrix of Bi-WKV's weights in that pass's order (mapped back to row-major). After q passes
y = P_{q-1} ... P_1 P_0 v, so one output's row of that product is its implicit attention.
"""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import torch

from stylelab.rwkv.re_wkv import pass_order
from stylelab.scan_orders import inverse, scan_picture

FIGURE_WIDTH = 9.2


def bi_wkv_matrix(w: float, u: float, k: torch.Tensor) -> torch.Tensor:
    """(T, T) weights P[t, i] of one channel's Bi-WKV, as `bi_wkv` computes them (w and u
    divided by T here): softmax over i of -(|t-i|-1) w/T + k_i, and u/T + k_t at i = t."""
    one = torch.tensor([w], dtype=torch.float64), torch.tensor([u], dtype=torch.float64)
    return bi_wkv_matrices(*one, k.reshape(-1, 1))[0]


def re_wkv_matrix(k, decay, first, resolution, scan="raster", skip=2) -> torch.Tensor:
    """(T, T) implicit attention of one channel after q = len(decay) passes: row t says how
    much output t reads each input token, both in row-major order. k: (T,) row-major."""
    length = k.numel()
    total = torch.eye(length, dtype=torch.float64)
    for j in range(len(decay)):
        perm = pass_order(resolution, scan, skip, j)
        p = bi_wkv_matrix(float(decay[j]), float(first[j]), k[perm])  # in pass order
        inv = inverse(perm)
        total = p[inv][:, inv] @ total  # back to row-major, then chained after the passes so far
    return total


def neighbour_distances(order: torch.Tensor, height: int, width: int) -> dict[str, float]:
    """Median distance in the sequence between pixels 1 and 2 apart, across and down."""
    step = torch.as_tensor(scan_picture(order, height, width))
    found = {}
    for name, (dy, dx) in {"right 1": (0, 1), "down 1": (1, 0), "right 2": (0, 2),
                           "down 2": (2, 0)}.items():  # fmt: skip
        a = step[: height - dy, : width - dx]
        b = step[dy:, dx:]
        found[name] = float((a - b).abs().double().median())
    return found


def order_figure(orders: list[tuple[str, torch.Tensor]], height: int, width: int, caption: str):
    """Each order's visiting step printed in its pixel, coloured by step."""
    fig, axes = plt.subplots(1, len(orders), figsize=(FIGURE_WIDTH, FIGURE_WIDTH / len(orders)
                                                      * height / width + 1.0),
                             layout="constrained")  # fmt: skip
    plt.close(fig)
    for ax, (title, order) in zip(np.atleast_1d(axes), orders):
        step = scan_picture(order, height, width)
        ax.imshow(step, cmap="viridis")
        for r in range(height):
            for c in range(width):
                colour = "white" if step[r, c] < 0.6 * step.max() else "black"
                ax.text(c, r, str(step[r, c]), ha="center", va="center", fontsize=8, color=colour)
        ax.set_title(title, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.supxlabel(textwrap.fill(caption, 140), fontsize=8)
    return fig


def attention_panels(image: np.ndarray, rows: list[tuple[str, np.ndarray]], point, caption: str):
    """The image dimmed with each row's weights (h, w) on top, log colour, the query marked."""
    fig, axes = plt.subplots(1, len(rows), figsize=(FIGURE_WIDTH, FIGURE_WIDTH / len(rows)
                                                    * image.shape[0] / image.shape[1] + 1.0),
                             layout="constrained")  # fmt: skip
    plt.close(fig)
    h_img, w_img = image.shape[:2]
    for ax, (title, weights) in zip(np.atleast_1d(axes), rows):
        ax.imshow(image.astype(np.float64) / 255.0 * 0.35)
        log = np.log10(np.maximum(weights / weights.max(), 1e-4))  # 4 decades
        heat = plt.cm.plasma((log + 4) / 4)
        heat[..., 3] = (log + 4) / 4
        ax.imshow(heat, extent=(0, w_img, h_img, 0), interpolation="nearest")
        sy, sx = h_img / weights.shape[0], w_img / weights.shape[1]
        ax.plot((point[1] + 0.5) * sx, (point[0] + 0.5) * sy, "o", ms=9, mfc="none",
                mec="#00e5ff", mew=2)  # fmt: skip
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    fig.supxlabel(textwrap.fill(caption, 140), fontsize=8)
    return fig


def weight_spread(row: np.ndarray, share: float = 0.9) -> float:
    """The fraction of tokens that carry `share` of one output's attention (its receptive
    field, in tokens over T)."""
    values = np.sort(row.ravel())[::-1]
    return float(np.searchsorted(np.cumsum(values) / values.sum(), share) + 1) / values.size


def bi_wkv_matrices(w: torch.Tensor, u: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """`bi_wkv_matrix` for every channel at once: w, u (C,), k (T, C) -> P (C, T, T)."""
    length = k.shape[0]
    pos = torch.arange(length, dtype=torch.float64)
    dist = (pos[:, None] - pos[None, :]).abs()  # (T, T)
    w, u = w.double()[:, None, None] / length, u.double()[:, None, None] / length  # (C, 1, 1)
    logits = torch.where(dist == 0, u, -(dist - 1) * w) + k.double().T[:, None, :]  # (C, T, T)
    return torch.softmax(logits, dim=2)


def spatial_mix_reads(mix, x: torch.Tensor, resolution, position: int) -> np.ndarray:
    """What output token `position` of a trained SpatialMix reads of its input tokens,
    averaged over the channels: `spatial_mix_rows(...).mean(0)` as a (h, w) map."""
    return spatial_mix_rows(mix, x, resolution, position).mean(0).view(*resolution).numpy()


@torch.no_grad()
def spatial_mix_rows(mix, x: torch.Tensor, resolution, position: int) -> torch.Tensor:
    """(C, T): row `position` of each channel's implicit attention after the q passes, so
    that Re-WKV's output there is (rows * v.T).sum(1) for the mix's values v (T, C).

    x: (1, T, C), the mix's input (after the block's LayerNorm). The shift runs first, as
    in the forward; the row is the same chained product as `re_wkv_matrix`, per channel."""
    from stylelab.rwkv.blocks import _shifted

    h, w = resolution
    k = mix.key(_shifted(mix.shift, x, resolution, "torch"))[0]  # (T, C)
    row = torch.zeros(k.shape[1], h * w, dtype=torch.float64)  # (C, T): e_position
    row[:, position] = 1.0
    for j in reversed(range(mix.recurrence)):  # row @ P_{q-1} ... P_0, last pass first
        perm = pass_order((h, w), mix.scan, mix.skip, j)
        inv = inverse(perm)
        p = bi_wkv_matrices(mix.spatial_decay[j], mix.spatial_first[j], k[perm])  # (C, T, T)
        row = torch.einsum("ct,cti->ci", row, p[:, inv][:, :, inv])  # row-major again
    return row


def offset_figure(image: np.ndarray, offset, mask, stride: int, caption: str, every: int = 1):
    """Deform-Shifting's learned sampling on a feature map: for every `every`-th token, an
    arrow from the token to the mask-weighted mean of its 9 taps' sampling points, and beside
    it how far each arrow is from the map's average arrow.
    offset (18, h, w): (dy, dx) per tap, in feature pixels; mask (9, h, w)."""
    offset, mask = torch.as_tensor(offset).double(), torch.as_tensor(mask).double()
    h, w = mask.shape[-2:]
    dy, dx = offset[0::2], offset[1::2]  # (9, h, w) each: tap t's shift from its grid place
    weight = mask / mask.sum(0, keepdim=True).clamp_min(1e-12)
    my, mx = (weight * dy).sum(0).numpy(), (weight * dx).sum(0).numpy()  # (h, w) mean shift
    deviation = np.hypot(my - my.mean(), mx - mx.mean())  # what depends on the content
    ratio = image.shape[0] / image.shape[1]
    fig, axes = plt.subplots(1, 2, figsize=(FIGURE_WIDTH, FIGURE_WIDTH / 2 * ratio + 1.0),
                             layout="constrained")  # fmt: skip
    plt.close(fig)
    axes[0].imshow(image)
    ys, xs = np.mgrid[0:h:every, 0:w:every]
    axes[0].quiver((xs + 0.5) * stride, (ys + 0.5) * stride, mx[::every, ::every] * stride,
                   my[::every, ::every] * stride, color="#00e5ff", angles="xy",
                   scale_units="xy", scale=1, width=0.004)  # fmt: skip
    axes[0].set_title(f"shift per token, to scale; on average (dy, dx) = "
                      f"({my.mean() * stride:.1f}, {mx.mean() * stride:.1f}) px", fontsize=9)  # fmt: skip
    axes[0].axis("off")
    shown = axes[1].imshow(deviation * stride, cmap="viridis")
    fig.colorbar(shown, ax=axes[1], shrink=0.8, label="image pixels")
    axes[1].set_title("|shift - the average shift|: the part that follows the image", fontsize=9)
    axes[1].axis("off")
    fig.supxlabel(textwrap.fill(caption, 140), fontsize=8)
    return fig


def readers_figure(content, style, point, rows, caption: str):
    """Chapter 4's one-query picture for several mechanisms: the content with the query, then
    each row's weights over the image it reads. rows: (title, weights (h, w), "style" or
    "content"); weights drawn as in chapter 4 (`attention_figures.overlay`)."""
    from stylelab.book.attention_figures import overlay
    from stylelab.book.figures import as_rgb_array

    images = {"content": as_rgb_array(content), "style": as_rgb_array(style)}
    ratio = images["content"].shape[0] / images["content"].shape[1]
    n = len(rows) + 1
    fig, axes = plt.subplots(1, n, figsize=(FIGURE_WIDTH, FIGURE_WIDTH / n * ratio + 1.1),
                             layout="constrained")  # fmt: skip
    plt.close(fig)
    axes[0].imshow(images["content"])
    axes[0].plot(point[1], point[0], "o", ms=9, mfc="none", mec="#00e5ff", mew=2.5)
    axes[0].set_title("content: the query", fontsize=10)
    axes[0].axis("off")
    for ax, (title, weights, reads) in zip(axes[1:], rows):
        overlay(ax, images[reads], weights, f"{title}\n(reads the {reads})")
        if reads == "content":
            ax.plot(point[1], point[0], "o", ms=9, mfc="none", mec="#00e5ff", mew=2)
    fig.supxlabel(textwrap.fill(caption, 140), fontsize=8)
    return fig


@torch.no_grad()
def decoder_reads(model, content, style, position: int, per_channel: bool = False):
    """What one token reads in the first spatial mix of a StyleRWKV's level-1 decoder (the
    last RWKV layer before the CNN head): `spatial_mix_reads` on the AdaIN'd, upsampled and
    reduced features there, (h, w) at stride `patch`. content, style: (1, 3, H, W), sides
    multiples of `model.multiple`; the style only sets the AdaIN targets. per_channel: each
    channel's row instead of their mean, a (C, h, w) tensor."""
    from einops import rearrange

    from stylelab.adain.op import blend

    model.eval()
    targets = [blend(c, s) for c, s in zip(model.features(content), model.features(style))]
    y = targets[-1]
    for level in range(len(targets) - 2, -1, -1):  # as StyleRWKV.decode, up to level 1's blocks
        y = model.reduce[level](torch.cat([model.ups[level](y), targets[level]], dim=1))
        if level:
            y = model.dec[level](y)
    h, w = y.shape[-2:]
    block = model.dec[0].blocks[0]
    x = block.ln1(rearrange(y, "b c h w -> b (h w) c"))  # (1, T, C), the mix's input
    if per_channel:
        return spatial_mix_rows(block.att, x, (h, w), position).view(-1, h, w)
    return spatial_mix_reads(block.att, x, (h, w), position)
