"""The text-guided objectives around the towers: crops, masks, content and weights.

    objective = TextObjective(space, content, prompt, method="stylemamba")
    loss, terms = objective(output)            # terms: dir, patch|masked, so, content, tv

CLIPstyler (mechanisms §6.1, exactly, with the sizes scaled for a CPU; see `CROPS`):
    9000 L_patch + 500 L_dir + 1500 L_c + 2e-3 L_tv      (L_c: 150 in the paper, see WEIGHTS)
StyleMamba (§6.2 [R], CLIPstyler's weights with the patch weight on the masked loss):
    9000 L_md + 500 L_so + 500 L_dir + 1500 L_c + 2e-3 L_tv

Content layers: the offline encoder's block6_expand (stride 8, 192 channels, the AdaIN content
tap, "like relu4_1") and block13_expand (stride 16, 576 channels) stand in for VGG's conv4_2
and conv5_2: the same two strides.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchvision.transforms import RandomPerspective
from torchvision.transforms.functional import perspective

from stylelab.core.errors import StylelabError
from stylelab.text import directional as D
from stylelab.text.prompts import check_prompt

METHODS = ("stylemamba", "clipstyler")
# CLIPstyler's weights, except content: 1500, not 150, for both methods. Our content loss is an
# MSE on MobileNetV2 features, not VGG's, so its scale differs (mechanisms §7 #22: rescale
# empirically); at 150 both methods lost the cat on chapter 7's test prompt, at 1500 both keep it.
WEIGHTS = {
    "clipstyler": {"patch": 9000.0, "dir": 500.0, "content": 1500.0, "tv": 2e-3},
    "stylemamba": {"masked": 9000.0, "so": 500.0, "dir": 500.0, "content": 1500.0, "tv": 2e-3},
}
CONTENT_TAPS = ("block6_expand", "block13_expand")
# CLIPstyler: 64 crops of 128 px from a 512-px output, each resized to 224 for CLIP. Here: 8
# crops of half the output's side, at that size (the stats head takes any size): 1/8 of the
# crops at 1/3 of the pixels each, so a step costs ~1 s on 2 cores instead of ~30 s.
CROPS = 8
MASKS = 8  # StyleMamba [R]: 8 masks of an 8x8 grid, keep 0.5, embedded at half the side
PERSPECTIVE = 0.5  # RandomPerspective(distortion_scale=0.5, p=1), CLIPstyler's


class TextObjective:
    """L(Y) for one content X and one prompt, in one space; X's embeddings computed once."""

    def __init__(self, space, content: torch.Tensor, prompt: str, method: str = "stylemamba",
                 second_order: str = "steps", weights: dict | None = None,
                 generator: torch.Generator | None = None):  # fmt: skip
        if method not in METHODS:
            raise StylelabError(f"unknown text method {method!r}; choose one of {METHODS}")
        if second_order not in ("steps", "pairs", "none"):
            raise StylelabError(f"second_order must be steps, pairs or none, got {second_order!r}")
        self.space, self.method, self.second_order = space, method, second_order
        self.prompt = check_prompt(prompt)
        self.weights = dict(WEIGHTS[method] if weights is None else weights)
        self.gen = generator or torch.Generator().manual_seed(0)
        self.content, self.content_encoder = content, None
        self.direction = space.text_direction(self.prompt)  # ΔT (D,)
        with torch.no_grad():
            self.source, self.content_feats = self._encode(content)  # (1, D), {tap: ...}
        self.previous = None  # ΔI_{k-1} for the second-order loss (a)

    def _encode(self, images):
        """E_I(images) (N, D) and the content taps, from one encoder pass when the space
        offers it (the offline space's head reads the same encoder)."""
        if hasattr(self.space, "encode_with_features"):
            return self.space.encode_with_features(images, CONTENT_TAPS)
        if self.content_encoder is None:  # another space (CLIP): the offline encoder's taps
            from stylelab.encoders import load_encoder

            self.content_encoder = load_encoder("mobilenetv2")
        feats = self.content_encoder(images, taps=list(CONTENT_TAPS))
        return self.space.encode_image(images), feats

    def crops(self, output: torch.Tensor) -> torch.Tensor:
        """CROPS random square crops of half the side, each through a random perspective."""
        _, _, h, w = output.shape
        side = max(32, min(h, w) // 2)
        out = []
        for _ in range(CROPS):
            y = int(torch.randint(h - side + 1, (1,), generator=self.gen))
            x = int(torch.randint(w - side + 1, (1,), generator=self.gen))
            crop = output[..., y : y + side, x : x + side]
            start, end = _perspective_params(side, self.gen)
            out.append(perspective(crop, start, end, fill=0.0))
        return torch.cat(out)  # (CROPS, 3, side, side)

    def masked(self, output: torch.Tensor):
        """(M⊙Y, M⊙X) for MASKS random masks, each at half the side."""
        _, _, h, w = output.shape
        masks = D.random_masks(MASKS, h, w, generator=self.gen)
        my, mx = D.apply_masks(masks, output, self.content.expand_as(output))
        half = (max(32, h // 2), max(32, w // 2))
        return _resize(my, half), _resize(mx, half)

    def __call__(self, output: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """output Y (1, 3, H, W) -> (weighted total, {term: value})."""
        emb, feats = self._encode(output)  # (1, D)
        terms = {"dir": D.directional_loss(emb, self.source[0], self.direction)}
        terms["content"] = sum(F.mse_loss(feats[t], self.content_feats[t]) for t in CONTENT_TAPS)
        terms["tv"] = D.total_variation(output)
        if self.method == "clipstyler":
            crops = self.space.encode_image(self.crops(output))
            terms["patch"] = D.patch_loss(crops, self.source[0], self.direction)
        else:
            my, mx = self.masked(output)
            with torch.no_grad():
                ex = self.space.encode_image(mx)
            terms["masked"] = D.masked_directional_loss(self.space.encode_image(my), ex,
                                                        self.direction)  # fmt: skip
            terms["so"] = self._second_order(emb, output)
        total = sum(self.weights.get(k, 0.0) * v for k, v in terms.items())
        return total, {k: float(v.detach()) for k, v in terms.items()}

    def _second_order(self, emb, output) -> torch.Tensor:
        if self.second_order == "none":
            return emb.new_zeros(())
        if self.second_order == "pairs":  # (b) on the left and right halves of the content
            half = output.shape[-1] // 2
            ys = torch.cat([output[..., :half], output[..., half : 2 * half]])
            with torch.no_grad():
                ex = self.space.encode_image(
                    torch.cat([self.content[..., :half], self.content[..., half : 2 * half]])
                )
            ey = self.space.encode_image(ys)  # (2, D)
            return D.second_order_pairs(ey[0], ey[1], ex[0], ex[1])
        delta = D.unit(emb[0] - self.source[0])  # ΔI_k
        previous, self.previous = self.previous, delta.detach()
        if previous is None:  # step 1 has no earlier direction
            return emb.new_zeros(())
        return D.second_order_steps(delta, previous, self.direction)


def _resize(x: torch.Tensor, size) -> torch.Tensor:
    return F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)


def _perspective_params(side: int, gen: torch.Generator):
    """RandomPerspective.get_params with our generator (its own draws use the global RNG)."""
    state = torch.get_rng_state()
    torch.manual_seed(int(torch.randint(2**31, (1,), generator=gen)))
    params = RandomPerspective.get_params(side, side, PERSPECTIVE)
    torch.set_rng_state(state)
    return params
