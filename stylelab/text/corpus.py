"""The captioned images the offline image tower learns from (issue 14).

Three kinds of (image, caption) pairs, each with a `Label` that says which captions are true of it:

    painting   paint(painter, seed, palette)          "stained glass window, in rust and amber"
    stylized   a photo through the shipped AdaIN       the painting's captions
    photo      a plain photo                           "a photo of a cat"

Captions vary in wording (`painting_captions`): the painter's own words, hand-written synonyms
("a Mondrian painting", "De Stijl grid of primary colours"), with or without the palette's
words, inside a few phrasings. So a free prompt lands near the painting that fits it, not only
the exact caption the zoo prints. Held out: painting seeds below `data.FIRST_TRAIN_SEED` and
the photos `data.EVAL_CONTENT` (chelsea, coffee), as for the image networks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stylelab.core.errors import StylelabError
from stylelab.paintings import PAINTERS, PALETTES

# hand-written synonyms per painter: what a reader might type for that style
STYLE_WORDS = {
    "brush": ("swirling brush strokes, thick impasto", "an oil painting with swirling strokes "
              "like Van Gogh's Starry Night", "expressive impasto brushwork",
              "post-impressionist swirls of paint"),
    "voronoi": ("a stained glass window", "a mosaic of coloured glass with dark lead lines",
                "cathedral stained glass", "irregular tiles of glass"),
    "pointillism": ("pointillism, dots of pure colour", "a painting made of small dots like "
                    "Seurat", "neo-impressionist dotted painting", "dabs of colour"),
    "hatching": ("a cross-hatched pen drawing", "an etching with fine parallel lines",
                 "pen and ink drawing", "ink hatching on paper"),
    "mondrian": ("a Mondrian painting", "De Stijl grid of primary colours",
                 "colour blocks between thick black lines", "geometric abstraction"),
    "watercolour": ("a watercolour painting", "soft watercolour washes with bleeding edges",
                    "wet-on-wet aquarelle", "transparent washes of paint"),
    "rings": ("concentric circles in squares, Kandinsky-like", "Kandinsky circles",
              "abstract concentric rings in a grid", "squares with concentric circles"),
    "waves": ("a Japanese woodblock print of waves", "ukiyo-e ocean waves like Hokusai",
              "stylised sea waves with foaming crests", "woodblock-print bands of water"),
}  # fmt: skip
PHRASINGS = ("{style}", "{style}, in {palette}", "a painting: {style}, {palette}",
             "{palette}, {style}", "an artwork in the style of {style}")  # fmt: skip

# what each bundled photo shows (scikit-image's data), for "a photo of ..." captions
PHOTO_SUBJECTS = {
    "astronaut": "an astronaut", "chelsea": "a cat", "coffee": "a cup of coffee",
    "rocket": "a rocket on a launch pad", "motorcycle_left": "a motorcycle",
    "motorcycle_right": "a motorcycle", "hubble_deep_field": "galaxies in deep space",
    "immunohistochemistry": "stained cells under a microscope",
    "camera": "a man with a camera", "coins": "old coins", "grass": "grass",
    "gravel": "gravel", "brick": "a brick wall", "moon": "the moon", "retina": "a retina",
    "clock": "a clock",
}  # fmt: skip
# photos only the tower trains on (textures and grey photos: what "a photo" also looks like)
TOWER_EXTRA_PHOTOS = ("grass", "gravel", "brick", "moon", "retina", "clock")
PHOTO_PHRASINGS = ("a photo of {subject}", "a photograph of {subject}", "a picture of {subject}",
                   "{subject}", "a plain photo")  # fmt: skip


@dataclass(frozen=True)
class Label:
    """What an image shows: a painter and palette (a painting, or a photo stylized by one), or
    a plain photo (painter None, photo = its name)."""

    painter: str | None
    palette: str | None
    photo: str | None = None

    def matches(self, caption_label: Label) -> bool:
        """Is a caption written for `caption_label` true of this image? A caption without a
        palette fits every palette of its painter; photo captions fit plain photos only."""
        if caption_label.painter is None:  # photos match by subject (two motorcycle views)
            return self.painter is None and (
                caption_label.photo is None
                or PHOTO_SUBJECTS.get(caption_label.photo) == PHOTO_SUBJECTS.get(self.photo)
            )
        return self.painter == caption_label.painter and caption_label.palette in (
            None,
            self.palette,
        )


def painting_captions(painter: str, palette: str, own: str) -> list[tuple[str, Label]]:
    """Every wording for one painting: its own caption, then each synonym in each phrasing
    (phrasings without {palette} give captions true of every palette of the painter)."""
    if painter not in STYLE_WORDS or palette not in PALETTES:
        raise StylelabError(f"no captions for painter {painter!r} / palette {palette!r}")
    colours = PALETTES[palette].words
    out = [(own, Label(painter, palette))]
    for style in STYLE_WORDS[painter]:
        for phrase in PHRASINGS:
            text = phrase.format(style=style, palette=colours)
            out.append((text, Label(painter, palette if "{palette}" in phrase else None)))
    return out


def photo_captions(name: str) -> list[tuple[str, Label]]:
    subject = PHOTO_SUBJECTS.get(name)
    if subject is None:
        raise StylelabError(f"no subject written for photo {name!r}; add it to PHOTO_SUBJECTS")
    return [
        (p.format(subject=subject), Label(None, None, None if "{" not in p else name))
        for p in PHOTO_PHRASINGS
    ]


def canonical_caption(label: Label) -> str:
    """The one caption per class that retrieval ranks: the painting's own words and palette
    ("{painter words}, in {palette words}"), or "a photo of {subject}"."""
    from stylelab.paintings import paint

    if label.painter is None:
        return f"a photo of {PHOTO_SUBJECTS[label.photo]}" if label.photo else "a plain photo"
    return paint(label.painter, size=16, seed=0, palette=label.palette).caption


def all_classes() -> list[Label]:
    """Every painter x palette, in a fixed order."""
    return [Label(p, q) for p in PAINTERS for q in PALETTES]


def pick(rng: np.random.Generator, options: list):
    return options[int(rng.integers(len(options)))]
