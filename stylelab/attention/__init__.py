"""Attention for style transfer: all-to-all (SANet, AdaAttN) and StyA2K's all-to-key.

ops.py  the vectorised ops: block/unblock, all_to_all, distributed_attention (DA),
        progressive_attention (PA); their loops are `kernels.attention_reference`
a2k.py  the A2K layer (eq. 13-14), loadable from the official checkpoint's names
"""

from stylelab.attention.a2k import A2K
from stylelab.attention.ops import all_to_all, distributed_attention, progressive_attention

__all__ = ["A2K", "all_to_all", "distributed_attention", "progressive_attention"]
