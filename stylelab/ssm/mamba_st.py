"""A book-size Mamba-ST (Botti et al., WACV 2025; mechanisms §4.3-4.5).

    P_c, P_s = patch(c), patch(s)            Conv2d(3 -> d, k=8, s=8), shared     (N, h, w, d)
    E_c      = encoder_c(P_c)                `depth` VSS blocks (self SS2D), x <- Block(x) + x
    E_s      = encoder_s(P_s)                the same, its own weights
    T        = LN(decoder(E_c, E_s))         `depth` ST-VSS blocks (cross SS2D), c <- ST(c, s) + c
    out      = g(T)                          the mirrored CNN decoder, stride 8 -> pixels

    VSS block:     x <- LN(s1 ⊙ x + DropPath(SS2D(LN1(x))))
    ST-VSS block:  c <- LN(s1 ⊙ c + DropPath(SS2D_cross(LN1(c), shuffle(s))))
    shuffle:       one random permutation of the style's token positions per block and forward
                   (the same for the whole batch), also at test time as the official
                   `--rnd_style`; it leaves the style's statistics and erases its layout.

    L = 7 Lc + 10 Ls + 70 Lid1 + 1 Lid2   (StyTr²'s weights, mechanisms §1.3), on the frozen
    encoder: Lc on mean-variance-normalised maps at its stride-8 and deepest taps (relu4_1,
    relu5_1 on VGG), Ls and Lid2 over its style taps and deepest tap, Lid1 in pixels, the
    identity outputs being the network run on (c, c) and (s, s).

What differs from the official code, and why:
- Size: d_model 128 instead of 512, 2 blocks instead of 3, the CNN decoder at `width` 1/4.
- Init: Mamba's S4D init (A = -(1..N), Δ in [1e-3, 1e-1]) by default, not the official
  Xavier overwrite of A_logs and the Δ bias (`init="official"` reproduces it; the chapter
  says why we keep S4D).
- Non-square images work: the token grid's (h, w) is passed along, never √L.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from stylelab.adain.op import check_alpha, normalize_weights
from stylelab.adain.op import preserve_color as recolor_style
from stylelab.core.checks import image_batch
from stylelab.core.errors import StylelabError
from stylelab.losses.stytr import LOSS_WEIGHTS, loss_weights_from, stytr_loss
from stylelab.nn.decoder import Decoder
from stylelab.nn.frozen_encoder import FrozenEncoderNet
from stylelab.ssm.ss2d import SS2D

PATCH = 8  # the patch embedding's kernel and stride: the token grid is the image / 8


def drop_path(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Stochastic depth: drop the whole residual branch of a sample with probability p.
    (Written here rather than importing timm for this one function.)"""
    if p == 0.0 or not training:
        return x
    keep = torch.rand(x.shape[0], *([1] * (x.dim() - 1)), device=x.device) >= p
    return x * keep.to(x.dtype) / (1 - p)


class VSSBlock(nn.Module):
    """x <- LN(s1 ⊙ x + DropPath(SS2D(LN1(x), style))) on (B, h, w, d) tokens."""

    def __init__(self, d_model, d_state=16, cross=False, drop_path=0.0, init="s4d"):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d_model)
        self.self_attention = SS2D(d_model, d_state=d_state, cross=cross, init=init)
        self.skip_scale = nn.Parameter(torch.ones(d_model))
        self.norm = nn.LayerNorm(d_model)
        self.drop_path = float(drop_path)

    def forward(self, x, style=None, backend="auto"):
        y = self.self_attention(self.ln_1(x), style, backend=backend)
        return self.norm(x * self.skip_scale + drop_path(y, self.drop_path, self.training))


def shuffle_tokens(s: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, h, w, d) -> the same tokens at randomly permuted positions (one permutation)."""
    n_batch, h, w, d = s.shape
    perm = torch.randperm(h * w, generator=generator).to(s.device)
    return s.reshape(n_batch, h * w, d)[:, perm].reshape(n_batch, h, w, d)


class MambaST(FrozenEncoderNet):
    NAME = "Mamba-ST"

    def __init__(
        self,
        encoder: nn.Module,
        d_model: int = 128,
        depth: int = 2,
        d_state: int = 16,
        width: float = 0.25,
        shuffle: bool = True,
        init: str = "s4d",
        decoder_drop_path: float = 0.1,
        loss_weights: dict | None = None,
    ):
        super().__init__()
        self.encoder = encoder
        self.d_model, self.depth, self.d_state = int(d_model), int(depth), int(d_state)
        self.width, self.shuffle, self.init = float(width), bool(shuffle), init
        self.decoder_drop_path = float(decoder_drop_path)
        self.loss_weights = {**LOSS_WEIGHTS, **(loss_weights or {})}
        unknown = sorted(set(self.loss_weights) - set(LOSS_WEIGHTS))
        if unknown:
            raise StylelabError(f"Mamba-ST loss weights: unknown {unknown}; valid {LOSS_WEIGHTS}")
        self.patch = nn.Conv2d(3, d_model, PATCH, stride=PATCH)
        self.encoder_c = nn.ModuleList(
            [VSSBlock(d_model, d_state, init=init) for _ in range(depth)]
        )
        self.encoder_s = nn.ModuleList(
            [VSSBlock(d_model, d_state, init=init) for _ in range(depth)]
        )
        self.decoder_blocks = nn.ModuleList(
            [
                VSSBlock(d_model, d_state, cross=True, drop_path=decoder_drop_path, init=init)
                for _ in range(depth)
            ]
        )
        self.norm = nn.LayerNorm(d_model)
        self.decoder = Decoder(d_model, stride=PATCH, width=width)
        self.generator: torch.Generator | None = None  # the shuffle's; None = global RNG

    # -- config (train mode and the trainable weights: FrozenEncoderNet) --
    def config(self) -> dict:
        return {
            "d_model": self.d_model,
            "depth": self.depth,
            "d_state": self.d_state,
            "width": self.width,
            "shuffle": self.shuffle,
            "init": self.init,
            "decoder_drop_path": self.decoder_drop_path,
            "loss_weights": dict(self.loss_weights),
        }

    # -- the network --
    def embed(self, img: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W), sides multiples of 8 -> tokens (N, H/8, W/8, d)."""
        return self.patch(img).permute(0, 2, 3, 1)

    def encode_tokens(self, tokens: torch.Tensor, blocks: nn.ModuleList, backend="auto"):
        for block in blocks:
            tokens = block(tokens, backend=backend) + tokens
        return tokens

    def transform(self, c_tokens, s_tokens, backend="auto") -> torch.Tensor:
        """Encoded content and style tokens (N, h, w, d) -> T (N, h, w, d)."""
        c = c_tokens
        for block in self.decoder_blocks:
            s = shuffle_tokens(s_tokens, self.generator) if self.shuffle else s_tokens
            c = block(c, s, backend=backend) + c
        return self.norm(c)

    def decode(self, t: torch.Tensor) -> torch.Tensor:
        return self.decoder(t.permute(0, 3, 1, 2))  # (N, 3, 8h, 8w)

    def forward(self, content: torch.Tensor, style: torch.Tensor, backend="auto"):
        """(N, 3, H, W), (N, 3, H, W), sides multiples of 8 -> (N, 3, H, W)."""
        ec = self.encode_tokens(self.embed(content), self.encoder_c, backend)
        es = self.encode_tokens(self.embed(style), self.encoder_s, backend)
        return self.decode(self.transform(ec, es, backend))

    # -- training --
    def loss(self, batch) -> tuple[torch.Tensor, dict[str, float]]:
        """batch = (content, style), each (N, 3, S, S) in [0, 1] -> (L, named terms).

        The decoder runs on 3N pairs: (c, s) the stylisation, (c, c) and (s, s) the
        identities; the two token encoders run once each over the 2N images."""
        content, style = batch
        n = content.shape[0]
        both = torch.cat([content, style])  # each encoder runs once over both images
        ec = self.encode_tokens(self.embed(both), self.encoder_c)  # (2N, h, w, d): c, s
        es = self.encode_tokens(self.embed(both), self.encoder_s)
        pairs_c = torch.cat([ec[:n], ec[:n], ec[n:]])  # (c, s), (c, c), (s, s)
        pairs_s = torch.cat([es[n:], es[:n], es[n:]])
        out = self.decode(self.transform(pairs_c, pairs_s))  # (3N, 3, S, S)
        return stytr_loss(self.encoder, out, content, style, self.loss_weights)

    # -- inference --
    def _image(self, img, what: str) -> torch.Tensor:
        return image_batch(img, what, next(self.decoder.parameters()).device)

    @torch.no_grad()
    def stylize(
        self,
        content_img: torch.Tensor,
        style_imgs,
        alpha: float = 1.0,
        weights: Sequence[float] | None = None,
        preserve_color: bool = False,
        seed: int = 0,
        backend: str = "auto",
    ) -> torch.Tensor:
        """Content (N, 3, H, W) and K styles (1 or N, 3, H', W') in [0, 1] -> (N, 3, H, W).

        The content is padded (edge pixels) to sides that are multiples of 8, and each style
        is RESIZED to the padded content's size: ST-VSSM reads style token t with content
        position t, so both grids must match (the shuffle then erases the style's layout
        anyway). alpha mixes T with the content as its own style's T (as SANet's alpha);
        weights mix the styles' T; `seed` fixes the shuffle's permutations.
        """
        alpha = check_alpha(alpha)
        styles = [style_imgs] if isinstance(style_imgs, torch.Tensor) else list(style_imgs)
        if not styles:
            raise StylelabError("need at least one style image")
        ws = normalize_weights(weights, len(styles))
        was_training = self.training
        self.eval()
        content = self._image(content_img, "content image")
        styles = [self._image(s, f"style image {i}") for i, s in enumerate(styles)]
        if preserve_color:
            styles = [recolor_style(s, content) for s in styles]
        h, w = content.shape[-2:]
        content = F.pad(content, (0, (-w) % PATCH, 0, (-h) % PATCH), mode="replicate")
        size = tuple(content.shape[-2:])
        self.generator = torch.Generator().manual_seed(seed)
        try:
            ec = self.encode_tokens(self.embed(content), self.encoder_c, backend)
            t = 0.0
            for weight, style in zip(ws, styles):
                if tuple(style.shape[-2:]) != size:
                    style = F.interpolate(style, size=size, mode="bilinear", antialias=True)
                es = self.encode_tokens(self.embed(style), self.encoder_s, backend)
                t = t + weight * self.transform(ec, es.expand(ec.shape[0], -1, -1, -1), backend)
            if alpha < 1.0:  # the content as its own style: the style encoder sees it
                ecs = self.encode_tokens(self.embed(content), self.encoder_s, backend)
                t = alpha * t + (1 - alpha) * self.transform(ec, ecs, backend)
            out = self.decode(t)[..., :h, :w].clamp(0.0, 1.0)
        finally:
            self.generator = None
            self.train(was_training)
        return out


def from_config(encoder: nn.Module, config: dict) -> MambaST:
    keys = ("d_model", "depth", "d_state", "width", "shuffle", "init", "decoder_drop_path")
    weights = loss_weights_from(config)
    return MambaST(encoder, **{k: config[k] for k in keys if k in config}, loss_weights=weights)
