"""Layers that several networks share: the decoder mirrored from any encoder's content tap."""

from stylelab.nn.decoder import Decoder

__all__ = ["Decoder"]
