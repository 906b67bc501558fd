"""Full networks built from the mechanisms, plus the shared decoder.

`Decoder` mirrors any encoder from its content tap; later models reuse it.
"""

from stylelab.models.adain_net import AdaINNet, build_adain
from stylelab.models.decoder import Decoder

__all__ = ["AdaINNet", "Decoder", "build_adain"]
