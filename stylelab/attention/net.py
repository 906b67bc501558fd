"""A book-size StyA2K network (Zhu et al., ICCV 2023; mechanisms §3.1-3.3) on any encoder.

    F^3, F^4, F^5 = the encoder's maps at strides 4, 8, 16 (relu3_1, relu4_1, relu5_1 on VGG)
    T   = merge(A2K_4(F_c^4, F_s^4) + up2(A2K_5(P F_c^5, P F_s^5)))        (N, C_4, H/8, W/8)
    Z_3 = A2K_3(F_c^3, F_s^3)                                              (N, C_3, H/4, W/4)
    out = g(T, Z_3)                                 the mirrored decoder with Z_3 as a skip

    L = 10 L_gs + 1.25 L_A2K*  (+ identity, off by default)
    L_gs    = Σ_{style taps} MSE(μ(E(out)), μ(E(s))) + MSE(σ(E(out)), σ(E(s)))
    L_A2K*  = Σ_{l = stride 2 .. 16} MSE(E^l(out), A2K*_l)      (`attention.target`)

What differs from the paper, and why (book size, two CPU cores):
- P, a learned 1x1 projection of the stride-16 map to C_4 channels, so A2K_5 works at C_4
  channels and the two levels add without a projection after (on MobileNetV2: 576 -> 192,
  nine times fewer weights in A2K_5). VGG's relu5_1 and relu4_1 both have 512: P is C -> C.
- The decoder is the plain mirrored decoder at `width`, with the skip concatenated into its
  first conv after upsampling (`nn.SkipDecoder`), not the official wider stack.
- Initialisation so that the untrained network is chapter 2's trained AdaIN decoder redrawing
  the photo: each A2K's fusion convs, P and the skip's weights start at zero, the merge conv
  at the identity, and the decoder from the shipped AdaIN weights (`init_from_adain`).
- The global style loss may be averaged over one-pixel shifts, as AdaIN's (MobileNetV2's
  stride-2 convolutions are blind to a 2-pixel checkerboard).

`attention="all_to_all"` builds the baseline the chapter compares against: the same network
and loss with a SANet layer (`all_to_all.SANet`, A2K's heads) in place of each A2K, so the
only difference is which keys a query sees. `load_trainable_state_dict` accepts an A2K
network's weights for it (`from_a2k_state`): that is how the shipped baseline is fine-tuned.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from stylelab.adain.net import shifted_copies
from stylelab.adain.op import check_alpha, normalize_weights
from stylelab.adain.op import preserve_color as recolor_style
from stylelab.attention.a2k import A2K
from stylelab.attention.all_to_all import SANet
from stylelab.attention.ops import check_heads
from stylelab.attention.target import a2k_target
from stylelab.core.checks import image_batch
from stylelab.core.errors import StylelabError
from stylelab.nn.skip_decoder import SkipDecoder
from stylelab.stats import mean_std

# block sides (feature pixels) per stride: the official code's 8, 8, 4 at relu3/4/5_1, and the
# loss target's 16, 8, 8, 4 at relu2_1 ... relu5_1
REGION = {2: 16, 4: 8, 8: 8, 16: 4}
MULTIPLE = 64  # image sides: the stride-16 map must be a multiple of its block side 4
# the attention layer at each level, and the prefix of its weights' names
ATTENTION = {"a2k": "a2k", "all_to_all": "sanet"}
SWITCHES = ("use_da", "use_pa", "match_blocks", "heads", "region")  # see `switched`


def attention_layer(kind: str, channels: int, region: int, heads: int) -> nn.Module:
    """An A2K layer, or the all-to-all baseline (SANet with the same heads), starting at the
    identity (its output convs at zero)."""
    # "chunked": scores for a slice of queries at a time, so that large images fit (at a fixed
    # block side, DA's scores grow as the square of the pixels too, 1/s² as many as all-to-all)
    if kind == "a2k":
        layer = A2K(channels, region, heads)
        layer.backend = "chunked"
        zero_(layer.fusion1), zero_(layer.fusion2)
    else:
        layer = SANet(channels, heads, backend="chunked")
        zero_(layer.out)
    return layer


def ladder(encoder) -> dict[int, str]:
    """{stride: tap} for strides 2, 4, 8, 16: the relu2_1 ... relu5_1 counterparts."""
    taps = {encoder.strides[t]: t for t in (*encoder.style_taps, encoder.taps[-1])}
    missing = [s for s in REGION if s not in taps]
    if missing:
        raise StylelabError(
            f"encoder {encoder.name} has no style tap at stride(s) {missing}; StyA2K needs "
            "maps at strides 2, 4, 8 and 16"
        )
    return {s: taps[s] for s in REGION}


def zero_(module: nn.Module) -> nn.Module:
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


class StyA2KNet(nn.Module):
    def __init__(
        self,
        encoder: nn.Module,
        width: float = 0.25,
        heads: int = 8,
        style_weight: float = 10.0,
        attention_weight: float = 1.25,
        identity_weight: float = 0.0,
        shift_average: bool = False,
        attention: str = "a2k",
    ):
        super().__init__()
        if attention not in ATTENTION:
            raise StylelabError(f"unknown attention {attention!r}; valid: {', '.join(ATTENTION)}")
        self.attention = attention
        self.attention_only = False  # see freeze_all_but_attention
        self.encoder = encoder
        self.levels = ladder(encoder)  # {2: tap, 4: tap, 8: tap, 16: tap}
        ch = {s: encoder.channels[t] for s, t in self.levels.items()}
        self.heads, self.width = heads, float(width)
        self.style_weight, self.attention_weight = float(style_weight), float(attention_weight)
        self.identity_weight, self.shift_average = float(identity_weight), bool(shift_average)
        prefix = ATTENTION[attention]  # the layers: a2k3, a2k4, a2k5 or sanet3, ...
        with torch.no_grad():
            for level, stride, c in ((3, 4, ch[4]), (4, 8, ch[8]), (5, 16, ch[8])):
                setattr(
                    self, f"{prefix}{level}", attention_layer(attention, c, REGION[stride], heads)
                )
        self.project5 = zero_(nn.Conv2d(ch[16], ch[8], 1))
        self.merge = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(ch[8], ch[8], 3))
        self.decoder = SkipDecoder(ch[8], ch[4], stride=8, width=width)
        with torch.no_grad():
            conv = self.merge[1]
            zero_(conv)
            conv.weight[:, :, 1, 1] = torch.eye(ch[8])  # the merge starts as the identity
        # key taps: the encoder's first tap (relu1_1's counterpart), then the ladder
        self.key_taps = list(dict.fromkeys([encoder.taps[0], *self.levels.values()]))
        self.loss_taps = list(dict.fromkeys([*encoder.style_taps, *self.key_taps]))

    def train(self, mode: bool = True):
        super().train(mode)
        self.encoder.eval()  # frozen, BatchNorm statistics included
        return self

    # -- what trains, and its config --
    def layers(self) -> tuple[nn.Module, nn.Module, nn.Module]:
        """The attention layers at strides 4, 8, 16 (relu3_1, relu4_1, relu5_1)."""
        prefix = ATTENTION[self.attention]
        return tuple(getattr(self, f"{prefix}{level}") for level in (3, 4, 5))

    def layer_keys(self, state: dict) -> list[str]:
        prefixes = tuple(f"{ATTENTION[self.attention]}{level}." for level in (3, 4, 5))
        return [k for k in state if k.startswith(prefixes)]

    def freeze_all_but_attention(self) -> None:
        """Train only the three attention layers: the decoder, merge and projection stay as
        loaded (the all-to-all baseline is fine-tuned on A2K's, so only the layer differs)."""
        self.attention_only = True
        for name, p in self.named_parameters():
            p.requires_grad_(name in self.layer_keys(dict(self.named_parameters())))

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        state = {k: v for k, v in self.state_dict().items() if not k.startswith("encoder.")}
        if self.attention_only:
            return {k: state[k] for k in self.layer_keys(state)}
        return state

    def load_trainable_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """The weights `trainable_state_dict` gives (with attention_only, only the layers');
        an A2K network's weights also fit the all-to-all baseline (`from_a2k_state`)."""
        if self.attention == "all_to_all" and "a2k3.q.weight" in state:
            state = from_a2k_state(state)
        expected = self.trainable_state_dict()
        missing = sorted(set(expected) - set(state))
        unexpected = sorted(set(state) - set(self.state_dict()))
        if missing or unexpected:
            raise StylelabError(f"StyA2K weights: missing {missing}, unexpected {unexpected}")
        self.load_state_dict(state, strict=False)

    def config(self) -> dict:
        return {
            **self.decoder.config(),
            "levels": {str(s): t for s, t in self.levels.items()},
            "attention": self.attention,
            "attention_only": self.attention_only,
            "heads": self.heads,
            "style_weight": self.style_weight,
            "attention_weight": self.attention_weight,
            "identity_weight": self.identity_weight,
            "shift_average": self.shift_average,
        }

    @torch.no_grad()
    def init_from_adain(self, decoder_state: dict[str, torch.Tensor]) -> None:
        """Start the decoder from a trained AdaIN decoder's weights (same tap and width)."""
        self.decoder.init_from_decoder({k: v.float() for k, v in decoder_state.items()})

    # -- the network --
    def encode(self, img: torch.Tensor, taps: Sequence[str]) -> dict:
        return self.encoder(img, taps=list(taps))

    def transform(self, fc: dict, fs: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """(T at stride 8, Z_3 at stride 4) from content and style features {tap: map}."""
        t3, t4, t5 = (self.levels[s] for s in (4, 8, 16))
        layer3, layer4, layer5 = self.layers()
        z5 = layer5(self.project5(fc[t5]), self.project5(fs[t5]))  # (N, C4, H/16, W/16)
        z4 = layer4(fc[t4], fs[t4])  # (N, C4, H/8, W/8)
        t = self.merge(z4 + F.interpolate(z5, scale_factor=2, mode="nearest"))
        return t, layer3(fc[t3], fs[t3])  # (N, C3, H/4, W/4)

    def forward(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W), (N or 1, 3, H', W'), sides multiples of 64 -> (N, 3, H, W)."""
        taps = [self.levels[s] for s in (4, 8, 16)]
        return self.decoder(*self.transform(self.encode(content, taps), self.encode(style, taps)))

    # -- training --
    def loss(self, batch) -> tuple[torch.Tensor, dict[str, float]]:
        """batch = (content, style), each (N, 3, S, S) in [0, 1] -> (L, named terms)."""
        content, style = batch
        fc, fs = self.encode(content, self.loss_taps), self.encode(style, self.loss_taps)
        out = self.decoder(*self.transform(fc, fs))  # (N, 3, S, S)
        n = out.shape[0]
        images = shifted_copies(out) if self.shift_average else out  # (4N or N, 3, S, S)
        fo = self.encode(images, self.loss_taps)
        repeats = images.shape[0] // n
        loss_gs = 0.0
        for tap in self.encoder.style_taps:
            (mo, so), (ms, ss) = mean_std(fo[tap]), mean_std(fs[tap])
            ms, ss = ms.repeat(repeats, 1, 1, 1), ss.repeat(repeats, 1, 1, 1)
            loss_gs = loss_gs + F.mse_loss(mo, ms) + F.mse_loss(so, ss)
        loss_attn = 0.0
        for stride, tap in self.levels.items():
            up_to = self.key_taps[: self.key_taps.index(tap) + 1]
            with torch.no_grad():  # a fixed target, as the official A2K*
                target = a2k_target(
                    [fc[t] for t in up_to], [fs[t] for t in up_to], REGION[stride], self.heads
                )
            loss_attn = loss_attn + F.mse_loss(fo[tap][:n], target)
        total = self.style_weight * loss_gs + self.attention_weight * loss_attn
        named = [("global_style", loss_gs), ("attention", loss_attn)]
        if self.identity_weight:
            redrawn = self(torch.cat([content, style]), torch.cat([content, style]))
            loss_id = F.mse_loss(redrawn, torch.cat([content, style]))
            total = total + self.identity_weight * loss_id
            named.append(("identity", loss_id))
        terms = {k: float(v.detach()) for k, v in (*named, ("total", total))}
        return total, terms

    # -- inference --
    def _fit_sides(self, img: torch.Tensor, what: str) -> torch.Tensor:
        return image_batch(img, what, next(self.decoder.parameters()).device)

    @torch.no_grad()
    def stylize(
        self,
        content_img: torch.Tensor,
        style_imgs,
        alpha: float = 1.0,
        weights: Sequence[float] | None = None,
        preserve_color: bool = False,
    ) -> torch.Tensor:
        """Content (N, 3, H, W) and K styles (1, 3, H', W') in [0, 1] -> (N, 3, H, W).

        alpha: style strength in [0, 1], as SANet's code: alpha·(T, Z) + (1 − alpha)·(T, Z)
        of the content as its own style; weights: K mixing weights of the styles' (T, Z);
        preserve_color: each style recoloured to the content's colours first.
        The content is padded (edge pixels repeated) and each style resized to sides that are
        multiples of 64, which the block sides need; the output is cropped back.
        """
        alpha = check_alpha(alpha)
        styles = [style_imgs] if isinstance(style_imgs, torch.Tensor) else list(style_imgs)
        if not styles:
            raise StylelabError("need at least one style image")
        ws = normalize_weights(weights, len(styles))
        was_training = self.training
        self.eval()
        content = self._fit_sides(content_img, "content image")
        styles = [self._fit_sides(s, f"style image {i}") for i, s in enumerate(styles)]
        if preserve_color:
            styles = [recolor_style(s, content) for s in styles]
        h, w = content.shape[-2:]
        content = F.pad(content, (0, (-w) % MULTIPLE, 0, (-h) % MULTIPLE), mode="replicate")
        taps = [self.levels[s] for s in (4, 8, 16)]
        fc = self.encode(content, taps)
        t, z = 0.0, 0.0
        for weight, style in zip(ws, styles):
            sh, sw = (max(MULTIPLE, round(x / MULTIPLE) * MULTIPLE) for x in style.shape[-2:])
            if (sh, sw) != tuple(style.shape[-2:]):
                style = F.interpolate(style, size=(sh, sw), mode="bilinear", antialias=True)
            t_k, z_k = self.transform(fc, self.encode(style, taps))
            t, z = t + weight * t_k, z + weight * z_k
        if alpha < 1.0:
            t_c, z_c = self.transform(fc, fc)  # the content as its own style
            t, z = alpha * t + (1 - alpha) * t_c, alpha * z + (1 - alpha) * z_c
        out = self.decoder(t, z)[..., :h, :w].clamp(0.0, 1.0)
        self.train(was_training)
        return out


@contextmanager
def switched(model: StyA2KNet, **settings):
    """Inference switches on an A2K network's three layers, restored on exit:

        with switched(net, use_pa=False): ...           # every layer
        with switched(net, region=(4, 4, 2)): ...       # per layer, strides 4, 8, 16

    use_da, use_pa (drop a branch), match_blocks (PA's step 1), heads, region (block side).
    """
    layers = model.layers()
    if model.attention != "a2k":
        raise StylelabError("switches apply to A2K layers; this network is all-to-all")
    unknown = [name for name in settings if name not in SWITCHES]
    if unknown:
        raise StylelabError(f"unknown switch {unknown[0]!r}; valid: {', '.join(SWITCHES)}")
    saved = [{name: getattr(layer, name) for name in settings} for layer in layers]
    try:
        for name, value in settings.items():
            values = value if isinstance(value, tuple | list) else (value,) * len(layers)
            for layer, v in zip(layers, values):
                if name == "heads":
                    check_heads(layer.channels, v)
                setattr(layer, name, v)
        yield model
    finally:
        for layer, old in zip(layers, saved):
            for name, v in old.items():
                setattr(layer, name, v)


def from_a2k_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """An A2K network's weights, mapped onto the all-to-all baseline: every weight outside the
    attention layers as it is, and each SANet's q, k, v, out from its A2K's distributed-
    attention q, k, v and fusion1 (DA is the branch closest to all-to-all attention; PA's
    weights and DA's gate are dropped)."""
    out = {k: v for k, v in state.items() if not k.startswith(("a2k3.", "a2k4.", "a2k5."))}
    for level in (3, 4, 5):
        for src, dst in (("q", "q"), ("k", "k"), ("v", "v"), ("fusion1", "out")):
            for kind in ("weight", "bias"):
                out[f"sanet{level}.{dst}.{kind}"] = state[f"a2k{level}.{src}.{kind}"]
    return out


def from_config(encoder: nn.Module, config: dict) -> StyA2KNet:
    """The StyA2KNet a config (a run's, or a manifest entry's) describes."""
    model = StyA2KNet(
        encoder,
        width=config.get("width", 0.25),
        heads=config.get("heads", 8),
        style_weight=config.get("style_weight", 10.0),
        attention_weight=config.get("attention_weight", 1.25),
        identity_weight=config.get("identity_weight", 0.0),
        shift_average=bool(config.get("shift_average") or False),
        attention=config.get("attention", "a2k"),
    )
    if config.get("attention_only"):
        model.freeze_all_but_attention()
    levels = config.get("levels")
    if levels is not None and levels != model.config()["levels"]:
        raise StylelabError(
            f"the config's levels {levels} do not match the {encoder.name} encoder's "
            f"{model.config()['levels']}: the weights were made for another encoder"
        )
    return model
