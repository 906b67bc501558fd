"""`paint(name, size, seed, palette)`: the gallery of procedural painters, by name."""

from __future__ import annotations

import numpy as np
from PIL import Image

from stylelab.core.errors import StylelabError
from stylelab.paintings.brushwork import _brush, _hatching, _pointillism, _watercolour
from stylelab.paintings.canvas import _Canvas, _finish
from stylelab.paintings.geometric import _mondrian, _rings, _voronoi, _waves
from stylelab.paintings.palettes import PALETTES, Painting

MIN_SIZE, MAX_SIZE = 16, 4096


_PAINTERS = {  # name -> (painter, default palette)
    "brush": (_brush, "van_gogh_night"),
    "voronoi": (_voronoi, "autumn"),
    "pointillism": (_pointillism, "sunset"),
    "hatching": (_hatching, "ink"),
    "mondrian": (_mondrian, "mondrian"),
    "watercolour": (_watercolour, "pastel"),
    "rings": (_rings, "neon"),
    "waves": (_waves, "ocean"),
}

PAINTERS = tuple(_PAINTERS)


def paint(name: str, size=256, seed: int = 0, palette: str | None = None) -> Painting:
    """Paint `name` at `size` (int: square, or (H, W)) with `seed`; palette=None: its default."""
    if name not in _PAINTERS:
        raise StylelabError(f"unknown painter {name!r}; choose one of {', '.join(PAINTERS)}")
    fn, default = _PAINTERS[name]
    palette = default if palette is None else palette
    if palette not in PALETTES:
        raise StylelabError(f"unknown palette {palette!r}; choose one of {', '.join(PALETTES)}")
    h, w = (size, size) if np.isscalar(size) else tuple(size)
    if min(h, w) < MIN_SIZE or max(h, w) > MAX_SIZE:
        raise StylelabError(
            f"painting size {h} x {w} is outside {MIN_SIZE}..{MAX_SIZE} pixels per side; "
            f"ask for a size in that range"
        )
    rng = np.random.default_rng(int(seed))
    cv = _Canvas(int(h), int(w))
    img, words = fn(cv, rng, PALETTES[palette].rgb().astype(np.float32))
    pixels = _finish(np.asarray(img, np.float32), cv, rng)
    caption = f"{words}, in {PALETTES[palette].words}"
    return Painting(Image.fromarray(pixels), caption, name, palette, int(seed))
