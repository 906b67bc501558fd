"""Pictures of attention for the attention chapter: where one query looks, what DA's keys
carry, which style block PA matches to each content block.

Everything here reads a trained network's projections (`StyA2KNet.layers()`) and the
package's ops; nothing is re-implemented. Maps are (1, C, H, W) feature maps of one image.
"""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.patches import ConnectionPatch, Rectangle

from stylelab.attention.ops import aggregate_keys, blocked_heads, match_blocks, split_heads
from stylelab.book.figures import as_rgb_array
from stylelab.stats import mvn


def projections(layer, content_feat, style_feat, second: bool = False):
    """q(mvn F_c), k(mvn F_s) of an A2K or SANet layer (q2, k2 for PA with `second`)."""
    q, k = (layer.q2, layer.k2) if second else (layer.q, layer.k)
    return q(mvn(content_feat)), k(mvn(style_feat))


def query_row(q, k, heads: int, index: int) -> torch.Tensor:
    """All-to-all: one query's softmax over every style position, averaged over heads:
    q (1, C, Hc, Wc), k (1, C, Hs, Ws) -> (Hs, Ws), summing to 1."""
    qh = split_heads(q.flatten(2), heads)[0, :, :, index]  # (h, d)
    kh = split_heads(k.flatten(2), heads)[0]  # (h, d, Ls)
    return torch.einsum("hd,hdj->hj", qh, kh).softmax(-1).mean(0).view(k.shape[-2:])


def da_row(q, k, heads: int, s: int, alpha, beta, index: int) -> torch.Tensor:
    """DA: one query's softmax over the n aggregated keys, averaged over heads, each block's
    weight spread over its s² pixels: -> (Hs, Ws), summing to 1."""
    qb, kb, _ = blocked_heads(q, k, k, s, heads)  # (1, h, d, n, r)
    k_agg, _ = aggregate_keys(kb, kb, alpha, beta)  # (1, h, d, n_s)
    qh = split_heads(q.flatten(2), heads)[0, :, :, index]  # (h, d)
    blocks = torch.einsum("hd,hdz->hz", qh, k_agg[0]).softmax(-1).mean(0)  # (n_s,)
    hs, ws = k.shape[-2:]
    grid = blocks.view(hs // s, ws // s) / (s * s)
    return grid.repeat_interleave(s, 0).repeat_interleave(s, 1)


def top_share(row: torch.Tensor, top: float = 0.01) -> float:
    """The share of an attention row's weight on its top `top` fraction of positions."""
    w = row.flatten()
    return w.topk(max(1, round(top * w.numel()))).values.sum().item()


def effective_keys(row: torch.Tensor) -> float:
    """exp(entropy) of an attention row: how many positions it spreads over (1: one-hot)."""
    w = row.flatten()
    return torch.exp(-(w * w.clamp_min(1e-30).log()).sum()).item()


def centre_crop(img: torch.Tensor, height: int, width: int) -> torch.Tensor:
    h, w = img.shape[-2:]
    y, x = (h - height) // 2, (w - width) // 2
    return img[..., y : y + height, x : x + width]


def crop_to_multiple(img: torch.Tensor, multiple: int) -> torch.Tensor:
    """The centre crop of (N, 3, H, W) whose sides are multiples of `multiple`."""
    h, w = img.shape[-2:]
    return centre_crop(img, h - h % multiple, w - w % multiple)


def overlay(ax, image, weights, title):
    """The style dimmed, and the attention in colour on top: opacity = weight / max weight,
    each weight spread over 3x3 feature pixels so that single-pixel peaks stay visible."""
    w = torch.as_tensor(weights)[None, None]
    w = F.max_pool2d(w, 3, stride=1, padding=1)[0, 0]
    w = (w / w.max().clamp_min(1e-12)).numpy()
    h, wd = image.shape[:2]
    scale = 255.0 if image.dtype == np.uint8 else 1.0
    ax.imshow(image.astype(np.float64) / scale * 0.35)
    heat = plt.cm.plasma(w)  # (Hs, Ws, 4)
    heat[..., 3] = np.sqrt(w)  # sqrt: the tail stays visible next to the peak
    ax.imshow(heat, extent=(0, wd, h, 0), interpolation="nearest")
    ax.set_title(title, fontsize=10)
    ax.axis("off")


def query_figure(content_img, style_img, point, rows: list[tuple[str, torch.Tensor]], caption):
    """Content with the query marked, then the style under each row's attention map."""
    content, style = as_rgb_array(content_img), as_rgb_array(style_img)
    ratios = [content.shape[1] / content.shape[0]] + [style.shape[1] / style.shape[0]] * len(rows)
    fig, axes = plt.subplots(
        1, len(ratios), figsize=(9.2, 9.2 / sum(ratios) + 0.9), width_ratios=ratios,
        layout="constrained",
    )  # fmt: skip
    plt.close(fig)
    axes[0].imshow(content)
    axes[0].plot(point[1], point[0], "o", ms=10, mfc="none", mec="#00e5ff", mew=2.5)
    axes[0].set_title("content: the query", fontsize=10)
    axes[0].axis("off")
    for ax, (title, weights) in zip(axes[1:], rows):
        overlay(ax, style, weights, title)
    fig.supxlabel(textwrap.fill(caption, 150), fontsize=8)
    return fig


def gate_and_mosaic(k, style_rgb, s: int, alpha, beta, heads: int):
    """DA's aggregation made visible: the gate sigmoid(α⟨k̄, k⟩ + β) per style pixel, and each
    block's aggregated value when the values are the style's own colours.

    k (1, C, Hs, Ws); style_rgb (1, 3, Hs, Ws) -> gate (Hs, Ws), mosaic (Hs/s, Ws/s, 3)."""
    values = style_rgb.repeat(1, heads, 1, 1)  # (1, 3h, Hs, Ws): every head carries RGB
    _, kb, vb = blocked_heads(k, k, values, s, heads)  # (1, h, d, n, r), (1, h, 3, n, r)
    k_mean = kb.mean(-1)  # (1, h, d, n)
    gate = torch.sigmoid(beta + alpha * torch.einsum("bhdx,bhdxy->bhxy", k_mean, kb))
    _, v_agg = aggregate_keys(kb, vb, alpha, beta)  # (1, h, 3, n)
    hs, ws = k.shape[-2:]
    gate_map = F.fold(  # (1, h, n, r) -> the pixels' own places, averaged over heads
        gate.mean(1, keepdim=True).transpose(2, 3).flatten(1, 2), (hs, ws), s, stride=s
    )[0, 0]
    mosaic = v_agg[0].mean(0).view(3, hs // s, ws // s).permute(1, 2, 0)
    # (r + 1) normalises the sum: the aggregate is darker than any pixel; show its colour
    mosaic = mosaic / mosaic.amax().clamp_min(1e-8)
    return gate_map, mosaic.clamp(0, 1)


def match_figure(content_img, style_img, idx, s_px: int, picks, caption):
    """Arrows from content blocks to the style blocks PA matched them to (`idx` per block,
    row-major), blocks of `s_px` image pixels; `picks` are the content blocks drawn."""
    content, style = as_rgb_array(content_img), as_rgb_array(style_img)
    ws_blocks = style.shape[1] // s_px
    wc_blocks = content.shape[1] // s_px
    ratios = [content.shape[1] / content.shape[0], style.shape[1] / style.shape[0]]
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(9.2, 9.2 / sum(ratios) + 0.9), width_ratios=ratios, layout="constrained"
    )
    plt.close(fig)
    left.imshow(content)
    right.imshow(style)
    colours = plt.cm.tab10(np.linspace(0, 1, 10))
    for i, block in enumerate(picks):
        colour = colours[i % 10]
        target = int(idx[block])
        (cy, cx), (sy, sx) = divmod(block, wc_blocks), divmod(target, ws_blocks)
        for ax, (y, x) in ((left, (cy, cx)), (right, (sy, sx))):
            ax.add_patch(Rectangle((x * s_px, y * s_px), s_px, s_px, fill=False, ec=colour, lw=2))
        arrow = ConnectionPatch(
            xyA=((cx + 0.5) * s_px, (cy + 0.5) * s_px),
            coordsA=left.transData,
            xyB=((sx + 0.5) * s_px, (sy + 0.5) * s_px),
            coordsB=right.transData,
            arrowstyle="->",
            color=colour,
            lw=1.5,
        )
        fig.add_artist(arrow)
    left.set_title("content blocks", fontsize=10)
    right.set_title("the style blocks PA step 1 matched", fontsize=10)
    for ax in (left, right):
        ax.axis("off")
    fig.supxlabel(textwrap.fill(caption, 150), fontsize=8)
    return fig


def pa_matches(layer, content_feat, style_feat, s: int, head: int = 0) -> torch.Tensor:
    """PA step 1 of a trained A2K layer: the matched style block per content block (one head)."""
    q, k = projections(layer, content_feat, style_feat, second=True)
    qb, kb, _ = blocked_heads(q, k, k, s, layer.heads)
    return match_blocks(qb, kb)[0, head]  # (n_c,)


def copied_colours(layer, content_feat, style_feat, style_rgb, branch: str) -> torch.Tensor:
    """What a branch copies when its values are the style's own colours: `style_rgb`
    (1, 3, Hs, Ws) at the feature size, one copy per head; -> (1, 3, Hc, Wc), the mean over
    heads. branch: "all_to_all" (a SANet layer), "da" or "pa" (an A2K layer's two branches)."""
    from stylelab.attention.ops import all_to_all, distributed_attention, progressive_attention

    heads = layer.heads
    values = style_rgb.repeat(1, heads, 1, 1)  # (1, 3h, Hs, Ws)
    if branch == "all_to_all":
        q, k = projections(layer, content_feat, style_feat)
        out = all_to_all(q, k, values, heads, "chunked")
    elif branch == "da":
        q, k = projections(layer, content_feat, style_feat)
        out = distributed_attention(
            q, k, values, layer.region, heads, layer.sim_alpha, layer.sim_beta, "chunked"
        )
    else:
        q, k = projections(layer, content_feat, style_feat, second=True)
        out = progressive_attention(q, k, values, layer.region, heads, layer.match_blocks)
    b, _, h, w = out.shape
    return out.view(b, heads, 3, h, w).mean(1).clamp(0, 1)


# all-to-all and DA's attention step through the numba.cuda kernel, float32, logits in the
# hundreds; run by `scan_figures.simulated_cuda_errors(script=CUDA_SCRIPT)`
CUDA_SCRIPT = """
import json
import torch
from stylelab.attention import all_to_all, distributed_attention
g = torch.Generator().manual_seed({seed})
q, k, v = (torch.randn(1, 4, 4, 4, generator=g) * s for s in (20, 20, 1))
rows = []
want = all_to_all(q.double(), k.double(), v.double(), heads=2)
rows.append(("all-to-all", (all_to_all(q, k, v, 2, "cuda").double() - want).abs().max().item()))
want = distributed_attention(q.double(), k.double(), v.double(), 2, 2)
got = distributed_attention(q, k, v, 2, 2, backend="cuda")
rows.append(("distributed (DA)", (got.double() - want).abs().max().item()))
print(json.dumps(rows))
"""
