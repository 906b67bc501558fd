"""Cached-style AdaIN inference: encode the style once, then stylize many contents with it.

    mu(f(s)), sigma(f(s))  from the fp32 model, once                    (1, C, 1, 1) each
    per call, in `dtype`:
        f_c = f(c)                                                       (1, C, S/8, S/8)
        t   = adain_to_stats(f_c, mu_s, sigma_s)   in fp32 (statistics need the bits)
        out = g(t)                                                       (1, 3, S, S) fp32

`stylelab bench adain` times this as its "fast" path (bfloat16 where the CPU has native
bf16 dot products); the output is unclamped, as the network's forward.
"""

from __future__ import annotations

import copy

import torch

from stylelab.adain.op import adain_to_stats
from stylelab.stats import mean_std


class CachedStyle:
    """`model` (an AdaINNet) with one style's statistics cached; call it with a content."""

    def __init__(self, model, style: torch.Tensor, dtype: torch.dtype = torch.float32):
        self.tap, self.dtype = model.content_tap, dtype
        with torch.inference_mode():
            self.style_mean, self.style_std = mean_std(model.encode(style)[self.tap])  # (1,C,1,1)
        self.model = copy.deepcopy(model).to(dtype=dtype, memory_format=torch.channels_last)

    def __call__(self, content: torch.Tensor) -> torch.Tensor:
        feat = self.model.encode(content.to(self.dtype))[self.tap].float()  # (1,C,S/8,S/8)
        t = adain_to_stats(feat, self.style_mean, self.style_std)
        t = t.to(self.dtype).contiguous(memory_format=torch.channels_last)
        return self.model.decoder(t).float()  # (1,3,S,S)
