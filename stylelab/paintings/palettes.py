"""Palettes (ordered dark -> light, so a number t in [0, 1] picks a tone) and the Painting result."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class Palette:
    colors: tuple[str, ...]  # hex colours, ordered dark -> light
    words: str  # how a caption names it

    def rgb(self) -> np.ndarray:
        return np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in self.colors]) / 255.0


PALETTES: dict[str, Palette] = {
    "van_gogh_night": Palette(
        ("#0b1633", "#1b3a7a", "#3568b0", "#7fa6d6", "#e6c14a", "#f7e7a6"), "deep blue and gold"
    ),
    "sunset": Palette(
        ("#2a1040", "#731d58", "#c8384f", "#ef8535", "#fcd36b"), "violet, crimson and orange"
    ),
    "ocean": Palette(
        ("#04213a", "#0b5673", "#1f8fa6", "#6cc4c9", "#eef6f2"), "navy, teal and sea-foam white"
    ),
    "autumn": Palette(
        ("#2e1709", "#86290f", "#c8631b", "#e4a72e", "#f3dfa6"), "rust, amber and ochre"
    ),
    "mondrian": Palette(
        ("#121212", "#1c3d96", "#c7201c", "#f1c31f", "#f2efe6"),
        "primary red, blue and yellow with black",
    ),
    "pastel": Palette(
        ("#5f6f9c", "#93bfb8", "#eea9ae", "#f6d5a1", "#fbf6ec"),
        "soft pastel lavender, mint and pink",
    ),
    "ink": Palette(
        ("#0e0e12", "#3a3941", "#7b7772", "#c9c0ae", "#f4eee0"), "black ink on cream paper"
    ),
    "forest": Palette(
        ("#0f240f", "#2c5128", "#4d7a2c", "#93ad55", "#eef3a4"), "deep green, moss and lime"
    ),
    "desert": Palette(
        ("#3e2316", "#93472a", "#cd8447", "#e7c28d", "#f7ecd6"), "terracotta, sienna and sand"
    ),
    "neon": Palette(
        ("#10002b", "#5a0fd8", "#f0147a", "#08d9f5", "#f7f56c"), "electric violet, magenta and cyan"
    ),
}


@dataclass(frozen=True)
class Painting:
    image: Image.Image  # RGB
    caption: str
    name: str
    palette: str
    seed: int

    def tensor(self):
        """(1, 3, H, W) float32 in [0, 1]."""
        import torch  # on use: painting needs only numpy

        arr = torch.from_numpy(np.asarray(self.image, dtype=np.float32) / 255.0)  # (H, W, 3)
        return arr.permute(2, 0, 1).unsqueeze(0).contiguous()
