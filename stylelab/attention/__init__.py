"""Attention for style transfer: all-to-all (SANet, AdaAttN) and StyA2K's all-to-key.

ops.py         the vectorised ops: block/unblock, all_to_all, distributed_attention (DA),
               progressive_attention (PA); their loops are `kernels.attention_reference`
a2k.py         the A2K layer (eq. 13-14), loadable from the official checkpoint's names
all_to_all.py  the baselines: SANet and AdaAttN layers
target.py      the non-parametric A2K* target of StyA2K's loss (eq. 17)
net.py         StyA2KNet: the book-size StyA2K and its all-to-all baseline, `switched` (ablations)
"""

from stylelab.attention.a2k import A2K
from stylelab.attention.all_to_all import AdaAttN, SANet, adaattn
from stylelab.attention.ops import all_to_all, distributed_attention, progressive_attention
from stylelab.attention.target import a2k_target, shallow_keys

__all__ = [
    "A2K",
    "AdaAttN",
    "SANet",
    "a2k_target",
    "adaattn",
    "all_to_all",
    "distributed_attention",
    "progressive_attention",
    "shallow_keys",
]
