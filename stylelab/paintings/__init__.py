"""A procedural style zoo: seeded, resolution-free "paintings" with text captions.

Style transfer needs style images. Downloading WikiArt is not an option offline, so
the book paints its own. Every painter works in normalised coordinates: the longer
side of the canvas spans [0, 1], and positions, stroke sizes and noise frequencies
are all given in those units. So the same seed at 256 and 512 pixels is the same
painting at two resolutions, and a non-square canvas is a centre crop of the square one.

    paint("brush", size=256, seed=3, palette="sunset")  ->  Painting(.image, .caption, ...)

    palettes.py   the palettes and the `Painting` result
    canvas.py     the four tools: noise, strokes, dabs, finish
    brushwork.py  painters that lay down marks (brush, pointillism, hatching, watercolour)
    geometric.py  painters of shapes (mondrian, voronoi, rings, waves)
    gallery.py    `paint(name, size, seed, palette)` and the list of painters

Each painter is a short function that composes the tools. Resolution-free also means
band-limited: a pattern finer than 2 px at the asked size is faded out, not aliased.
Palettes are ordered dark -> light, so a number t in [0, 1] picks a tone; the random
draws never depend on the palette, so changing it recolours the same composition.
"""

from stylelab.paintings.gallery import PAINTERS, paint
from stylelab.paintings.palettes import PALETTES, Painting, Palette

__all__ = ["PAINTERS", "PALETTES", "Painting", "Palette", "paint"]
