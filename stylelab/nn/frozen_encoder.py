"""A network around a frozen encoder: the encoder stays in eval mode, and only the rest's
weights are saved, shipped and loaded (MambaST and StyleRWKV share this)."""

from __future__ import annotations

import torch
from torch import nn

from stylelab.core.errors import StylelabError


class FrozenEncoderNet(nn.Module):
    """Subclasses set `self.encoder` and NAME (used in the weights error)."""

    NAME = "network"

    def train(self, mode: bool = True):
        super().train(mode)
        self.encoder.eval()  # frozen, BatchNorm statistics included
        return self

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        return {k: v for k, v in self.state_dict().items() if not k.startswith("encoder.")}

    def load_trainable_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        expected = self.trainable_state_dict()
        missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
        if missing or unexpected:
            raise StylelabError(f"{self.NAME} weights: missing {missing}, unexpected {unexpected}")
        self.load_state_dict(state, strict=False)
