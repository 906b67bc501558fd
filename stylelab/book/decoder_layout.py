"""A decoder read level by level, for the AdaIN chapter's table: which layers run at each
stride, how many parameters they hold, and which encoder taps see the same resolution.

`stylelab.nn.Decoder` is one flat nn.Sequential; its upsampling layers mark where one
level (one resolution) ends and the next begins, so walking it once recovers the levels.
"""

from __future__ import annotations

from torch import nn


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def decoder_levels(decoder: nn.Module, stride: int) -> dict[int, tuple[list[str], int]]:
    """stride -> (layer descriptions, parameters), in the decoder's order, highest stride first.

    `stride`: the stride of the features the decoder starts from (the content tap's). Each
    upsampling belongs to the level it produces; paddings and ReLUs are not listed.
    """
    levels: dict[int, tuple[list[str], int]] = {}
    level = stride
    for layer in decoder.net:
        if isinstance(layer, nn.Upsample):
            level //= 2
        steps, params = levels.get(level, ([], 0))
        if isinstance(layer, nn.Upsample):
            steps.append("upsample x2")
        elif isinstance(layer, nn.Conv2d):
            steps.append(f"conv {layer.in_channels}->{layer.out_channels}")
        levels[level] = (steps, params + n_params(layer))
    return levels


def compact(steps: list[str]) -> str:
    """["conv 64->64", "conv 64->64", "conv 64->32"] -> "2 x conv 64->64, conv 64->32"."""
    runs: list[list] = []  # [count, step] for each run of equal steps
    for step in steps:
        if runs and runs[-1][1] == step:
            runs[-1][0] += 1
        else:
            runs.append([1, step])
    return ", ".join(f"{k} x {step}" if k > 1 else step for k, step in runs)


def decoder_table(decoder: nn.Module, stride: int, encoder, side: int = 256) -> str:
    """Markdown table: per stride, the map size at `side` px, the decoder's layers, their
    parameters, and the encoder taps at that stride (`encoder.taps`, `encoder.strides`)."""
    lines = [
        f"| stride | map at {side} px | decoder layers | parameters | encoder taps at this stride |",
        "|---|---|---|---|---|",
    ]
    for s, (steps, params) in decoder_levels(decoder, stride).items():
        taps = ", ".join(f"`{t}`" for t in encoder.taps if encoder.strides[t] == s)
        lines.append(
            f"| {s} | {side // s}x{side // s} | {compact(steps)} | {params:,} "
            f"| {taps or '(the image)'} |"
        )
    return "\n".join(lines)
