"""Training data for the feed-forward models: an endless, seeded, checkpointable sampler.

Content: the photos bundled with scikit-image, minus two held out for evaluation,
plus any folder the reader gives (MS-COCO train2014 when they have it).
Style: the procedural zoo (`paintings.paint`, random painter/palette/seed), minus
held-out seeds, plus any folder given (WikiArt when present).

Hold-out (decided here, used by the book's figures so they show *unseen* inputs):
- content photos `EVAL_CONTENT` = chelsea, coffee never appear in training;
- style seeds below `FIRST_TRAIN_SEED` (so `paintings.paint(name, seed=0..999)`,
  the book's default seeds) never appear in training; training seeds are drawn
  from [FIRST_TRAIN_SEED, 2**31).
Every painter and palette is seen in training: with a zoo of a few painters,
holding one out would remove a whole family of textures the decoder must learn
to draw; holding out seeds still tests unseen paintings.

Augmentation: a random square crop of 40-100 % of the short side (scale jitter),
a random horizontal flip, an antialiased resize to `size`. Style paintings are
pre-rendered into a pool at a few sizes (painting is the slow part) and a
fraction of the pool is repainted every `refresh_every` batches.

Determinism: all randomness comes from one numpy Generator owned by the sampler
(never the global RNGs), and `state_dict()` holds that generator's state, the
pool's recipe (painter, palette, seed, size per entry) and the batch count; the
pool itself is repainted from its recipe on `load_state_dict`, since `paint` is
a pure function of its arguments.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from stylelab import paintings
from stylelab.core import images
from stylelab.core.errors import StylelabError

EVAL_CONTENT = ("chelsea", "coffee")
# extra photos from scikit-image's local data folder (no download); grayscale ones become RGB in
# images.load_image. More layouts help a decoder that sees only four photos; textures (brick,
# grass, gravel) were tried and left out: they crowded out the photos in every batch.
EXTRA_TRAIN_CONTENT = ("motorcycle_right", "immunohistochemistry", "camera", "coins")
FIRST_TRAIN_SEED = 1000  # style seeds 0..999 are held out for evaluation
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
CROP_FRACTION = (0.4, 1.0)  # scale jitter: crop side / short side of the source


def train_content_names() -> tuple[str, ...]:
    return tuple(n for n in images.SAMPLE_CONTENT if n not in EVAL_CONTENT)


def eval_content(max_side: int | None = None) -> list[torch.Tensor]:
    """The held-out content photos, each (1,3,H,W)."""
    return [images.sample_content(n, max_side=max_side) for n in EVAL_CONTENT]


def eval_styles(size: int = 256, count: int = 3) -> list[paintings.Painting]:
    """Held-out paintings (seed 0, below FIRST_TRAIN_SEED), one per painter in turn."""
    return [
        paintings.paint(paintings.PAINTERS[i % len(paintings.PAINTERS)], size=size, seed=0)
        for i in range(count)
    ]


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files directly or recursively under `folder`, sorted (a stable order is a seed)."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise StylelabError(
            f"{root} is not a folder; give a folder of images (e.g. COCO train2014)"
        )
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise StylelabError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) under {root}")
    return files


@functools.lru_cache(maxsize=64)
def _bundled(name: str, max_side: int) -> torch.Tensor:
    """A bundled training photo, decoded once per process (samplers only read it)."""
    if name in images.SAMPLE_CONTENT:
        return images.sample_content(name, max_side=max_side)
    return images.resize_max_side(_load_extra(name), max_side)


def _load_extra(name: str) -> torch.Tensor:
    import skimage.data

    if name == "motorcycle_right":  # the right view of the stereo pair
        return images.load_image(skimage.data.stereo_motorcycle()[1])
    return images.load_image(getattr(skimage.data, name)())


@dataclass(frozen=True)
class StyleSpec:
    """The recipe of one pooled painting: paint(painter, size, seed, palette)."""

    painter: str
    palette: str
    seed: int
    size: int

    def render(self) -> torch.Tensor:
        return paintings.paint(
            self.painter, size=self.size, seed=self.seed, palette=self.palette
        ).tensor()


class TrainingData:
    """Endless (content, style) batches, each (batch, 3, size, size) float32 in [0,1] on CPU.

    >>> data = TrainingData(size=64, batch=2, seed=0)
    >>> content, style = next(data)
    """

    def __init__(
        self,
        size: int = 256,
        batch: int = 8,
        seed: int = 0,
        content_dir: str | None = None,
        style_dir: str | None = None,
        pool_size: int = 32,
        refresh_every: int = 100,
        refresh_fraction: float = 0.25,
        extra_content: bool = True,
    ):
        if size < 16 or batch < 1:
            raise StylelabError(f"need size >= 16 and batch >= 1, got size={size}, batch={batch}")
        self.size, self.batch, self.seed = int(size), int(batch), int(seed)
        self.pool_size, self.refresh_every = int(pool_size), int(refresh_every)
        self.refresh_count = max(1, int(round(refresh_fraction * pool_size)))
        # sources held in memory are small; folders are read per sample
        names = train_content_names() + (EXTRA_TRAIN_CONTENT if extra_content else ())
        self.content_images = [_bundled(n, 2 * self.size) for n in names]
        self.content_files = list_images(content_dir) if content_dir else []
        self.style_files = list_images(style_dir) if style_dir else []
        self.rng = np.random.default_rng(self.seed)
        self.batches_served = 0
        self.skipped: dict[str, str] = {}  # unreadable data-set files: path -> why
        self.pool_specs = [self._random_spec() for _ in range(self.pool_size)]
        self.pool = [s.render() for s in self.pool_specs]

    def describe(self) -> str:
        """One line for manifests and logs: what the sampler draws from."""
        parts = [
            f"content: {len(self.content_images)} bundled photos (held out: "
            f"{', '.join(EVAL_CONTENT)})"
        ]
        if self.content_files:
            parts.append(f"+ {len(self.content_files)} files")
        parts.append(
            f"; style: procedural zoo ({len(paintings.PAINTERS)} painters, seeds >= "
            f"{FIRST_TRAIN_SEED})"
        )
        if self.style_files:
            parts.append(f"+ {len(self.style_files)} files")
        return " ".join(parts)

    # -- sampling --
    def _random_spec(self) -> StyleSpec:
        rng = self.rng
        painter = paintings.PAINTERS[rng.integers(len(paintings.PAINTERS))]
        palettes = sorted(paintings.PALETTES)
        palette = palettes[rng.integers(len(palettes))]
        seed = int(rng.integers(FIRST_TRAIN_SEED, 2**31))
        # paint a little larger than the crop most of the time: crops then cover 40-100 %
        size = int(self.size * (1.0, 1.5, 2.0)[rng.integers(3)])
        return StyleSpec(painter, palette, seed, size)

    def _augment(self, img: torch.Tensor) -> torch.Tensor:
        """(1,3,H,W) -> (1,3,size,size): random square crop (scale jitter), flip, resize."""
        rng = self.rng
        h, w = img.shape[-2:]
        short = min(h, w)
        side = int(round(short * rng.uniform(*CROP_FRACTION)))
        side = max(min(short, 8), side)
        y, x = int(rng.integers(h - side + 1)), int(rng.integers(w - side + 1))
        crop = img[..., y : y + side, x : x + side]
        if rng.random() < 0.5:
            crop = crop.flip(-1)
        if side != self.size:
            crop = F.interpolate(
                crop,
                size=(self.size, self.size),
                mode="bilinear",
                align_corners=False,
                antialias=side > self.size,
            )
        return crop.clamp(0.0, 1.0)

    def _load(self, path: Path) -> torch.Tensor | None:
        """A data-set file, or None (counted in `skipped`) when it cannot be read: one corrupt
        image in a folder of thousands must not end a run of hours."""
        if str(path) in self.skipped:
            return None
        try:
            return images.load_image(path, max_side=2 * self.size)
        except (StylelabError, OSError, ValueError) as err:
            self.skipped[str(path)] = str(err).splitlines()[0][:200] if str(err) else repr(err)
            return None

    def _draw(self, in_memory: list[torch.Tensor], files: list[Path], what: str) -> torch.Tensor:
        """One augmented image from the images in memory and the data-set files, uniformly."""
        while True:  # a file that cannot be read is skipped: draw again
            k = int(self.rng.integers(len(in_memory) + len(files)))
            if k < len(in_memory):
                return self._augment(in_memory[k])
            img = self._load(files[k - len(in_memory)])
            if img is not None:
                return self._augment(img)
            self._check_some_readable(files, what)

    def _content(self) -> torch.Tensor:
        return self._draw(self.content_images, self.content_files, "content")

    def _style(self) -> torch.Tensor:
        return self._draw(self.pool, self.style_files, "style")

    def _check_some_readable(self, files: list[Path], what: str) -> None:
        if all(str(f) in self.skipped for f in files):
            raise StylelabError(
                f"none of the {len(files)} {what} files can be read (the first: "
                f"{next(iter(self.skipped.values()))}); check the folder"
            )

    def _refresh_pool(self) -> None:
        slots = self.rng.choice(self.pool_size, size=self.refresh_count, replace=False)
        for slot in sorted(int(s) for s in slots):
            self.pool_specs[slot] = self._random_spec()
            self.pool[slot] = self.pool_specs[slot].render()

    def __iter__(self):
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        if (
            self.batches_served
            and self.refresh_every
            and self.batches_served % self.refresh_every == 0
        ):
            self._refresh_pool()
        content = torch.cat([self._content() for _ in range(self.batch)])  # (B,3,S,S)
        style = torch.cat([self._style() for _ in range(self.batch)])  # (B,3,S,S)
        self.batches_served += 1
        return content, style

    # -- checkpointing --
    def state_dict(self) -> dict:
        return {
            "rng": self.rng.bit_generator.state,
            "batches_served": self.batches_served,
            "pool_specs": [vars(s).copy() for s in self.pool_specs],
            "skipped": dict(self.skipped),
            "settings": {
                "size": self.size,
                "batch": self.batch,
                "seed": self.seed,
                "pool_size": self.pool_size,
                "content_files": len(self.content_files),
                "style_files": len(self.style_files),
            },
        }

    def load_state_dict(self, state: dict) -> None:
        mine = self.state_dict()["settings"]
        if state["settings"] != mine:
            raise StylelabError(
                f"the checkpoint's data settings {state['settings']} differ from this run's "
                f"{mine}; resume with the same size, batch, seed and folders"
            )
        self.rng.bit_generator.state = state["rng"]
        self.batches_served = int(state["batches_served"])
        self.skipped = dict(state.get("skipped", {}))
        specs = [StyleSpec(**s) for s in state["pool_specs"]]
        # repaint only what changed (usually nothing when resuming from the same recipe)
        self.pool = [
            old if old_spec == spec else spec.render()
            for old, old_spec, spec in zip(self.pool, self.pool_specs, specs)
        ]
        self.pool_specs = specs
