"""The interface every encoder keeps: RGB in [0, 1] -> {tap: features}, frozen, captioned."""

from __future__ import annotations

import torch
from torch import nn

from stylelab.core.errors import StylelabError

# The offline default used by name="auto" when no ImageNet VGG-19 is on disk.
# A measured choice (measured in chapter 1, data/encoder_comparison/); switch with one line: "vgg19-random".
OFFLINE_DEFAULT = "mobilenetv2"
OFFLINE_CHOICES = {"mobilenetv2": ("mobilenetv2", "magenta"), "vgg19-random": ("vgg19", "random")}

MIN_SIDE = 32  # deepest taps are stride 16: 32 px keeps them >= 2x2, so a variance exists


IMAGENET_MEAN = (0.485, 0.456, 0.406)


IMAGENET_STD = (0.229, 0.224, 0.225)


class Encoder(nn.Module):
    """A frozen feature extractor. Subclasses fill the metadata and `_features`.

    taps         ordered tap names (shallow -> deep)
    channels     {tap: C}
    strides      {tap: s}: a tap's map is about (H/s, W/s) (VGG floors, MobileNetV2 ceils)
    content_tap  the stride-8 tap AdaIN works on
    style_taps   taps whose statistics style losses match
    min_side     smallest input side accepted
    description  one line for figure captions: architecture, weights, source
    """

    name: str
    weights_name: str
    taps: tuple[str, ...]
    channels: dict[str, int]
    strides: dict[str, int]
    content_tap: str
    style_taps: tuple[str, ...]
    min_side: int = MIN_SIDE
    description: str

    def forward(self, x: torch.Tensor, taps=None) -> dict[str, torch.Tensor]:
        wanted = self._check_taps(taps)
        x = self._check_input(x)
        feats = self._features(x, wanted)
        return {tap: feats[tap] for tap in wanted}

    def _features(self, x: torch.Tensor, wanted: list[str]) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def train(self, mode: bool = True) -> Encoder:
        return super().train(False)  # frozen: always in eval mode

    def freeze(self) -> Encoder:
        for p in self.parameters():
            p.requires_grad_(False)
        return self.eval()

    def extra_repr(self) -> str:
        return self.description

    def _check_taps(self, taps) -> list[str]:
        if taps is None:
            return list(self.taps)
        if isinstance(taps, str):
            taps = [taps]
        unknown = [t for t in taps if t not in self.channels]
        if unknown:
            raise StylelabError(
                f"{self.name} has no tap {unknown[0]!r}; valid taps: {', '.join(self.taps)}"
            )
        return list(dict.fromkeys(taps))

    def _check_input(self, x) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise StylelabError(
                f"{self.name} expects a torch.Tensor (N,3,H,W), got {type(x).__name__}; "
                "load images with stylelab.core.images.load_image"
            )
        if x.ndim != 4:
            hint = " (add a batch axis: x[None])" if x.ndim == 3 else ""
            raise StylelabError(f"{self.name} expects (N,3,H,W), got shape {tuple(x.shape)}{hint}")
        if x.shape[1] != 3:
            raise StylelabError(
                f"{self.name} expects 3 RGB channels, got {x.shape[1]} (shape {tuple(x.shape)}); "
                "convert grayscale/RGBA with stylelab.core.images.load_image"
            )
        if not x.is_floating_point():
            raise StylelabError(
                f"{self.name} expects a float tensor in [0,1], got {x.dtype}; divide by 255"
            )
        if min(x.shape[-2:]) < self.min_side:
            raise StylelabError(
                f"{self.name} needs images at least {self.min_side}x{self.min_side} px, got "
                f"{x.shape[-2]}x{x.shape[-1]}; resize up (load_image(..., min_side={self.min_side}))"
            )
        if not torch.isfinite(x).all():
            raise StylelabError(f"{self.name}: the input has NaN or Inf values")
        param = next(self.parameters())
        return x.to(device=param.device, dtype=param.dtype)
