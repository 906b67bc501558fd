"""Folder data sets (COCO, WikiArt) for the papers' recipes, loaded by DataLoader workers.

    data = FolderBatches("coco/train2014", "wikiart/train", size=256, batch=8, seed=0,
                         workers=4, load_size=512)
    content, style = next(data)                 # (8, 3, 256, 256) each, in [0, 1]

Every sample is a pure function of (seed, its global index): which content and style file,
and the paper's augmentation (resize to load_size x load_size, random crop size x size,
random horizontal flip), all drawn from `numpy.random.default_rng([seed, index])`. So it does
not matter which DataLoader worker loads it or which torchrun process asks for it: N processes
each loading their share of a global batch see the very samples one process would, and a
resume needs only the step (`state_dict`).

An unreadable file is skipped (the sample draws another pair from its own generator) and
counted: `skipped` holds the files found unreadable so far, as the trainer logs them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from stylelab.core import images
from stylelab.core.errors import StylelabError
from stylelab.training.data import list_images

MAX_TRIES = 100  # redraws of one sample before a folder is declared unreadable


class FolderPairs(torch.utils.data.Dataset):
    """Sample i = (content, style, unreadable files met), each image (3, size, size)."""

    def __init__(self, content_files, style_files, size: int, load_size: int, seed: int):
        if load_size < size:
            raise StylelabError(f"load size {load_size} is smaller than the crop {size}")
        self.content_files, self.style_files = list(content_files), list(style_files)
        self.size, self.load_size, self.seed = int(size), int(load_size), int(seed)

    def __len__(self) -> int:  # endless in practice: indices are step * batch + j
        return 2**62

    def _augment(self, img: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        """(1, 3, H, W) -> (3, size, size): resize to load_size², random crop, random flip."""
        img = F.interpolate(
            img, size=(self.load_size, self.load_size), mode="bilinear", antialias=True
        )
        y, x = (int(rng.integers(self.load_size - self.size + 1)) for _ in range(2))
        crop = img[0, :, y : y + self.size, x : x + self.size]
        return (crop.flip(-1) if rng.random() < 0.5 else crop).clamp(0.0, 1.0)

    def _draw(self, files: list[Path], rng: np.random.Generator, bad: list[str]):
        for _ in range(MAX_TRIES):
            path = files[int(rng.integers(len(files)))]
            try:
                return self._augment(images.load_image(path), rng)
            except (StylelabError, OSError, ValueError):
                bad.append(str(path))
        raise StylelabError(
            f"{MAX_TRIES} files in a row could not be read (the last: {bad[-1]}); check the folder"
        )

    def __getitem__(self, index: int):
        rng = np.random.default_rng([self.seed, int(index)])
        bad: list[str] = []
        content = self._draw(self.content_files, rng, bad)
        style = self._draw(self.style_files, rng, bad)
        return content, style, bad


class StepSampler(torch.utils.data.Sampler):
    """The index lists of one process's share of each global batch, from `start_step` on."""

    def __init__(self, batch: int, rank: int = 0, world: int = 1, start_step: int = 0):
        self.share = batch // world
        self.batch, self.rank, self.step = batch, rank, start_step

    def __iter__(self):
        step = self.step
        while True:
            first = step * self.batch + self.rank * self.share
            yield list(range(first, first + self.share))
            step += 1


def _collate(samples):
    contents, styles, bad = zip(*samples)
    return torch.stack(contents), torch.stack(styles), [p for b in bad for p in b]


class FolderBatches:
    """Endless (content, style) batches of this process's share, loaded by `workers`
    processes (0: in this one). `batch` is the global batch; `rank`/`world` pick the share
    (see `stylelab.training.distributed`), so the trainer must not shard again."""

    sharded = True  # the trainer's cue: these batches are this process's share already

    def __init__(
        self,
        content_dir,
        style_dir,
        size: int = 256,
        batch: int = 8,
        seed: int = 0,
        workers: int = 0,
        load_size: int = 512,
        rank: int = 0,
        world: int = 1,
    ):
        if batch % world:
            raise StylelabError(f"batch {batch} does not split over {world} processes")
        self.dataset = FolderPairs(
            list_images(content_dir), list_images(style_dir), size, load_size, seed
        )
        self.batch, self.workers, self.rank, self.world = batch, int(workers), rank, world
        self.step, self.skipped, self._it = 0, {}, None

    def describe(self) -> str:
        d = self.dataset
        return (
            f"content: {len(d.content_files)} files; style: {len(d.style_files)} files; "
            f"resized to {d.load_size}², random {d.size}² crops and flips"
        )

    def _iterator(self):
        sampler = StepSampler(self.batch, self.rank, self.world, self.step)
        loader = torch.utils.data.DataLoader(
            self.dataset,
            batch_sampler=sampler,
            num_workers=self.workers,
            collate_fn=_collate,
            persistent_workers=self.workers > 0,
        )
        return iter(loader)

    def __iter__(self):
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self._it is None:
            self._it = self._iterator()
        content, style, bad = next(self._it)
        for path in bad:
            self.skipped.setdefault(path, "unreadable")
        self.step += 1
        return content, style

    def state_dict(self) -> dict:
        return {"step": self.step, "skipped": dict(self.skipped)}

    def load_state_dict(self, state: dict) -> None:
        self.step, self.skipped, self._it = int(state["step"]), dict(state["skipped"]), None
