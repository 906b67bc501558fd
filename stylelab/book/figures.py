"""Figures for the book: images side by side, each with a title, and one caption.

Every figure in the book says which encoder and weights made it and whether it
ran in quick mode; `show_images` puts that in the caption under the figure, so
it travels with the picture (a PNG saved from the figure keeps it).

`as_rgb_array` is the one place that turns whatever a chapter holds (PIL image,
uint8 or float array, tensor in [0, 1], matplotlib figure) into an (H, W, 3)
uint8 array; `stylelab.book.widgets` uses it too. It duck-types tensors so that this
module does not import torch.

`loglog_panels` draws measured timings against size, one log-log panel per op.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from PIL import Image

from stylelab.core.errors import StylelabError

# Wrap long captions at this many characters so they stay inside the figure.
CAPTION_WRAP = 110
# Widest figure, in inches at matplotlib's 100 dpi: 940 px, shown at its natural size in the
# book's 960 px column (book/_theme/stylelab.css), so its titles keep their point size.
MAX_WIDTH_IN = 9.4


def _figure_to_pil(fig) -> Image.Image:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def _float_to_uint8(arr: np.ndarray, what: str) -> np.ndarray:
    if not np.isfinite(arr).all():
        raise StylelabError(f"{what} contains NaN or Inf; clean it (e.g. torch.nan_to_num) first")
    # Values a hair outside [0, 1] come from float round-off in the networks; clip, don't reject.
    return (np.clip(arr, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def as_rgb_array(image, what: str = "image") -> np.ndarray:
    """Return `image` as an (H, W, 3) uint8 array.

    Accepts a PIL image (any mode), a matplotlib Figure, a numpy array of shape
    (H, W), (H, W, 3) or (H, W, 4) (uint8, or float in [0, 1]), or a tensor of
    shape (1, 3, H, W), (3, H, W) or (H, W) with values in [0, 1].
    """
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"))
    if hasattr(image, "savefig"):  # a matplotlib Figure
        return np.asarray(_figure_to_pil(image))
    if hasattr(image, "detach"):  # a torch tensor; (1,3,H,W) | (3,H,W) | (H,W)
        t = image.detach().cpu().float()
        if t.ndim == 4:
            if t.shape[0] != 1:
                raise StylelabError(
                    f"{what} is a batch of {t.shape[0]} images; pass one image at a time (x[i:i+1])"
                )
            t = t[0]
        if t.ndim == 3:
            t = t.permute(1, 2, 0)  # (C,H,W) -> (H,W,C)
        image = t.numpy()
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=-1)  # (H,W) -> (H,W,3)
    if arr.ndim != 3 or arr.shape[-1] not in (3, 4):
        raise StylelabError(
            f"{what} has shape {tuple(arr.shape)}; expected an image: (H, W), (H, W, 3), "
            "(H, W, 4), or a tensor (1, 3, H, W) / (3, H, W)"
        )
    arr = arr[..., :3]
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
        raise StylelabError(f"{what} has dtype {arr.dtype}; expected uint8 or float in [0, 1]")
    if np.issubdtype(arr.dtype, np.integer):
        raise StylelabError(
            f"{what} has integer dtype {arr.dtype}; convert to uint8 (0..255) or float in [0, 1]"
        )
    return _float_to_uint8(arr.astype(np.float32), what)


def as_pil(image, what: str = "image") -> Image.Image:
    """`as_rgb_array`, as an RGB PIL image."""
    return Image.fromarray(as_rgb_array(image, what), mode="RGB")


def show_images(
    images: Sequence,
    titles: Sequence[str] | None = None,
    caption: str = "",
    size: float = 3.0,
    ncols: int | None = None,
):
    """Images side by side (wrapping after `ncols`), a title over each, `caption` under all.

    Returns the matplotlib Figure (a notebook shows it; `fig.savefig` keeps the caption).
    `size` is the height of one panel in inches, reduced where the row would be wider than
    MAX_WIDTH_IN (a wider figure is shrunk on the page, titles included): for larger panels,
    pass fewer `ncols`.
    """
    import textwrap

    import matplotlib.pyplot as plt

    images = list(images)
    if not images:
        raise StylelabError("show_images got no images; pass a list of at least one image")
    if titles is not None and len(titles) != len(images):
        raise StylelabError(
            f"show_images got {len(images)} images but {len(titles)} titles; pass one title each"
        )
    arrays = [as_rgb_array(im, f"image {i}") for i, im in enumerate(images)]
    ncols = min(len(arrays), ncols or len(arrays))
    nrows = -(-len(arrays) // ncols)
    aspect = max(a.shape[1] / a.shape[0] for a in arrays)
    size = min(size, MAX_WIDTH_IN / (aspect * ncols))
    # Constrained layout keeps titles and the caption inside the figure, whatever saves it.
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(size * aspect * ncols, size * nrows + 0.6),
        squeeze=False,
        layout="constrained",
    )
    # Closed for pyplot, so a notebook shows it once, as the cell's value, not again at the
    # cell's end. (pyplot, not a bare Figure: it sets up the notebook's image display.)
    plt.close(fig)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(arrays):
            ax.imshow(arrays[i])
            if titles is not None:
                ax.set_title(titles[i], fontsize=10)
    if caption:
        width = max(40, int(CAPTION_WRAP * min(1.0, ncols * aspect / 4)))
        fig.supxlabel(textwrap.fill(caption, width), fontsize=9)
    return fig


def loglog_panels(
    panels: Sequence[tuple[str, dict]],
    xlabel: str,
    ylabel: str,
    caption: str = "",
    colours: dict | None = None,
    figsize: tuple[float, float] = (6.5, 4),
    legend_loc: str = "best",
):
    """Log-log plots side by side, one per (title, {series: {x: y}}), a line with markers per
    series (coloured by `colours[series]` where given), `caption` under all.

    Returns the pyplot Figure, left open: the chapter calls plt.show() where it wants it.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=figsize, squeeze=False, layout="constrained")
    for ax, (title, series) in zip(axes[0], panels):
        for name, points in series.items():
            colour = (colours or {}).get(name)
            ax.loglog(list(points), list(points.values()), "o-", label=name, color=colour)
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=8, loc=legend_loc)
    if caption:
        fig.supxlabel(caption, fontsize=8)
    return fig
