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
from stylelab.scan_orders import scan_picture

FIGURE_WIDTH = 9.2


def bi_wkv_matrix(w: float, u: float, k: torch.Tensor) -> torch.Tensor:
    """(T, T) weights P[t, i] of one channel's Bi-WKV, as `bi_wkv` computes them (w and u
    divided by T here): softmax over i of -(|t-i|-1) w/T + k_i, and u/T + k_t at i = t."""
    length = k.numel()
    pos = torch.arange(length, dtype=torch.float64)
    dist = (pos[:, None] - pos[None, :]).abs()
    logits = torch.where(dist == 0, u / length, -(dist - 1) * w / length) + k.double()[None, :]
    return torch.softmax(logits, dim=1)


def re_wkv_matrix(k, decay, first, resolution, scan="raster", skip=2) -> torch.Tensor:
    """(T, T) implicit attention of one channel after q = len(decay) passes: row t says how
    much output t reads each input token, both in row-major order. k: (T,) row-major."""
    length = k.numel()
    total = torch.eye(length, dtype=torch.float64)
    for j in range(len(decay)):
        perm = pass_order(resolution, scan, skip, j)
        p = bi_wkv_matrix(float(decay[j]), float(first[j]), k[perm])  # in pass order
        inv = torch.empty_like(perm)
        inv[perm] = torch.arange(length)
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
