"""Layers that several networks share: the decoder mirrored from any encoder's content tap,
and FrozenEncoderNet (a frozen encoder, only the rest's weights saved and loaded)."""

from stylelab.nn.decoder import Decoder
from stylelab.nn.frozen_encoder import FrozenEncoderNet

__all__ = ["Decoder", "FrozenEncoderNet"]
