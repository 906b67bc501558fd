"""Training the offline image tower: a SigLIP loss between `StatsImageHead` and MiniLM captions.

    examples = render_examples("train", seed=0)          # images + labels (corpus.py)
    stats = head_statistics(head, examples)               # the frozen encoder runs once
    train_head(head, stats, labels, captions, ...)         # seconds: only the MLP trains

The encoder is frozen, so the per-tap mean/std of every training image is computed once and
cached; training then touches only the MLP (2·Σ C_tap -> 512 -> 384), which is why the tower
costs minutes, not hours. SigLIP's loss (Zhai et al. 2023) scores every image-caption pair in a
batch on its own, -log σ(z_ij (t·cos_ij + b)) with z_ij = +1 when caption j is true of image i,
-1 otherwise: several true captions per image (one painter, many wordings) are fine, where a
softmax (CLIP's loss) would want exactly one.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F

from stylelab import paintings
from stylelab.text import corpus
from stylelab.text.corpus import Label
from stylelab.training import data

SIZES = (128, 160, 224)  # the directional losses see 128-px crops and 224-256-px images
TRAIN_PER_CLASS = {"painting": 6, "stylized": 3}  # seeds >= FIRST_TRAIN_SEED
PHOTO_CROPS = 16  # random crops per training photo
HELD_OUT_SEEDS = (0, 1)  # painting seeds of the held-out paintings


def _crop(img: torch.Tensor, side: int, rng: np.random.Generator) -> torch.Tensor:
    """A random square crop of 50-100% of the short side, resized to `side`: (1,3,side,side)."""
    h, w = img.shape[-2:]
    c = int(min(h, w) * rng.uniform(0.5, 1.0))
    y, x = int(rng.integers(h - c + 1)), int(rng.integers(w - c + 1))
    crop = img[..., y : y + c, x : x + c]
    return F.interpolate(crop, size=(side, side), mode="bilinear", antialias=True,
                         align_corners=False)  # fmt: skip


def _photo(name: str) -> torch.Tensor:
    return data._bundled(name, 512)


def render_examples(split: str, seed: int = 0, adain=None) -> list[tuple[torch.Tensor, Label, str]]:
    """(image (1,3,S,S), label, kind) for split "train" or "held_out" (see corpus.py); kind is
    "painting", "stylized" or "photo"."""
    rng = np.random.default_rng(seed if split == "train" else 10_000 + seed)
    if adain is None:
        from stylelab.training import zoo

        adain = zoo.load("adain")
    photos = data.train_content_names() + data.EXTRA_TRAIN_CONTENT + corpus.TOWER_EXTRA_PHOTOS
    if split == "held_out":
        photos = data.EVAL_CONTENT
    out = []
    for label in corpus.all_classes():
        if split == "train":
            seeds = rng.integers(data.FIRST_TRAIN_SEED, 2**31, size=sum(TRAIN_PER_CLASS.values()))
            plain, styled = (
                seeds[: TRAIN_PER_CLASS["painting"]],
                seeds[TRAIN_PER_CLASS["painting"] :],
            )
        else:
            plain, styled = HELD_OUT_SEEDS, HELD_OUT_SEEDS[:1] * len(photos)
        for s in plain:
            side = int(corpus.pick(rng, SIZES))
            img = paintings.paint(label.painter, side, int(s), label.palette).tensor()
            out.append((img, label, "painting"))
        for i, s in enumerate(styled):
            side = int(corpus.pick(rng, SIZES))
            photo = photos[i % len(photos)] if split == "held_out" else corpus.pick(rng, photos)
            content = _crop(_photo(photo), side, rng)
            style = paintings.paint(label.painter, side, int(s), label.palette).tensor()
            out.append((adain.stylize(content, style), label, "stylized"))
    for name in photos:
        for _ in range(PHOTO_CROPS if split == "train" else 2):
            out.append((_crop(_photo(name), int(corpus.pick(rng, SIZES)), rng),
                        Label(None, None, name), "photo"))  # fmt: skip
    return out


@torch.no_grad()
def head_statistics(head, examples, augment_crop: bool = False, seed: int = 0) -> torch.Tensor:
    """(N, 2 Σ C_tap) encoder statistics of every example (and, with augment_crop, of a random
    crop of each, appended after them)."""
    rng = np.random.default_rng(seed)
    rows = [head.statistics(img) for img, *_ in examples]
    if augment_crop:
        rows += [head.statistics(_crop(img, max(96, img.shape[-1] * 5 // 8), rng))
                 for img, *_ in examples]  # fmt: skip
    return torch.cat(rows)


PAINTER_INDEX = {p: i for i, p in enumerate(paintings.PAINTERS)}
PALETTE_INDEX = {p: i for i, p in enumerate(paintings.PALETTES)}
SUBJECT_INDEX = {s: i for i, s in enumerate(dict.fromkeys(corpus.PHOTO_SUBJECTS.values()))}


def label_codes(labels: list[Label]) -> torch.Tensor:
    """(N, 3) integer codes (painter, palette, subject), -1 where absent: for `matches`."""
    return torch.tensor([
        [PAINTER_INDEX.get(lb.painter, -1), PALETTE_INDEX.get(lb.palette, -1),
         SUBJECT_INDEX.get(corpus.PHOTO_SUBJECTS.get(lb.photo), -1)]
        for lb in labels
    ])  # fmt: skip


def matches(image_codes: torch.Tensor, caption_codes: torch.Tensor) -> torch.Tensor:
    """(N, M) bool: caption j true of image i; the vectorised `Label.matches`."""
    ip, ipal, isub = (image_codes[:, k, None] for k in range(3))
    cp, cpal, csub = (caption_codes[None, :, k] for k in range(3))
    painted = (cp >= 0) & (ip == cp) & ((cpal < 0) | (cpal == ipal))
    photo = (cp < 0) & (ip < 0) & ((csub < 0) | (csub == isub))
    return painted | photo


def siglip_loss(img: torch.Tensor, txt: torch.Tensor, positive: torch.Tensor,
                log_scale: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:  # fmt: skip
    """SigLIP: mean over pairs of -log σ(z_ij (exp(log_scale) cos_ij + bias)), z = ±1."""
    logits = log_scale.exp() * img @ txt.T + bias  # (N, M)
    z = positive.float() * 2 - 1
    return -F.logsigmoid(z * logits).mean()


def train_head(head, stats, codes, caption_table, caption_embeddings, steps: int = 3000,
               batch: int = 256, lr: float = 1e-3, seed: int = 0, log=None) -> dict:  # fmt: skip
    """Fit head.mlp (and SigLIP's scale and bias) on cached statistics.

    stats (N, F), codes (N, 3) the image labels; caption_table: per image a LongTensor of the
    caption rows true of it (one is drawn per step); caption_embeddings (M, D) unit rows with
    their codes as `caption_embeddings.codes`. Returns the final scale, bias and time."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    head.set_standardisation(stats)
    log_scale = torch.nn.Parameter(torch.tensor(float(np.log(10.0))))
    bias = torch.nn.Parameter(torch.tensor(-10.0))
    params = [*head.mlp.parameters(), log_scale, bias]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    txt_all, txt_codes = caption_embeddings, caption_embeddings.codes
    start = time.perf_counter()
    for step in range(1, steps + 1):
        idx = torch.randint(len(stats), (batch,), generator=gen)
        pick = [int(t[torch.randint(len(t), (1,), generator=gen)]) for t in
                (caption_table[int(i)] for i in idx)]  # fmt: skip
        x = stats[idx] + 0.05 * torch.randn(batch, stats.shape[1], generator=gen) * head.scale
        img = head.embed_statistics(x)  # (B, D)
        loss = siglip_loss(img, txt_all[pick], matches(codes[idx], txt_codes[pick]),
                           log_scale, bias)  # fmt: skip
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if log is not None and (step % 250 == 0 or step == 1):
            log({"step": step, "loss": loss.item(), "scale": log_scale.exp().item(),
                 "bias": bias.item(), "seconds": time.perf_counter() - start})  # fmt: skip
    return {"scale": log_scale.exp().item(), "bias": bias.item(),
            "seconds": time.perf_counter() - start}  # fmt: skip


def captions_for(labels: list[Label]):
    """Every caption of every label: (texts, their Labels, per label a LongTensor of rows)."""
    texts, owners, table, index = [], [], [], {}
    own = {}
    for lb in labels:
        if lb.painter is None:
            pairs = corpus.photo_captions(lb.photo)
        else:
            key = (lb.painter, lb.palette)
            if key not in own:
                own[key] = corpus.canonical_caption(lb)
            pairs = corpus.painting_captions(lb.painter, lb.palette, own[key])
        rows = []
        for text, cl in pairs:
            if text not in index:
                index[text] = len(texts)
                texts.append(text)
                owners.append(cl)
            rows.append(index[text])
        table.append(torch.tensor(rows))
    return texts, owners, table
