"""Perceptual losses (chapter 1) and Gatys's pixel optimisation built on them.

perceptual.py  content, style (Gram or mean/std), total variation, shift averaging
gatys.py       optimise the pixels of one image against those losses (L-BFGS or Adam)
"""

from stylelab.losses.gatys import GatysObjective, Result, gatys_transfer
from stylelab.losses.perceptual import (
    SHIFTS,
    STYLE_KINDS,
    content_loss,
    gram_style_loss,
    mean_std_style_loss,
    one_pixel_shifts,
    shift_averaged,
    style_loss,
    style_targets,
    tap_balance,
    total_variation,
)

__all__ = [
    "SHIFTS",
    "STYLE_KINDS",
    "GatysObjective",
    "Result",
    "content_loss",
    "gatys_transfer",
    "gram_style_loss",
    "mean_std_style_loss",
    "one_pixel_shifts",
    "shift_averaged",
    "style_loss",
    "style_targets",
    "tap_balance",
    "total_variation",
]
