"""A book-size StyleRWKV (Dai, Zhou, Ma; ICME 2025; mechanisms §5.6, a reconstruction [R]).

No official code exists. The paper says: a 4-level hierarchical encoder-decoder of ST-RWKV
blocks (Re-WKV over S-scans + Deform-Shifting), AdaIN and multi-scale features. We build it
on Restore-RWKV's U-Net (§5.3):

    F^1..F^4 = E(img)     one encoder for content and style:
                          patch conv (k = s = `patch`) -> level 1 (dim) -> down -> level 2 (2 dim)
                          -> down -> level 3 (4 dim) -> down -> level 4 (8 dim);
                          down = conv3x3 (C -> C/2) + PixelUnshuffle(2), as Restore-RWKV
    G^l = AdaIN(F_c^l, F_s^l) at every level (the skips carry the AdaIN'd features)
    D:  y = G^4;  for l = 3, 2, 1:  y = blocks_l(reduce_l([up(y), G^l]))
        up = conv3x3 (C -> 2C) + PixelShuffle(2);  reduce = 1x1 conv (2C_l -> C_l)
    out = g(y)            the package's CNN decoder from stride `patch` to pixels

Every block is `stylelab.rwkv.Block` (Re-WKV `recurrence` passes over `scan` orders with
skip `skip`, shift `shift`). Loss: the StyTr² family's 7 Lc + 10 Ls + 70 Lid1 + 1 Lid2 on
the frozen offline encoder (stylelab.losses.stytr), as Mamba-ST, so the two compare.

Book size vs the reconstruction's full size (dim 48, blocks [4, 6, 6, 8], stride-1 patch):
dim 32, one block per level, a stride-4 patch, the CNN decoder at width 1/4.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from stylelab.adain.op import blend, check_alpha, normalize_weights
from stylelab.adain.op import preserve_color as recolor_style
from stylelab.core.checks import image_batch
from stylelab.core.errors import StylelabError
from stylelab.losses.stytr import LOSS_WEIGHTS, loss_weights_from, stytr_loss
from stylelab.nn.decoder import Decoder
from stylelab.nn.frozen_encoder import FrozenEncoderNet
from stylelab.rwkv.blocks import Block

LEVELS = 4


class Level(nn.Module):
    """`n` RWKV blocks on a map (B, C, h, w) -> (B, C, h, w)."""

    def __init__(self, channels: int, n: int, **block_kw):
        super().__init__()
        self.blocks = nn.ModuleList([Block(channels, **block_kw) for _ in range(n)])

    def forward(self, x: torch.Tensor, backend: str = "auto") -> torch.Tensor:
        h, w = x.shape[-2:]
        t = rearrange(x, "b c h w -> b (h w) c")
        for block in self.blocks:
            t = block(t, (h, w), backend)
        return rearrange(t, "b (h w) c -> b c h w", h=h, w=w)


def down(channels: int) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(channels, channels // 2, 3, padding=1, bias=False), nn.PixelUnshuffle(2)
    )


def up(channels: int) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(channels, channels * 2, 3, padding=1, bias=False), nn.PixelShuffle(2)
    )


class StyleRWKV(FrozenEncoderNet):
    NAME = "StyleRWKV"

    def __init__(
        self,
        encoder: nn.Module,
        dim: int = 32,
        blocks: Sequence[int] = (1, 1, 1, 1),
        patch: int = 4,
        recurrence: int = 2,
        shift: str = "deform",
        scan: str = "s-scan",
        skip: int = 2,
        width: float = 0.25,
        loss_weights: dict | None = None,
    ):
        super().__init__()
        blocks = [int(n) for n in blocks]
        if len(blocks) != LEVELS or min(blocks) < 0 or dim < 1 or patch not in (1, 2, 4, 8):
            raise StylelabError(
                f"StyleRWKV: need 4 block counts >= 0, dim >= 1 and patch 1, 2, 4 or 8; got "
                f"blocks={blocks}, dim={dim}, patch={patch}"
            )
        self.encoder = encoder
        self.dim, self.blocks, self.patch = int(dim), blocks, int(patch)
        self.recurrence, self.shift, self.scan, self.skip = int(recurrence), shift, scan, int(skip)
        self.width = float(width)
        self.loss_weights = {**LOSS_WEIGHTS, **(loss_weights or {})}
        unknown = sorted(set(self.loss_weights) - set(LOSS_WEIGHTS))
        if unknown:
            raise StylelabError(f"StyleRWKV loss weights: unknown {unknown}; valid {LOSS_WEIGHTS}")
        kw = {"recurrence": recurrence, "shift": shift, "scan": scan, "skip": skip}
        chans = [dim * 2**level for level in range(LEVELS)]  # 32, 64, 128, 256
        self.patch_embed = nn.Conv2d(3, dim, patch, stride=patch)
        self.enc = nn.ModuleList([Level(c, n, **kw) for c, n in zip(chans, blocks)])
        self.downs = nn.ModuleList([down(c) for c in chans[:-1]])
        self.ups = nn.ModuleList([up(c) for c in chans[1:]])  # up[l]: level l+1 -> level l
        self.reduce = nn.ModuleList([nn.Conv2d(2 * c, c, 1) for c in chans[:-1]])
        self.dec = nn.ModuleList([Level(c, n, **kw) for c, n in zip(chans[:-1], blocks[:-1])])
        self.decoder = Decoder(dim, stride=patch, width=width)

    @property
    def multiple(self) -> int:
        """Image sides must be multiples of this: the patch, then three halvings."""
        return self.patch * 2 ** (LEVELS - 1)

    # -- config (train mode and the trainable weights: FrozenEncoderNet) --
    def config(self) -> dict:
        return {
            "dim": self.dim,
            "blocks": list(self.blocks),
            "patch": self.patch,
            "recurrence": self.recurrence,
            "shift": self.shift,
            "scan": self.scan,
            "skip": self.skip,
            "width": self.width,
            "loss_weights": dict(self.loss_weights),
        }

    # -- the network --
    def features(self, img: torch.Tensor, backend: str = "auto") -> list[torch.Tensor]:
        """(N, 3, H, W), sides multiples of `multiple` -> [F^1, ..., F^4] (N, C_l, h_l, w_l)."""
        x = self.patch_embed(img)
        feats = []
        for level, blocks in enumerate(self.enc):
            if level:
                x = self.downs[level - 1](x)
            x = blocks(x, backend)
            feats.append(x)
        return feats

    def decode(self, targets: list[torch.Tensor], backend: str = "auto") -> torch.Tensor:
        """[G^1, ..., G^4] -> image (N, 3, H, W), unclamped."""
        y = targets[-1]
        for level in range(LEVELS - 2, -1, -1):
            y = torch.cat([self.ups[level](y), targets[level]], dim=1)
            y = self.dec[level](self.reduce[level](y), backend)
        return self.decoder(y)

    def forward(self, content: torch.Tensor, style: torch.Tensor, backend="auto"):
        fc, fs = self.features(content, backend), self.features(style, backend)
        return self.decode([blend(c, s) for c, s in zip(fc, fs)], backend)

    # -- training --
    def loss(self, batch) -> tuple[torch.Tensor, dict[str, float]]:
        """batch = (content, style), each (N, 3, S, S) in [0, 1] -> (L, named terms).

        The encoder runs once over the 2N images; the decoder over 3N AdaIN'd pyramids:
        (c, s) the stylisation, (c, c) and (s, s) the identities."""
        content, style = batch
        n = content.shape[0]
        feats = self.features(torch.cat([content, style]))  # per level (2N, ...): c, s
        targets = []
        for f in feats:
            fc, fs = f[:n], f[n:]
            targets.append(torch.cat([blend(fc, fs), blend(fc, fc), blend(fs, fs)]))
        out = self.decode(targets)  # (3N, 3, S, S)
        return stytr_loss(self.encoder, out, content, style, self.loss_weights)

    # -- inference --
    @torch.no_grad()
    def stylize(
        self,
        content_img: torch.Tensor,
        style_imgs,
        alpha: float = 1.0,
        weights: Sequence[float] | None = None,
        preserve_color: bool = False,
        backend: str = "auto",
    ) -> torch.Tensor:
        """Content (N, 3, H, W) and K styles (1 or N, 3, H', W') in [0, 1] -> (N, 3, H, W).

        Any sizes: each image is padded (edge pixels) to sides that are multiples of
        `multiple`, at least two of them (128 px at patch 8), and the output cropped back;
        styles keep their own size (AdaIN reads only their statistics). alpha and the style weights mix the AdaIN targets at every level,
        as AdaIN's `blend` does at its one level."""
        alpha = check_alpha(alpha)
        styles = [style_imgs] if isinstance(style_imgs, torch.Tensor) else list(style_imgs)
        if not styles:
            raise StylelabError("need at least one style image")
        ws = normalize_weights(weights, len(styles))
        device = next(self.decoder.parameters()).device
        content = image_batch(content_img, "content image", device)
        styles = [image_batch(s, f"style image {i}", device) for i, s in enumerate(styles)]
        if preserve_color:
            styles = [recolor_style(s, content) for s in styles]
        was_training = self.training
        self.eval()
        try:
            h, w = content.shape[-2:]
            fc = self.features(self._padded(content), backend)
            fs = [self.features(self._padded(s), backend) for s in styles]
            targets = [
                blend(c, [f[level] for f in fs], alpha=alpha, weights=ws)
                for level, c in enumerate(fc)
            ]
            out = self.decode(targets, backend)[..., :h, :w].clamp(0.0, 1.0)
        finally:
            self.train(was_training)
        return out

    def _padded(self, img: torch.Tensor) -> torch.Tensor:
        """Edge-padded to multiples of `multiple`, and to at least two of them a side: the
        deepest level then has 2x2 tokens or more, so AdaIN has a variance to match."""
        h, w = img.shape[-2:]
        m = self.multiple
        pad_h, pad_w = (max(2 * m, n + (-n) % m) - n for n in (h, w))
        return F.pad(img, (0, pad_w, 0, pad_h), mode="replicate")


def from_config(encoder: nn.Module, config: dict) -> StyleRWKV:
    keys = ("dim", "blocks", "patch", "recurrence", "shift", "scan", "skip", "width")
    return StyleRWKV(
        encoder,
        **{k: config[k] for k in keys if k in config},
        loss_weights=loss_weights_from(config),
    )
