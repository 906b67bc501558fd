"""Gatys et al. style transfer: optimise the pixels of an image against perceptual losses.

    x* = argmin_x  w_c · L_c(x, c) + w_s · L_s(x, s) + w_tv · TV(x)      (perceptual.py)

No network is trained: every image is its own optimisation, which is why it is slow
(seconds per image on a CPU, against milliseconds for a feed-forward AdaIN decoder) and why
it is the reference that the fast methods of later chapters are compared with.

Parameterisation. The pixels must stay in [0, 1]. We optimise unconstrained logits y with
x = sigmoid(y) instead of clamping after each step: L-BFGS builds a curvature model from its
past steps and gradients, and a clamp moves x without telling it, so the stored steps no
longer match the gradients and the model goes stale. A smooth, unconstrained objective is
what L-BFGS assumes. The cost: sigmoid' is small near 0 and 1, so the content is squeezed into
[INIT_MARGIN, 1 − INIT_MARGIN] before taking logits, which keeps saturated pixels movable.

Scales. Content and style losses are divided by the size of their targets (losses.tap_balance
and the content energy), so `style_weight` means the same for a random-init VGG-19 and a
trained MobileNetV2, whose features differ in scale by orders of magnitude.

Defaults (measured at 128-192 px, see scripts/compare_encoders.py): style_weight 3 and a
small total-variation term (0.3). Without TV, L-BFGS fills the loss's null space (pixel-scale
detail that no tap constrains) with coloured noise. MobileNetV2 also needs shift averaging
(losses.shift_averaged): with TV but without it, the spectral peak at the Nyquist frequency
(the 2-px checkerboard) was 11x the band below it on average over 12 image pairs, against
0.85 with it and 0.79 for the photos themselves.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from stylelab.core.errors import StylelabError
from stylelab.losses.perceptual import (
    STYLE_KINDS,
    content_loss,
    one_pixel_shifts,
    style_loss,
    style_targets,
    tap_balance,
    total_variation,
)

INITS = ("content", "noise")
OPTIMIZERS = ("lbfgs", "adam")
INIT_MARGIN = 0.02  # content squeezed into [0.02, 0.98] before logit: sigmoid' >= 0.0196


@dataclass
class Result:
    """What `gatys_transfer` returns.

    image: (1, 3, H, W) float32 in [0, 1], detached, on the CPU.
    losses: one dict per step {"step", "total", "content", "style", "tv"} (weighted terms).
    seconds: wall time of the optimisation loop (targets and set-up included).
    settings: every argument that shaped the result, for captions and reproducibility.
    """

    image: torch.Tensor
    losses: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    settings: dict = field(default_factory=dict)


class GatysObjective:
    """The Gatys objective for one (content, style) pair, with targets computed once.

    With shift_average=True every evaluation runs the encoder on the 4 one-pixel shifts of
    the image at once (stacked on the batch axis, see losses.one_pixel_shifts) and averages;
    the content targets are the features of the same 4 shifts of the content image, and the
    style targets are averaged over the 4 shifts of the style image.
    """

    def __init__(
        self,
        encoder,
        content: torch.Tensor,  # (1, 3, H, W) in [0, 1]
        style: torch.Tensor,  # (1, 3, Hs, Ws) in [0, 1]
        *,
        content_weight: float = 1.0,
        style_weight: float = 3.0,
        tv_weight: float = 0.3,
        kind: str = "gram",
        shift_average: bool = False,
    ):
        self.encoder = encoder
        self.kind = kind
        self.shift_average = shift_average
        self.content_weight = content_weight
        self.style_weight = style_weight
        self.tv_weight = tv_weight
        self.content_tap = encoder.content_tap
        self.style_taps = list(encoder.style_taps)
        self.taps = list(dict.fromkeys([self.content_tap, *self.style_taps]))
        with torch.no_grad():
            c_feats = encoder(self._views(content), taps=[self.content_tap])
            s_feats = encoder(self._views(style), taps=self.style_taps)
        self.content_target = {self.content_tap: c_feats[self.content_tap]}  # (V, C, h, w)
        # Style statistics averaged over the views: one target per tap, shape (1, C, C) etc.
        self.style_target = _mean_over_views(style_targets(s_feats, self.style_taps, kind))
        # Relative errors, see losses.tap_balance: the weights are constants, not learned.
        self.tap_weights = tap_balance(self.style_target, kind)
        self.content_norm = 1.0 / max(float(c_feats[self.content_tap].pow(2).mean()), 1e-12)

    def _views(self, x: torch.Tensor) -> torch.Tensor:
        # (1, 3, H, W) -> (4, 3, H-1, W-1) with shift averaging, else unchanged
        return one_pixel_shifts(x) if self.shift_average else x

    def __call__(self, image: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """image (1, 3, H, W) in [0, 1] -> (total loss scalar, {"content", "style", "tv"})."""
        feats = self.encoder(self._views(image), taps=self.taps)  # {tap: (V, C, h, w)}
        # Mean over the V views: content MSE already averages over them; style losses compare
        # each view's statistics with the shared target (broadcast) and MSE averages too.
        lc = content_loss(feats, self.content_target, self.content_tap) * self.content_norm
        ls = style_loss(feats, self.style_target, self.kind, self.tap_weights)
        ltv = total_variation(image) if self.tv_weight else image.new_zeros(())
        parts = {
            "content": self.content_weight * lc,
            "style": self.style_weight * ls,
            "tv": self.tv_weight * ltv,
        }
        return parts["content"] + parts["style"] + parts["tv"], parts


def gatys_transfer(
    content,
    style,
    encoder="auto",
    *,
    steps: int = 150,
    size: int | None = 256,
    style_weight: float = 3.0,
    content_weight: float = 1.0,
    tv_weight: float = 0.3,
    style_loss: str = "gram",
    init: str = "content",
    optimizer: str = "lbfgs",
    lr: float | None = None,
    shift_average: bool | None = None,
    seed: int = 0,
    progress: bool = True,
    callback: Callable[[int, torch.Tensor, dict], None] | None = None,
) -> Result:
    """Stylise `content` with `style` by optimising the pixels (Gatys et al. 2016).

    content, style: anything `images.load_image` takes (path, PIL, array, (1,3,H,W) tensor).
    encoder: an `Encoder` or a name for `encoders.load_encoder` ("auto", "vgg19", ...).
    steps: optimiser iterations; each is one forward and backward pass through the encoder.
    size: shrink content and style so their longest side is at most this (None: as given).
    style_loss: "gram" (Gatys) or "mean_std" (AdaIN's statistics).
    init: "content" (start from the photo; fewer steps) or "noise" (seeded uniform noise).
    optimizer: "lbfgs" (lr default 1) or "adam" (lr default 0.05, in logit space).
    shift_average: average the loss over the 4 one-pixel shifts; None = on for encoders whose
        name contains "mobilenet" (their stride-2 convolutions leave a 2-pixel checkerboard).
    callback(step, image, losses): called after every step with the current (1,3,H,W) image.
    """
    _check_choices(steps, style_loss, init, optimizer, style_weight, content_weight, tv_weight)
    encoder = _resolve_encoder(encoder)
    device = next(encoder.parameters()).device  # Encoders always hold their weights
    c = _load(content, size, "content", encoder).to(device)  # (1, 3, H, W)
    s = _load(style, size, "style", encoder).to(device)  # (1, 3, Hs, Ws)
    if shift_average is None:
        shift_average = "mobilenet" in str(getattr(encoder, "name", "")).lower()
    settings = dict(
        encoder=getattr(encoder, "description", type(encoder).__name__),
        steps=steps,
        size=tuple(c.shape[-2:]),
        style_weight=style_weight,
        content_weight=content_weight,
        tv_weight=tv_weight,
        style_loss=style_loss,
        init=init,
        optimizer=optimizer,
        lr=lr,
        shift_average=bool(shift_average),
        seed=seed,
        threads=torch.get_num_threads(),
    )

    start = time.perf_counter()
    generator = torch.Generator().manual_seed(seed)
    objective = GatysObjective(
        encoder,
        c,
        s,
        content_weight=content_weight,
        style_weight=style_weight,
        tv_weight=tv_weight,
        kind=style_loss,
        shift_average=bool(shift_average),
    )
    logits = _initial_logits(c, init, generator).requires_grad_(True)  # (1, 3, H, W)
    opt = _make_optimizer(optimizer, logits, lr)

    losses: list[dict] = []
    last: dict = {}

    def closure():
        opt.zero_grad()
        total, parts = objective(torch.sigmoid(logits))
        total.backward()
        last.update(total=total.item(), **{k: v.item() for k, v in parts.items()})
        return total

    with tqdm(range(1, steps + 1), desc="Gatys", disable=not progress) as bar:
        for step in bar:
            opt.step(closure)
            if not (math.isfinite(last["total"]) and torch.isfinite(logits).all()):
                raise StylelabError(
                    f"the optimisation diverged at step {step} (loss {last['total']}); lower "
                    f"style_weight (now {style_weight}) or lr, or use optimizer='lbfgs'"
                )
            losses.append({"step": step, **last})
            bar.set_postfix(loss=f"{last['total']:.4g}")
            if callback is not None:
                callback(step, torch.sigmoid(logits).detach(), dict(losses[-1]))
    image = torch.sigmoid(logits).detach().cpu()
    return Result(
        image=image, losses=losses, seconds=time.perf_counter() - start, settings=settings
    )


def _initial_logits(c: torch.Tensor, init: str, generator: torch.Generator) -> torch.Tensor:
    if init == "content":
        x = c.detach().clone()
    else:  # seeded on the CPU so the start is the same on every device
        x = torch.rand(c.shape, generator=generator).to(c.device)
    return torch.logit(x.clamp(INIT_MARGIN, 1 - INIT_MARGIN))


def _make_optimizer(name: str, param: torch.Tensor, lr: float | None):
    if name == "lbfgs":
        # max_iter=1: one iteration per .step(), so the progress bar and loss curve see every
        # step; the history (history_size pairs) survives between calls in opt.state.
        # No line search, unit step (as in Johnson's neural-style): with max_iter=1 a
        # strong-Wolfe search evaluates the new point and the next .step() evaluates it again,
        # which doubled the cost for the same loss (measured: 120 vs 60 evaluations for 60
        # steps, final loss 0.243 vs 0.246). A diverging step is caught by the finite check.
        return torch.optim.LBFGS([param], lr=lr or 1.0, max_iter=1, history_size=50)
    return torch.optim.Adam([param], lr=lr or 0.05)


def _resolve_encoder(encoder):
    if isinstance(encoder, str):
        from stylelab.encoders import load_encoder

        return load_encoder(encoder)
    if not isinstance(encoder, torch.nn.Module) or not hasattr(encoder, "content_tap"):
        raise StylelabError(
            f"encoder must be an Encoder from stylelab.encoders.load_encoder or its name, "
            f"got {type(encoder).__name__}"
        )
    return encoder


def _load(src, size: int | None, what: str, encoder) -> torch.Tensor:
    from stylelab.core.images import load_image

    if size is not None and (not isinstance(size, int) or size < 1):
        raise StylelabError(f"size must be a positive int (longest side in pixels), got {size!r}")
    x = load_image(src, max_side=size)  # shrinks only: enlarging would invent no detail
    # +1: shift averaging crops one row and column off (losses.one_pixel_shifts).
    min_side = int(getattr(encoder, "min_side", 1)) + 1
    if min(x.shape[-2:]) < min_side:
        raise StylelabError(
            f"the {what} image is {tuple(x.shape[-2:])} pixels; this encoder needs at least "
            f"{min_side} on each side. Pass a larger image or a larger size."
        )
    return x


def _check_choices(steps, style_loss, init, optimizer, style_weight, content_weight, tv_weight):
    if not isinstance(steps, int) or steps < 1:
        raise StylelabError(f"steps must be a positive int, got {steps!r}")
    for value, options, what in (
        (style_loss, STYLE_KINDS, "style_loss"),
        (init, INITS, "init"),
        (optimizer, OPTIMIZERS, "optimizer"),
    ):
        if value not in options:
            raise StylelabError(f"unknown {what} {value!r}; choose one of {', '.join(options)}")
    for value, what in (
        (style_weight, "style_weight"),
        (content_weight, "content_weight"),
        (tv_weight, "tv_weight"),
    ):
        if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
            raise StylelabError(f"{what} must be a finite number >= 0, got {value!r}")


def _mean_over_views(targets: dict) -> dict:
    """Average per-view statistics (V, ...) to one target (1, ...) per tap."""
    out = {}
    for tap, t in targets.items():
        if isinstance(t, tuple):
            out[tap] = tuple(p.mean(0, keepdim=True) for p in t)
        else:
            out[tap] = t.mean(0, keepdim=True)
    return out
