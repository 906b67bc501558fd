"""Figures of chapter 7 (painting from words): the space's similarity matrix, masks, results."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from stylelab import paintings
from stylelab.core import images
from stylelab.text import corpus


def held_out_gallery(side: int = 160, photos=("chelsea", "coffee")):
    """One held-out painting per painter (seed 0, default palette) and the held-out photos:
    (images (N, 3, side, side), names)."""
    imgs = [paintings.paint(p, side, seed=0).tensor() for p in paintings.PAINTERS]
    imgs += [_square(images.sample_content(n), side) for n in photos]
    return torch.cat(imgs), list(paintings.PAINTERS) + list(photos)


def _square(img: torch.Tensor, side: int) -> torch.Tensor:
    h, w = img.shape[-2:]
    c = min(h, w)
    img = img[..., (h - c) // 2 : (h - c) // 2 + c, (w - c) // 2 : (w - c) // 2 + c]
    return torch.nn.functional.interpolate(img, size=(side, side), mode="bilinear",
                                           antialias=True, align_corners=False)  # fmt: skip


def prompt_matrix(space, prompts, gallery) -> np.ndarray:
    """cos(E_T(prompt), E_I(image)): (prompts, images)."""
    with torch.no_grad():
        return (space.encode_text(list(prompts)) @ space.encode_image(gallery).T).numpy()


def plot_matrix(sims, prompts, names, title: str):
    fig, ax = plt.subplots(figsize=(9.5, 5.6), dpi=110)
    im = ax.imshow(sims, cmap="viridis")
    ax.set_xticks(range(len(names)), names, rotation=35, ha="right", fontsize=9)
    ax.set_yticks(range(len(prompts)), [p[:46] for p in prompts], fontsize=9)
    for i, j in zip(*np.unravel_index(np.arange(sims.size), sims.shape)):
        best = sims[i].argmax() == j
        ax.text(j, i, f"{sims[i, j]:.2f}", ha="center", va="center", fontsize=7.5,
                color="black" if best else "white", fontweight="bold" if best else None)  # fmt: skip
    fig.colorbar(im, ax=ax, shrink=0.8, label="cosine")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def nearest_paintings(space, prompts, side: int = 96, k: int = 3):
    """For each prompt, the k nearest of the 80 held-out seed-0 paintings (every painter x
    palette): [(prompt, [(caption, cosine, image)])]."""
    labels = corpus.all_classes()
    gallery = [paintings.paint(lb.painter, side, 0, lb.palette) for lb in labels]
    with torch.no_grad():
        emb = space.encode_image(torch.cat([g.tensor() for g in gallery]))
        sims = space.encode_text(list(prompts)) @ emb.T  # (P, 80)
    out = []
    for p, row in zip(prompts, sims):
        top = row.topk(k)
        out.append((p, [(gallery[j].caption, float(v), gallery[j].tensor())
                        for v, j in zip(top.values, top.indices)]))  # fmt: skip
    return out


def bench_results(path: Path):
    """data/bench/text.json and its images folder -> (result, {(photo, prompt, method): img})."""
    result = json.loads(Path(path).read_text())
    folder = Path(path).parent / result["images"]
    imgs = {(r["photo"], r["prompt"], r["method"]): images.load_image(folder / r["image"])
            for r in result["runs"]}  # fmt: skip
    return result, imgs


def results_grid(result, imgs, photo: str):
    """Rows: prompts; columns: the photo, StyleMamba, CLIPstyler (both after the same steps)."""
    prompts = result["prompts"]
    fig, axes = plt.subplots(len(prompts), 3, figsize=(10, 3.1 * len(prompts)), dpi=100)
    content = images.sample_content(photo, max_side=result["size"])
    for i, p in enumerate(prompts):
        row = [content, imgs[(photo, p, "stylemamba")], imgs[(photo, p, "clipstyler")]]
        runs = {r["method"]: r for r in result["runs"] if r["photo"] == photo and r["prompt"] == p}
        titles = [f'"{p}"', f"StyleMamba: dir {runs['stylemamba']['final_dir']:.2f}, content "
                  f"{runs['stylemamba']['final_content']:.2f}", f"CLIPstyler: dir "
                  f"{runs['clipstyler']['final_dir']:.2f}, content "
                  f"{runs['clipstyler']['final_content']:.2f}"]  # fmt: skip
        for ax, img, t in zip(axes[i], row, titles):
            ax.imshow(img[0].permute(1, 2, 0).clamp(0, 1).numpy())
            ax.set_title(t, fontsize=9)
            ax.axis("off")
    fig.tight_layout()
    return fig
