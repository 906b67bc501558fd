"""How much a method's output moves when its input moves: the video argument in miniature.

    out_0 = stylize(window at (y, x)),  out_d = stylize(window at (y, x + d))
    moved(d) = mean |out_0[:, :, m:-m, d + m : W - m] - out_d[:, :, m:-m, m : W - d - m]|

Both windows are exact crops of one photo, so the content under a pixel is the same in both
and a method that paints each place by what is there scores 0. A global statistic (AdaIN)
changes as the window gains and loses columns; attention to a few sharp style positions can
jump to other positions. m pixels at every edge are left out: a decoder's padding differs
there. The unit is 8-bit grey levels (x 255), the scale a viewer sees flicker on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from stylelab.core.errors import StylelabError


def shifted_windows(image: torch.Tensor, side: int, shifts: Sequence[int]) -> list[torch.Tensor]:
    """Crops (1, 3, side, side) of `image` at x offsets 0 and each shift (same y: the middle)."""
    h, w = image.shape[-2:]
    if side > h or side + max(shifts) > w:
        raise StylelabError(
            f"a {side}-px window shifted by up to {max(shifts)} px does not fit in the "
            f"{h}x{w} image: use a smaller side or a larger image"
        )
    y, x = (h - side) // 2, (w - side - max(shifts)) // 2
    return [image[..., y : y + side, x + d : x + d + side] for d in (0, *shifts)]


def output_motion(
    stylize: Callable[[torch.Tensor], torch.Tensor],
    image: torch.Tensor,
    side: int,
    shifts: Sequence[int] = (1, 2, 4, 8),
    margin: int = 16,
) -> dict[int, float]:
    """{shift: mean |difference| in grey levels} between aligned outputs of shifted windows."""
    shifts = [int(d) for d in shifts]
    if not shifts or min(shifts) < 1:
        raise StylelabError(f"shifts must be positive pixel counts, got {shifts}")
    if side <= 2 * margin + max(shifts):
        raise StylelabError(f"side {side} leaves no pixels inside the {margin}-px margins")
    windows = shifted_windows(image, side, shifts)
    outs = [stylize(win).float().cpu() for win in windows]  # (1, 3, side, side) each
    moved = {}
    for d, out in zip(shifts, outs[1:]):
        ref = outs[0][..., margin:-margin, d + margin : side - margin]
        cur = out[..., margin:-margin, margin : side - d - margin]
        moved[d] = float((ref - cur).abs().mean() * 255)
    return moved
