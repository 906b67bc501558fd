"""Sliders that work without a kernel: precomputed frames behind a jslinked slider.

A reader of the static HTML book has no Python running, so a slider cannot
call back into Python to recompute an image. Instead every frame is computed
when the chapter executes, PNG-encoded, and put in an `ipywidgets.Stack`; the
slider's value is linked to the stack's `selected_index` in the browser
(`jslink`), not through the kernel. Papermill stores the widget state in the
executed notebook, MyST-NB embeds it in the page, and the vendored widget
manager (book/_static/embed-amd.js) renders it offline. In a live kernel the
same link works too.

Frames are capped at `max_side` pixels (PNG inside the page's HTML costs about
3 bytes a pixel for photos), so a 10-frame slider of 384 px frames adds a few MB
at most. Smaller frames are *shown* at least `min_display` pixels wide or high (the
browser scales them; the page stays light), nearest-neighbour with `pixelated=True`
for pictures whose pixels are the point (a scan order on a 12x12 grid).
"""

from __future__ import annotations

import html
import io
import math
from collections.abc import Sequence

from PIL import Image

from stylelab.book.figures import as_pil
from stylelab.core.errors import StylelabError

# Longest side of a frame in the page, in pixels: small pages, still legible.
DEFAULT_MAX_SIDE = 384
# Longest side a frame is shown at, at least: smaller frames are scaled up on screen.
MIN_DISPLAY_SIDE = 384
# Refuse sliders that would make a page heavy; a chapter should subsample instead.
MAX_FRAMES = 64


def encode_png(image, max_side: int | None = DEFAULT_MAX_SIDE, what: str = "frame") -> bytes:
    """`image` (anything `stylelab.book.figures.as_rgb_array` takes) as PNG bytes, longest side capped."""
    pil = as_pil(image, what)
    if max_side is not None and max(pil.size) > max_side:
        pil = pil.copy()
        pil.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)  # keeps the aspect ratio
    buf = io.BytesIO()
    pil.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def display_scale(longest: int, min_display: int, pixelated: bool) -> float:
    """Factor a frame is shown at: 1, or up to `min_display` (a whole factor if pixelated)."""
    if longest >= min_display:
        return 1.0
    return float(math.ceil(min_display / longest)) if pixelated else min_display / longest


def frame_slider(
    frames: Sequence,
    labels: Sequence[str] | None = None,
    description: str = "",
    caption: str = "",
    value: int = 0,
    max_side: int | None = DEFAULT_MAX_SIDE,
    min_display: int = MIN_DISPLAY_SIDE,
    pixelated: bool = False,
):
    """A slider over precomputed `frames`; returns an `ipywidgets.VBox` to display.

    frames: PIL images, uint8 arrays (H, W, 3), tensors (1, 3, H, W) in [0, 1] or
        matplotlib figures; all PNG-encoded now, longest side capped at `max_side`.
    labels: one string per frame, shown beside the slider for the current frame
        (e.g. "alpha = 0.25"); without labels the slider shows the frame index.
    description: short name to the left of the slider.
    caption: text under the frames (say which encoder/weights, and quick mode).
    value: index of the frame shown first: open on the frame that tells the story.
    min_display: frames whose longest side is smaller are shown scaled up to it.
    pixelated: scale up by a whole factor, nearest-neighbour (crisp pixels).
    """
    import ipywidgets as w

    frames = list(frames)
    if not frames:
        raise StylelabError("frame_slider got no frames; pass a list of at least one image")
    if len(frames) > MAX_FRAMES:
        raise StylelabError(
            f"frame_slider got {len(frames)} frames; at most {MAX_FRAMES} keep the page light: "
            "subsample them (frames[::k])"
        )
    if labels is not None:
        labels = [str(label) for label in labels]
        if len(labels) != len(frames):
            raise StylelabError(
                f"frame_slider got {len(frames)} frames but {len(labels)} labels; pass one each"
            )
    if not 0 <= value < len(frames):
        raise StylelabError(
            f"frame_slider value={value} is not a frame index (0..{len(frames) - 1})"
        )

    images = []
    for i, frame in enumerate(frames):
        png = encode_png(frame, max_side, what=f"frame {i}")
        width, height = Image.open(io.BytesIO(png)).size
        scale = display_scale(max(width, height), min_display, pixelated)
        # Fixed pixel size: the Stack must not stretch small frames to the page width.
        image = w.Image(
            value=png, format="png", width=round(width * scale), height=round(height * scale)
        )
        if pixelated:
            image.add_class("stylelab-pixelated")  # image-rendering: pixelated (stylelab.css)
        images.append(image)
    stack = w.Stack(images, selected_index=value)

    slider = w.IntSlider(
        value=value,
        min=0,
        max=len(frames) - 1,
        step=1,
        readout=labels is None,
        continuous_update=True,
        layout=w.Layout(width="min(100%, 360px)"),
    )
    # The link lives in the browser, so it works in static HTML without a kernel.
    links = [w.jslink((slider, "value"), (stack, "selected_index"))]
    row = [slider]
    if description:
        # An HTML widget, not the slider's `description`: the widget manager typesets
        # descriptions with the MathJax 2 API, which throws on the book's MathJax 3 pages.
        row.insert(0, w.HTML(f"<b>{html.escape(description)}</b>"))
    if labels is not None:
        readout = w.Stack(
            [w.HTML(f"<code>{html.escape(label)}</code>") for label in labels],
            selected_index=value,
        )
        links.append(w.jslink((slider, "value"), (readout, "selected_index")))
        row.append(readout)

    children = [w.HBox(row), stack]
    if caption:
        children.append(w.HTML(f"<small>{html.escape(caption)}</small>"))
    box = w.VBox(children)
    box.add_class("stylelab-frame-slider")  # the browser test finds sliders by this class
    # Handles for a live kernel (e.g. `box.slider.observe(...)`) and for tests.
    box.slider, box.stack, box.links = slider, stack, tuple(links)
    return box
