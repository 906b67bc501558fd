"""Reference points that are not networks: what the evaluation's numbers mean without one."""

from __future__ import annotations

import torch


class Baseline:
    """A reference point that is not a network: what the numbers mean without one.

    "identity" returns the photo unchanged (no style at all: the style loss to beat);
    "color_transfer" recolours it to the painting's RGB mean and covariance (CORAL): what
    matching the palette alone buys, with the photo's structure intact.
    """

    def __init__(self, name: str):
        self.name = name

    def stylize(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        if self.name == "identity":
            return content.clone()
        from stylelab.stats import match_color

        return match_color(content, style)


BASELINES = ("identity", "color_transfer")
