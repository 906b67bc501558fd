"""Per-prompt optimisation: CLIPstyler's StyleNet or StyleMamba's fusion module, one content.

    run = stylize_text(content, "a stained glass window", method="stylemamba", steps=40)
    run.image          (1, 3, H, W) in [0, 1]
    run.history        one dict per step: step, seconds, total and every loss term
    run.frames         [(step, image)] every `frame_every` steps (the chapter's slider)

Both methods optimise per (content, prompt), as the papers' per-prompt regime (mechanisms §6.2
[R], ambiguity #20). CLIPstyler trains a U-Net from scratch (Adam 5e-4, StepLR(100, 0.5));
StyleMamba trains only the fusion module between the frozen encoder and the frozen AdaIN
decoder, so its step 0 is already the decoder's picture of the content.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from stylelab.core.checks import image_batch
from stylelab.core.errors import StylelabError
from stylelab.text.fusion import StyleFusion, StyleNet
from stylelab.text.objective import METHODS, TextObjective

DEFAULT_STEPS = {"stylemamba": 100, "clipstyler": 100}  # under a minute at 256 px, 2 cores
LR = {"clipstyler": 5e-4, "stylemamba": 1e-3}  # CLIPstyler's; ours for the fusion (2e-3 overshot)
STRIDE = 8  # the U-Net's three halvings and the encoder's content tap


@dataclass
class TextRun:
    image: torch.Tensor
    method: str
    prompt: str
    steps: int
    history: list[dict] = field(default_factory=list)
    frames: list[tuple[int, torch.Tensor]] = field(default_factory=list)
    space: str = ""

    def first_step_below(self, key: str, threshold: float) -> int | None:
        """The first step whose `key` loss is <= threshold (None: never)."""
        return next((h["step"] for h in self.history if h[key] <= threshold), None)


class CLIPStylerModel(torch.nn.Module):
    """Y = StyleNet(X)."""

    def __init__(self, content: torch.Tensor, prompt_embedding: torch.Tensor):
        super().__init__()
        self.net = StyleNet()

    def forward(self, content: torch.Tensor) -> torch.Tensor:
        return self.net(content)


class StyleMambaModel(torch.nn.Module):
    """Y = D(z + f(z, e_t)), z = E(X): encoder and AdaIN decoder frozen, f trains."""

    def __init__(self, content: torch.Tensor, prompt_embedding: torch.Tensor, adain):
        super().__init__()
        if adain is None:
            raise StylelabError(
                "StyleMamba decodes with the shipped AdaIN decoder: pass "
                "adain=stylelab.training.zoo.load('adain')"
            )
        self.adain = adain.eval().requires_grad_(False)
        tap = adain.content_tap
        with torch.no_grad():
            self.latent = adain.encode(content)[tap]  # (1, 192, H/8, W/8)
        self.text = prompt_embedding.detach()
        self.fusion = StyleFusion(self.latent.shape[1], self.text.shape[-1])

    def train(self, mode: bool = True):
        super().train(mode)
        self.adain.eval()
        return self

    def forward(self, content: torch.Tensor) -> torch.Tensor:
        return self.adain.decoder(self.fusion(self.latent, self.text))


def _pad(img: torch.Tensor) -> torch.Tensor:
    h, w = img.shape[-2:]
    return F.pad(img, (0, (-w) % STRIDE, 0, (-h) % STRIDE), mode="replicate")


def stylize_text(content: torch.Tensor, prompt: str, method: str = "stylemamba",
                 steps: int | None = None, space=None, seed: int = 0, frame_every: int = 0,
                 progress: bool = True, adain=None, lr: float | None = None,
                 second_order: str = "steps") -> TextRun:  # fmt: skip
    """Optimise `method`'s network for one content (1, 3, H, W) and one prompt."""
    if method not in METHODS:
        raise StylelabError(f"unknown text method {method!r}; choose one of {', '.join(METHODS)}")
    steps = DEFAULT_STEPS[method] if steps is None else int(steps)
    if steps < 1:
        raise StylelabError(f"steps must be at least 1, got {steps}")
    if space is None:
        from stylelab.text.space import load_space

        space = load_space()
    x = image_batch(content, "content image", "cpu")
    h, w = x.shape[-2:]
    x = _pad(x)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    objective = TextObjective(space, x, prompt, method, second_order=second_order, generator=gen)
    if method == "stylemamba":
        model = StyleMambaModel(x, space.prompt_embedding(prompt), adain=adain)
    else:
        model = CLIPStylerModel(x, space.prompt_embedding(prompt))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=LR[method] if lr is None else lr)
    sched = torch.optim.lr_scheduler.StepLR(opt, 100, 0.5)
    run = TextRun(image=x[..., :h, :w], method=method, prompt=prompt, steps=steps,
                  space=getattr(space, "description", type(space).__name__))  # fmt: skip
    bar = _bar(steps, progress, f"{method}: {prompt[:30]}")
    start = time.perf_counter()
    for step in range(1, steps + 1):
        y = model(x)
        loss, terms = objective(y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        run.history.append({"step": step, "seconds": time.perf_counter() - start,
                            "total": loss.item(), **terms})  # fmt: skip
        if frame_every and (step % frame_every == 0 or step == 1):
            run.frames.append((step, y.detach()[..., :h, :w].clamp(0, 1)))
        bar.update(1)
        bar.set_postfix(dir=f"{terms['dir']:.3f}", content=f"{terms['content']:.3f}")
    bar.close()
    with torch.no_grad():
        run.image = model.eval()(x)[..., :h, :w].clamp(0, 1)
    return run


def _bar(total: int, enabled: bool, desc: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, desc=desc, leave=False)


def optimise_pixels(space, content: torch.Tensor, prompt: str, loss: str = "naive",
                    steps: int = 30, lr: float = 0.01, seed: int = 0):  # fmt: skip
    """The chapter's warning: optimise the pixels of Y (from X) on one loss alone.

    loss "naive": 1 - cos(E_I(Y), t(prompt)), pull the image embedding onto the text's;
    loss "directional": CLIPstyler's L_dir. Returns (Y, {"cos_to_text", "dir", "pixel_change"}
    per step): the naive loss reaches the text with changes no one can see (an adversarial
    example), which is why CLIPstyler compares directions and adds crops."""
    from stylelab.text import directional as D

    if loss not in ("naive", "directional"):
        raise StylelabError(f"loss must be naive or directional, got {loss!r}")
    torch.manual_seed(seed)
    x = image_batch(content, "content image", "cpu")
    target, direction = space.prompt_embedding(prompt), space.text_direction(prompt)
    with torch.no_grad():
        source = space.encode_image(x)[0]
    y = x.clone().requires_grad_(True)
    opt = torch.optim.Adam([y], lr=lr)
    history = []
    for _ in range(steps):
        e = space.encode_image(y.clamp(0, 1))[0]
        naive = 1 - e @ target
        value = naive if loss == "naive" else D.directional_loss(e, source, direction)
        opt.zero_grad()
        value.backward()
        opt.step()
        history.append({"cos_to_text": 1 - naive.item(),
                        "dir": D.directional_loss(e, source, direction).item(),
                        "pixel_change": (y.detach() - x).abs().mean().item()})  # fmt: skip
    return y.detach().clamp(0, 1), history
