"""RWKV for images: the WKV token mixers and the StyleRWKV blocks built on them.

wkv.py     `wkv` and `bi_wkv`: one dispatch over every backend, and the vectorised torch
           forms; the loops live in `stylelab.kernels` (wkv_reference, wkv_cpu, wkv_cuda)
re_wkv.py  `re_wkv`: Bi-WKV repeated along alternating raster or S-scan orders, K fixed,
           V chained (Restore-RWKV's recurrence, StyleRWKV's skip scan)
shift.py   token shifts: Omni-Shift, Q-Shift, Deform-Shifting, none
deform.py  `deform_shift`: Deform-Shifting's depthwise deformable conv in three tiers
blocks.py  SpatialMix, ChannelMix, Block (Restore-RWKV layout; official weights load)
"""

from stylelab.rwkv.blocks import Block, ChannelMix, SpatialMix
from stylelab.rwkv.deform import deform_shift
from stylelab.rwkv.re_wkv import re_wkv
from stylelab.rwkv.shift import SHIFTS, DeformShift, OmniShift, QShift
from stylelab.rwkv.wkv import bi_wkv, wkv

__all__ = [
    "SHIFTS",
    "Block",
    "ChannelMix",
    "DeformShift",
    "OmniShift",
    "QShift",
    "SpatialMix",
    "bi_wkv",
    "deform_shift",
    "re_wkv",
    "wkv",
]
