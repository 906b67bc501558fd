"""Chapter 2's idea: style as channel statistics, swapped in one pass (Huang & Belongie 2017).

    op.py   the op itself (`adain`) and its test-time controls: alpha trade-off and style
            interpolation (`blend`), spatial control (`adain_masked`), colour preservation
    net.py  `AdaINNet`: frozen encoder -> AdaIN at the content tap -> trained decoder
    fast.py the cached-style inference path (style statistics computed once)

The naive loop that is the spec lives in `stylelab.kernels.stats_reference`.
"""

from stylelab.adain.net import AdaINNet, build_adain, from_config
from stylelab.adain.op import (
    adain,
    adain_masked,
    adain_to_stats,
    blend,
    check_alpha,
    normalize_weights,
    preserve_color,
)

__all__ = [
    "AdaINNet",
    "adain",
    "adain_masked",
    "adain_to_stats",
    "blend",
    "build_adain",
    "check_alpha",
    "from_config",
    "normalize_weights",
    "preserve_color",
]
