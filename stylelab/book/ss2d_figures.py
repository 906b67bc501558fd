"""Chapter 5's figures: the four scan orders, receptive fields, the hidden attention of a scan,
and what an ST-VSSM content position reads of the style. Plotting a reader of the chapter does
not need to see; the mechanism itself is `stylelab.ssm.ss2d` and `stylelab.ssm.mamba_st`.
"""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import LogNorm

from stylelab.book.scan_figures import FIGURE_WIDTH, reveal_frames
from stylelab.ssm.mamba_st import MambaST, shuffle_tokens

CROSS = ("raster", "column", "raster_reversed", "column_reversed")  # SS2D's K = 4 directions
DIRECTION_SETS = {  # the receptive-field ablation: which of the four scans the merge sums
    "1 direction (raster)": (0,),
    "2 directions (raster, reversed)": (0, 2),
    "4 directions (SS2D)": (0, 1, 2, 3),
}


def order_frames(pixels: np.ndarray, steps) -> list:
    """Slider frames: the pixels each of the four SS2D orders has visited by each step."""
    return reveal_frames(pixels, CROSS, steps, panel=200, ncols=4)


def receptive_field(layer, tokens: torch.Tensor, point, directions, seed: int = 0) -> np.ndarray:
    """|∂ (y[point] · v) / ∂ x| summed over channels: (H, W), for one SS2D `layer` on
    `tokens` (1, H, W, C), v a fixed random unit vector (a sum could cancel), the merge
    summing only `directions`."""
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(tokens.shape[-1], generator=g)
    x = tokens.detach().clone().requires_grad_(True)
    y = layer(x, directions=directions)  # (1, H, W, C)
    (y[0, point[0], point[1]] @ (v / v.norm())).backward()
    return x.grad[0].abs().sum(-1).numpy()  # (H, W)


def _log_panel(ax, image, title, floor: float):
    image = np.maximum(image, floor)
    shown = ax.imshow(image, cmap="magma", norm=LogNorm(vmin=floor, vmax=image.max()))
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    return shown


def receptive_figure(maps: list[tuple[str, np.ndarray]], point, caption: str):
    """One log-scale panel per (title, (H, W) map), the output pixel ringed in cyan."""
    fig, axes = plt.subplots(
        1, len(maps), figsize=(FIGURE_WIDTH, FIGURE_WIDTH / len(maps) + 1.0), layout="constrained"
    )
    plt.close(fig)
    top = max(m.max() for _, m in maps)
    for ax, (title, m) in zip(axes, maps):
        shown = _log_panel(ax, m / top, title, 1e-6)
        ax.plot(point[1], point[0], "o", ms=9, mfc="none", mec="#00e5ff", mew=2)
    fig.colorbar(shown, ax=axes, shrink=0.8, label="|gradient| (share of the largest)")
    fig.supxlabel(textwrap.fill(caption, 150), fontsize=8)
    return fig


def to_row_major(matrix: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """(L, L) in a scan's own order -> rows and columns indexed by row-major pixel."""
    out = torch.zeros_like(matrix)
    out[order[:, None], order[None, :]] = matrix
    return out


def matrix_figure(matrices: list[tuple[str, torch.Tensor]], caption: str):
    """Hidden-attention matrices (L, L), log colour scale, output position down, input
    position across, both row-major."""
    fig, axes = plt.subplots(
        1, len(matrices), figsize=(FIGURE_WIDTH, FIGURE_WIDTH / len(matrices) + 1.1),
        layout="constrained",
    )  # fmt: skip
    plt.close(fig)
    top = max(float(m.max()) for _, m in matrices)
    for ax, (title, m) in zip(axes, matrices):
        shown = _log_panel(ax, (m / top).numpy(), title, 1e-5)
        ax.set_xlabel("input j (row-major)", fontsize=8)
    axes[0].set_ylabel("output i (row-major)", fontsize=8)
    fig.colorbar(shown, ax=axes, shrink=0.8, label="mean |M[i, j]| over channels")
    fig.supxlabel(textwrap.fill(caption, 150), fontsize=8)
    return fig


@torch.no_grad()
def decoder_reads(model: MambaST, content, style, position: int, block: int = 0, seed: int = 0):
    """What one content token reads of the style in decoder block `block` of a Mamba-ST:
    mean |M[position, j]| over channels per direction, (K, h, w), with j put back at the
    style token's place BEFORE the shuffle (so the map lies over the painting), and the
    permutation used. content, style: (1, 3, H, W) of one size, sides multiples of 8."""
    model.eval()
    ec = model.encode_tokens(model.embed(content), model.encoder_c)  # (1, h, w, d)
    es = model.encode_tokens(model.embed(style), model.encoder_s)
    generator = torch.Generator().manual_seed(seed)
    c = ec
    for b in model.decoder_blocks[:block]:
        s = shuffle_tokens(es, generator) if model.shuffle else es
        c = b(c, s) + c
    h, w = ec.shape[1:3]
    perm = torch.randperm(h * w, generator=generator) if model.shuffle else torch.arange(h * w)
    s = es.reshape(1, h * w, -1)[:, perm].reshape(es.shape)
    layer = model.decoder_blocks[block]
    rows = layer.self_attention.hidden_attention_row(layer.ln_1(c), s, position)  # (1,K,Di,L)
    reads = rows[0].abs().mean(1)  # (K, L) over the shuffled positions
    original = torch.zeros_like(reads)
    original[:, perm] = reads  # shuffled token q is style token perm[q]
    return original.view(-1, h, w), perm


ATTENTION_CURVES = {"all_to_all": "all-to-all (dense)", "a2k": "A2K"}  # attention.json keys


def scaling_figure(ss2d: dict, attention: dict | None, caption: str):
    """Seconds per forward vs image side, log-log: SS2D (numba and the torch loop, from
    `stylelab bench ss2d`) next to chapter 4's attention layers (`stylelab bench attention`).
    Doubling the side is 4x the tokens: a linear cost grows 4x, a quadratic one 16x."""
    fig, ax = plt.subplots(figsize=(FIGURE_WIDTH * 0.75, 4.2), layout="constrained")
    plt.close(fig)
    curves = [(f"SS2D ST-VSSM, {k.replace('ss2d_', '').replace('ss2d', 'numba')}", ss2d, k, "-o")
              for k in ("ss2d", "ss2d_torch_loop")]  # fmt: skip
    if attention:
        curves += [
            (f"{label} (ch. 4)", attention, k, "--s") for k, label in ATTENTION_CURVES.items()
        ]
    for label, results, key, style in curves:
        pts = [(int(s), row[key]["seconds"]) for s, row in results["sizes"].items()
               if "seconds" in row.get(key, {})]  # fmt: skip
        if pts:
            sides, secs = zip(*sorted(pts))
            ax.plot(sides, secs, style, label=label, ms=4)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    sides = sorted({int(s) for r in (ss2d, attention or {"sizes": {}}) for s in r["sizes"]})
    ax.set_xticks(sides, [str(s) for s in sides])
    ax.minorticks_off()
    ax.set_xlabel("image side (px)")
    ax.set_ylabel("seconds per forward")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(textwrap.fill(caption, 110), fontsize=8)
    return fig
