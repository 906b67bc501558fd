"""The AdaIN network: frozen encoder f, AdaIN at the content tap, trained decoder g.

    t = AdaIN(f(c), f(s))                    (N, C, H/8, W/8) at the content tap
    out = g(alpha * t + (1 - alpha) * f(c))  (N, 3, H, W)

Training loss (mechanisms §2.3), only g learns:

    L  = Lc + lambda * Ls,  lambda = 10
    Lc = MSE(f(g(t)), t)                                   at the content tap
    Ls = sum_{l in style taps} MSE(mu(f_l(g(t))), mu(f_l(s))) + MSE(sigma(f_l(g(t))), sigma(f_l(s)))

Optional identity loss (our addition, `identity_weight` > 0; off by default, as in the paper):

    Lid = ( MSE(g(f(c)), c) + MSE(g(f(s)), s) ) / 2    in pixels, images in [0, 1]

(mechanisms §1.3's "Identity 1", as a mean over the 2N redrawn images, hence the 1/2.)

With Lc alone the decoder is only asked to land on the right *features*; with an
encoder that was never trained to be inverted (MobileNetV2, int8) many images share
those features, and the decoder drifts in colour and draws its own texture even at
alpha = 0. Lid asks it to redraw a photo (and a painting) from its own features, which
pins colours and edges. It costs one more decoder pass on 2N images, no encoder pass.

`shift_average=True` averages Ls over the four one-pixel shifts of g(t)
(reflection-padded). An encoder with stride-2 convolutions (MobileNetV2) sees
only one of the four 2x2 phases of an image, so the decoder can hide a 2-pixel
checkerboard that the loss cannot see; averaging over shifts makes the style
loss blind to the phase, and the checkerboard no longer pays.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from stylelab.adain.op import adain, adain_masked, blend, check_alpha
from stylelab.adain.op import preserve_color as recolor_style
from stylelab.core.errors import StylelabError
from stylelab.nn.decoder import Decoder
from stylelab.stats import mean_std

# the four one-pixel shifts (dy, dx) of the shift-averaged style loss
SHIFTS = ((0, 0), (0, 1), (1, 0), (1, 1))


def shifted_copies(img: torch.Tensor) -> torch.Tensor:
    """(N,3,H,W) -> (4N,3,H,W): the image moved by 0 or 1 pixel in y and x, edges reflected.

    Unlike `losses.one_pixel_shifts` (crops to H-1), reflection keeps the size, so the
    unshifted copy (rows 0..N-1) doubles as g(t) for the content loss: 4 encoder passes, not 5.
    """
    h, w = img.shape[-2:]
    padded = F.pad(img, (0, 1, 0, 1), mode="reflect")  # (N,3,H+1,W+1)
    return torch.cat([padded[..., dy : dy + h, dx : dx + w] for dy, dx in SHIFTS], dim=0)


class AdaINNet(nn.Module):
    def __init__(
        self,
        encoder: nn.Module,
        decoder: Decoder,
        style_weight: float = 10.0,
        shift_average: bool = False,
        style_taps: Sequence[str] | None = None,
        identity_weight: float = 0.0,
    ):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self.content_tap = encoder.content_tap
        self.style_taps = tuple(style_taps or encoder.style_taps)
        self.stride = int(encoder.strides[self.content_tap])
        self.style_weight, self.shift_average = float(style_weight), bool(shift_average)
        if not identity_weight >= 0:
            raise StylelabError(f"identity_weight must be >= 0, got {identity_weight}")
        self.identity_weight = float(identity_weight)
        c = encoder.channels[self.content_tap]
        if decoder.in_channels != c or decoder.stride != self.stride:
            raise StylelabError(
                f"decoder (in_channels={decoder.in_channels}, stride={decoder.stride}) does not "
                f"fit the encoder's content tap {self.content_tap} ({c} channels, stride "
                f"{self.stride}); build it as Decoder({c}, stride={self.stride})"
            )
        unknown = [t for t in self.style_taps if t not in encoder.taps]
        if unknown:
            raise StylelabError(f"unknown style taps {unknown}; the encoder has {encoder.taps}")
        self.loss_taps = tuple(dict.fromkeys((*self.style_taps, self.content_tap)))
        for p in self.encoder.parameters():
            p.requires_grad_(False)
        self.encoder.eval()

    def train(self, mode: bool = True):
        # the encoder stays frozen in eval mode (BatchNorm must keep its ImageNet statistics)
        super().train(mode)
        self.encoder.eval()
        return self

    # -- checkpoints hold only what trains; the encoder comes from encoders.load_encoder --
    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        return self.decoder.state_dict()

    def load_trainable_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.decoder.load_state_dict(state)

    def config(self) -> dict:
        return {
            **self.decoder.config(),
            "content_tap": self.content_tap,
            "style_taps": list(self.style_taps),
            "style_weight": self.style_weight,
            "shift_average": self.shift_average,
            "identity_weight": self.identity_weight,
        }

    def encode(self, img: torch.Tensor, taps: Sequence[str] | None = None) -> dict:
        """img (N,3,H,W) in [0,1] -> {tap: (N, C_tap, H/s_tap, W/s_tap)}; default: content tap."""
        return self.encoder(img, taps=list(taps or [self.content_tap]))

    def forward(self, content: torch.Tensor, style: torch.Tensor, alpha: float = 1.0):
        """(N,3,H,W), (N or 1,3,H',W') -> (N,3,H,W) unclamped; H, W multiples of the stride."""
        c = self.encode(content)[self.content_tap]
        s = self.encode(style)[self.content_tap]
        return self.decoder(blend(c, s, alpha))

    def loss(self, batch) -> tuple[torch.Tensor, dict[str, float]]:
        """batch = (content, style), each (N,3,S,S) in [0,1] -> (L, {content, style, total})."""
        content, style = batch
        ct = self.content_tap
        f_c = self.encode(content)[ct]  # (N,C,S/8,S/8)
        f_s = self.encode(style, self.loss_taps)
        t = adain(f_c, f_s[ct]).detach()  # the content target: no gradient flows into it
        g_t = self.decoder(t)  # (N,3,S,S)
        n = g_t.shape[0]
        images = shifted_copies(g_t) if self.shift_average else g_t  # (4N or N,3,S,S)
        f_g = self.encode(images, self.loss_taps)
        loss_c = F.mse_loss(f_g[ct][:n], t)  # the first copy is the unshifted g(t)
        loss_s = 0.0
        repeats = images.shape[0] // n
        for tap in self.style_taps:
            g_mean, g_std = mean_std(f_g[tap])  # (rN,C,1,1)
            s_mean, s_std = mean_std(f_s[tap])  # (N,C,1,1)
            s_mean, s_std = s_mean.repeat(repeats, 1, 1, 1), s_std.repeat(repeats, 1, 1, 1)
            loss_s = loss_s + F.mse_loss(g_mean, s_mean) + F.mse_loss(g_std, s_std)
        total = loss_c + self.style_weight * loss_s
        named = [("content", loss_c), ("style", loss_s)]
        if self.identity_weight:
            # g(f(c)) and g(f(s)) in one decoder pass; the features were computed above
            redrawn = self.decoder(torch.cat([f_c, f_s[ct]]))  # (2N,3,S,S)
            loss_id = F.mse_loss(redrawn, torch.cat([content, style]))
            total = total + self.identity_weight * loss_id
            named.append(("identity", loss_id))
        terms = {k: float(v.detach()) for k, v in (*named, ("total", total))}
        return total, terms

    # -- inference --
    def _check_image(self, img, what: str) -> torch.Tensor:
        if not isinstance(img, torch.Tensor) or img.dim() != 4 or img.shape[1] != 3:
            got = tuple(img.shape) if isinstance(img, torch.Tensor) else type(img).__name__
            raise StylelabError(f"{what} must be a (N, 3, H, W) tensor in [0, 1], got {got}")
        if not torch.isfinite(img).all():
            raise StylelabError(f"{what} contains NaN or Inf values")
        min_side = int(getattr(self.encoder, "min_side", self.stride))
        if min(img.shape[-2:]) < min_side:
            raise StylelabError(
                f"{what} is {img.shape[-2]}x{img.shape[-1]}; this encoder needs at least "
                f"{min_side} pixels on each side"
            )
        device = next(self.decoder.parameters()).device
        return img.to(device=device, dtype=torch.float32)

    def _pad_to_stride(self, img: torch.Tensor) -> torch.Tensor:
        h, w = img.shape[-2:]
        ph, pw = (-h) % self.stride, (-w) % self.stride
        if ph or pw:
            img = F.pad(img, (0, pw, 0, ph), mode="replicate")
        return img

    @torch.no_grad()
    def stylize(
        self,
        content_img: torch.Tensor,
        style_imgs,
        alpha: float = 1.0,
        weights: Sequence[float] | None = None,
        preserve_color: bool = False,
        masks: Sequence[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Content (N,3,H,W) + K style images -> (N,3,H,W) in [0,1].

        alpha: style strength in [0,1]; weights: K non-negative mixing weights;
        preserve_color: keep the content's colours; masks: K (1,1,H,W) regions
        (spatial control; then weights must be None).
        """
        alpha = check_alpha(alpha)
        was_training = self.training
        self.eval()
        content = self._check_image(content_img, "content image")
        styles = [style_imgs] if isinstance(style_imgs, torch.Tensor) else list(style_imgs)
        if not styles:
            raise StylelabError("need at least one style image")
        styles = [self._check_image(s, f"style image {i}") for i, s in enumerate(styles)]
        if preserve_color:
            styles = [recolor_style(s, content) for s in styles]
        h, w = content.shape[-2:]
        ct = self.content_tap
        f_c = self.encode(self._pad_to_stride(content))[ct]
        f_s = [self.encode(s)[ct] for s in styles]
        if masks is not None:
            if weights is not None:
                raise StylelabError("give either masks (spatial control) or mixing weights")
            masks = [masks] if isinstance(masks, torch.Tensor) else list(masks)
            for i, m in enumerate(masks):
                if not isinstance(m, torch.Tensor) or m.shape[-2:] != (h, w):
                    got = tuple(m.shape) if isinstance(m, torch.Tensor) else type(m).__name__
                    raise StylelabError(
                        f"mask {i} must be (1, 1, {h}, {w}) like the content, got {got}"
                    )
            masks = [self._pad_to_stride(m.to(content)) for m in masks]
            t = alpha * adain_masked(f_c, f_s, masks) + (1 - alpha) * f_c
        else:
            t = blend(f_c, f_s, alpha, weights)
        out = self.decoder(t)[..., :h, :w].clamp(0.0, 1.0)
        self.train(was_training)
        return out


def build_adain(
    encoder: nn.Module,
    width: float = 1.0,
    style_weight: float = 10.0,
    shift_average: bool = False,
    identity_weight: float = 0.0,
    style_taps: Sequence[str] | None = None,
) -> AdaINNet:
    """An AdaINNet whose decoder fits `encoder`'s content tap."""
    tap = encoder.content_tap
    decoder = Decoder(encoder.channels[tap], stride=encoder.strides[tap], width=width)
    return AdaINNet(
        encoder,
        decoder,
        style_weight=style_weight,
        shift_average=shift_average,
        style_taps=style_taps,
        identity_weight=identity_weight,
    )


def from_config(encoder: nn.Module, config: dict) -> AdaINNet:
    """The AdaINNet a config describes: `AdaINNet.config()`'s dict (a manifest entry's), or
    any part of it (a training run's width, style_weight, ...); missing keys take defaults.

    The one place a config becomes a network (the trainer's recipe, the zoo and the bench
    all call it), so the three cannot drift apart.
    """
    model = build_adain(
        encoder,
        width=config.get("width", 1.0),
        style_weight=config.get("style_weight", 10.0),
        shift_average=bool(config.get("shift_average") or False),
        identity_weight=config.get("identity_weight", 0.0),  # older configs lack it
        style_taps=config.get("style_taps"),
    )
    built = model.config()
    for key in ("content_tap", "in_channels", "stride"):
        if key in config and config[key] != built[key]:
            raise StylelabError(
                f"the config's {key} is {config[key]!r}, but the {getattr(encoder, 'name', '')} "
                f"encoder gives {built[key]!r}: the weights were made for another encoder"
            )
    return model
