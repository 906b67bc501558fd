"""A decoder with one skip: the mirrored decoder of `nn.decoder`, plus features from the
level above concatenated after its first upsampling (StyA2K's decoder, mechanisms §3.1).

    t (N, C_t, h, w)  -> conv, ReLU, x2 -> concat z (N, C_z, 2h, 2w) -> the rest -> (N, 3, 8h, 8w)

Built from `Decoder(C_t, stride, width)` by widening the first conv after the first
upsampling to take the skip's channels too, so that every other layer has the plain
decoder's shape: `init_from_decoder` copies a trained plain decoder (AdaIN's) into it and
zeroes the skip's weights, and the network then starts as that decoder.
"""

from __future__ import annotations

import torch
from torch import nn

from stylelab.core.errors import StylelabError
from stylelab.nn.decoder import Decoder


class SkipDecoder(nn.Module):
    def __init__(self, in_channels: int, skip_channels: int, stride: int = 8, width: float = 1.0):
        super().__init__()
        plain = Decoder(in_channels, stride=stride, width=width)
        layers = list(plain.net)
        up = next(i for i, m in enumerate(layers) if isinstance(m, nn.Upsample))
        first = next(i for i in range(up, len(layers)) if isinstance(layers[i], nn.Conv2d))
        conv = layers[first]
        layers[first] = nn.Conv2d(conv.in_channels + skip_channels, conv.out_channels, 3)
        self.head = nn.Sequential(*layers[: up + 1])  # conv, ReLU, x2
        self.body = nn.Sequential(*layers[up + 1 :])
        self.skip_index = first - up - 1  # the widened conv inside body
        self.in_channels, self.skip_channels = in_channels, skip_channels
        self.stride, self.width = stride, float(width)

    def forward(self, t: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = self.head(t)  # (N, C, 2h, 2w)
        if skip.shape[-2:] != x.shape[-2:]:
            raise StylelabError(
                f"the skip features are {tuple(skip.shape[-2:])}, the decoder's map at that "
                f"level is {tuple(x.shape[-2:])}: they come from different image sizes"
            )
        return self.body(torch.cat([x, skip], dim=1))

    @torch.no_grad()
    def init_from_decoder(self, state: dict[str, torch.Tensor]) -> None:
        """Load a plain `Decoder`'s state dict (keys net.<i>...); the skip starts at zero."""
        n_head = len(self.head)
        for key, value in state.items():
            index, name = key.split(".", 2)[1:]
            index = int(index)
            part, i = (self.head, index) if index < n_head else (self.body, index - n_head)
            target = getattr(part[i], name)
            if part is self.body and i == self.skip_index and name == "weight":
                target.zero_()
                target[:, : value.shape[1]] = value
            else:
                target.copy_(value)

    def config(self) -> dict:
        return {
            "in_channels": self.in_channels,
            "skip_channels": self.skip_channels,
            "stride": self.stride,
            "width": self.width,
        }
