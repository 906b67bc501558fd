"""Chapter 3's figure and check harness: scan-order pictures, the reveal slider's frames, and
the CUDA kernels run in numba's simulator. Plotting and subprocess plumbing a reader of the
chapter does not need to see; the scans themselves are `stylelab.scan_orders`, `stylelab.ssm`
and `stylelab.rwkv`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np

from stylelab import scan_orders
from stylelab.core.errors import StylelabError

# Natural width of the chapter's figures, inches at the notebook's 100 dpi: <= 950 px, so the
# 960 px content column shows them at 100% and their 8-10 pt text stays readable.
FIGURE_WIDTH = 9.3
GAP = 10  # px between the panels of a slider frame
TITLE_PX = 28  # px of title strip above each panel of a slider frame


def visiting_order_figure(side: int, caption: str, orders=scan_orders.ORDERS, path_steps=None):
    """Every order in `orders` on a side x side grid: colour = step at which a pixel is
    visited, a white line along the first `path_steps` steps (default 3 rows), a red dot on
    the first pixel. Two rows of panels; returns the (pyplot-closed) Figure."""
    import matplotlib.pyplot as plt

    orders = list(orders)
    path_steps = side * 3 if path_steps is None else path_steps
    ncols = -(-len(orders) // 2)
    fig, axes = plt.subplots(
        2, ncols, figsize=(FIGURE_WIDTH, 5.6), layout="constrained", squeeze=False
    )
    plt.close(fig)
    for ax in axes.flat:
        ax.axis("off")
    for ax, name in zip(axes.flat, orders):
        ax.imshow(scan_orders.scan_picture(name, side, side), cmap="viridis")
        perm = scan_orders.scan_order(name, side, side)[:path_steps]
        rows, cols = np.divmod(perm.numpy(), side)
        ax.plot(cols, rows, color="white", lw=1.2)
        ax.plot(cols[0], rows[0], "o", color="red")
        ax.set_title(name, fontsize=10)
    fig.supxlabel(textwrap.fill(caption, 120), fontsize=9)
    return fig


def _font(size: int):
    from matplotlib import font_manager
    from PIL import ImageFont

    return ImageFont.truetype(font_manager.findfont("DejaVu Sans"), size)


def reveal_frames(pixels: np.ndarray, orders, steps, panel: int = 192, ncols: int = 3) -> list:
    """Slider frames: for each step in `steps`, one panel per order showing the pixels that
    order has visited by then (the rest faded), its name as a title strip above it.

    pixels: (H, W, 3) uint8. Panels are scaled up by a whole factor (nearest neighbour, so
    pixels stay square) to about `panel` px. Returns (frame_H, frame_W, 3) uint8 arrays.
    """
    from PIL import Image, ImageDraw

    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        raise StylelabError(f"reveal_frames wants (H, W, 3) uint8 pixels, got {pixels.shape}")
    orders = list(orders)
    height, width = pixels.shape[:2]
    pictures = {name: scan_orders.scan_picture(name, height, width) for name in orders}
    zoom = max(1, round(panel / max(height, width)))
    faded = (pixels * 0.15 + 230 * 0.85).astype(np.uint8)
    nrows = -(-len(orders) // ncols)
    cell_w, cell_h = width * zoom, height * zoom + TITLE_PX
    frame_w = ncols * cell_w + (ncols - 1) * GAP
    frame_h = nrows * cell_h + (nrows - 1) * GAP
    font = _font(15)
    # the title strips are the same in every frame: draw them once
    base = Image.new("RGB", (frame_w, frame_h), "white")
    draw = ImageDraw.Draw(base)
    corners = []
    for i, name in enumerate(orders):
        x, y = (i % ncols) * (cell_w + GAP), (i // ncols) * (cell_h + GAP)
        draw.text((x + cell_w / 2, y + TITLE_PX / 2), name, fill="black", font=font, anchor="mm")
        corners.append((y + TITLE_PX, x))
    base = np.asarray(base)
    frames = []
    for step in steps:
        frame = base.copy()
        for (y, x), name in zip(corners, orders):
            seen = (pictures[name] < step)[..., None]
            shown = np.where(seen, pixels, faded).repeat(zoom, 0).repeat(zoom, 1)
            frame[y : y + height * zoom, x : x + width * zoom] = shown
        frames.append(frame)
    return frames


# Run in a fresh interpreter with NUMBA_ENABLE_CUDASIM=1 (numba reads it when imported).
_SIMULATOR_SCRIPT = """
import json
import torch
from stylelab.rwkv import bi_wkv, wkv
from stylelab.ssm import selective_scan
g = torch.Generator().manual_seed({seed})
rows = []
k = torch.rand(2, 6, 3, generator=g) * 40 - 20
v, w, u = (torch.randn(2, 6, 3, generator=g), torch.randn(3, generator=g),
           torch.randn(3, generator=g))
for name, op in (("wkv", wkv), ("bi_wkv", bi_wkv)):
    want = op(w.double(), u.double(), k.double(), v.double(), backend="reference")
    got = op(w, u, k, v, backend="cuda")
    rows.append((name, (got.double() - want).abs().max().item()))
x = [torch.randn(1, 4, 6, generator=g), torch.rand(1, 4, 6, generator=g),
     -torch.rand(4, 3, generator=g), torch.randn(1, 3, 6, generator=g),
     torch.randn(1, 3, 6, generator=g)]
want = selective_scan(*(t.double() for t in x), backend="reference")
got = selective_scan(*x, backend="cuda")
rows.append(("selective_scan", (got.double() - want).abs().max().item()))
print(json.dumps(rows))
"""


def simulated_cuda_errors(
    seed: int = 0, timeout: float = 600, script: str = _SIMULATOR_SCRIPT
) -> list[tuple[str, float]]:
    """[(op, max |cuda - float64 reference|)]: `script` (by default wkv, bi_wkv and
    selective_scan; the attention chapter passes its own) run in a fresh interpreter under
    numba's CUDA simulator (the kernel's Python code executed thread by thread on the CPU:
    tiny inputs only). The script formats `{seed}` and prints a JSON list of [op, error] as
    its last line. Needs no GPU."""
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    command = [sys.executable, "-c", script.format(seed=int(seed))]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise StylelabError(f"the CUDA simulator run failed:\n{done.stderr[-2000:]}")
    return [(name, float(err)) for name, err in json.loads(done.stdout.strip().splitlines()[-1])]
