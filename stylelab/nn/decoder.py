"""The decoder g: features at an encoder tap -> an RGB image.

It mirrors the encoder from its content tap (mechanisms §2.2): reflection pad 1
before every 3x3 conv, nearest x2 upsampling, ReLU, no normalisation layers
(normalisation would wash out the statistics AdaIN just set), and a last conv
with no activation.

Built generically from (channels at the tap, stride = 2^k), so any encoder
works. The output is unconstrained; callers clamp to [0, 1] for display.
For VGG-19 at relu4_1 (512 channels, stride 8) and width 1 it is exactly the
AdaIN decoder:

    512->256, x2, 3 x (256->256), 256->128, x2, 128->128, 128->64, x2, 64->64, 64->3

Level j (the map at stride 2^j) has 64*2^j*width channels and as many convs as
VGG-19 has at that level (2, 2, 4, 4, 4); the last conv of a level halves the
channels for the level above. `width` scales every hidden layer, so a book-size
decoder (width 1/4 or 1/8) trains on two CPU cores.
"""

from __future__ import annotations

import math

from torch import nn

from stylelab.core.errors import StylelabError

# convs per level in VGG-19, level j = stride 2^j (conv1_x, conv2_x, conv3_x, conv4_x, conv5_x)
CONVS_PER_LEVEL = (2, 2, 4, 4, 4)


def conv3x3(c_in: int, c_out: int, relu: bool = True) -> list[nn.Module]:
    layers = [nn.ReflectionPad2d(1), nn.Conv2d(c_in, c_out, 3)]
    return layers + [nn.ReLU(inplace=True)] if relu else layers


def level_channels(level: int, width: float) -> int:
    return max(4, int(round(64 * 2**level * width)))


class Decoder(nn.Module):
    """(N, in_channels, h, w) -> (N, 3, h*stride, w*stride)."""

    def __init__(self, in_channels: int, stride: int = 8, width: float = 1.0):
        super().__init__()
        k = int(round(math.log2(stride))) if stride >= 1 else -1
        if stride < 1 or 2**k != stride or k >= len(CONVS_PER_LEVEL):
            raise StylelabError(f"decoder stride must be 1, 2, 4, 8 or 16, got {stride}")
        if in_channels < 1:
            raise StylelabError(f"decoder in_channels must be positive, got {in_channels}")
        if not 0 < width <= 4:
            raise StylelabError(f"decoder width must be in (0, 4], got {width}")
        self.in_channels, self.stride, self.width = in_channels, stride, float(width)
        layers: list[nn.Module] = []
        c = in_channels
        if k > 0:
            # the tap's own level contributes one conv (relu4_1 is the first conv of level 3)
            c_next = level_channels(k - 1, width)
            layers += conv3x3(c, c_next)
            c = c_next
        for level in range(max(k - 1, 0), -1, -1):
            if level < k:
                layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
            c_level = level_channels(level, width)
            # first convs keep the width, the last one hands over to the next level
            for _ in range(CONVS_PER_LEVEL[level] - 1):
                layers += conv3x3(c, c_level)
                c = c_level
            if level > 0:
                c_next = level_channels(level - 1, width)
                layers += conv3x3(c, c_next)
                c = c_next
        layers += conv3x3(c, 3, relu=False)
        self.net = nn.Sequential(*layers)

    def forward(self, feat):
        if feat.dim() != 4 or feat.shape[1] != self.in_channels:
            raise StylelabError(
                f"decoder expects (N, {self.in_channels}, h, w) features, got {tuple(feat.shape)}"
            )
        return self.net(feat)

    def config(self) -> dict:
        return {"in_channels": self.in_channels, "stride": self.stride, "width": self.width}
