"""Recipes: how each trainable model is built from its config.json.

A recipe turns a config (what `stylelab train MODEL` wrote to the run folder) into the model,
optimizer, scheduler, data and sample grid the `Trainer` runs. Adding a model: write a
`recipe_<name>(config, device) -> Recipe`, list it in `RECIPES`, and give its
hyperparameters' defaults in `DEFAULTS`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import nn

from stylelab.training.trainer import lr_factor


@dataclass
class Recipe:
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler | None
    data: Iterator
    sample_fn: Callable[[nn.Module], torch.Tensor] | None
    # filled into the zoo manifest: encoder name, model config, data description
    meta: dict


def adain_sample_fn(encoder_min_side: int, size: int):
    """A sample grid: rows = held-out photos, columns = [content, 3 held-out paintings' outputs],
    with the paintings themselves in the first row."""
    from stylelab.core import images
    from stylelab.training import data as data_mod

    side = max(size, encoder_min_side)

    def square(t):  # centre crop to a square, then resize: every cell the same size
        h, w = t.shape[-2:]
        k = min(h, w)
        t = t[..., (h - k) // 2 : (h - k) // 2 + k, (w - k) // 2 : (w - k) // 2 + k]
        return torch.nn.functional.interpolate(
            t, size=(side, side), mode="bilinear", align_corners=False, antialias=k > side
        )

    names = (*data_mod.EVAL_CONTENT, data_mod.train_content_names()[0])
    contents = [square(images.sample_content(n)) for n in names]
    paintings = [p.tensor() for p in data_mod.eval_styles(size=side, count=3)]

    def sample(model):
        device = next(model.parameters()).device
        blank = torch.ones(1, 3, side, side)
        rows = [torch.cat([blank, *paintings])]
        for c in contents:
            outs = [model.stylize(c.to(device), p.to(device)).cpu() for p in paintings]
            rows.append(torch.cat([c, *outs]))
        return torch.cat(rows)  # ((1 + contents) * (1 + paintings), 3, side, side)

    sample.nrow = 1 + len(paintings)
    return sample


def training_data(config: dict):
    """The photo and painting stream a config asks for (every image recipe uses the same):
    with both folders, the papers' data path (`folders.FolderBatches`: DataLoader workers,
    resize to load_size and crop, this process's share under torchrun); otherwise the
    book's sampler of bundled photos and procedural paintings, plus one folder if given."""
    from stylelab.training import data as data_mod

    if config["content_dir"] and config["style_dir"]:
        from stylelab.training import distributed
        from stylelab.training.folders import FolderBatches

        dist = distributed.from_env()
        return FolderBatches(
            config["content_dir"],
            config["style_dir"],
            size=config["size"],
            batch=config["batch"],
            seed=config["seed"],
            workers=config.get("workers", 0),
            load_size=config.get("load_size") or 2 * config["size"],
            rank=dist.rank,
            world=dist.world,
        )
    return data_mod.TrainingData(
        size=config["size"],
        batch=config["batch"],
        seed=config["seed"],
        content_dir=config["content_dir"],
        style_dir=config["style_dir"],
        pool_size=config["style_pool"],
    )


def recipe_adain(config: dict, device: torch.device) -> Recipe:
    from stylelab.adain import from_config
    from stylelab.encoders import load_encoder

    encoder = load_encoder(config["encoder"], device=str(device), seed=config["seed"])
    model = from_config(encoder, config).to(device)
    optimizer = torch.optim.Adam(model.decoder.parameters(), lr=config["lr"])
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(config))
    data = training_data(config)
    sample_fn = adain_sample_fn(int(getattr(encoder, "min_side", 32)), min(2 * config["size"], 256))
    meta = {
        "encoder": getattr(encoder, "name", config["encoder"]),
        "encoder_description": getattr(encoder, "description", ""),
        "config": model.config(),
        "data": data.describe(),
    }
    return Recipe(model, optimizer, scheduler, data, sample_fn, meta)


def adain_decoder_state(encoder, width: float) -> dict[str, torch.Tensor]:
    """The shipped AdaIN decoder's weights, checked to fit `encoder` at `width`."""
    from stylelab.core import weights
    from stylelab.core.errors import StylelabError

    entry = weights.manifest_entry("adain")
    if entry["encoder"] != encoder.name or entry["config"]["width"] != width:
        raise StylelabError(
            f"the shipped AdaIN decoder is for {entry['encoder']} at width "
            f"{entry['config']['width']}, not {encoder.name} at {width}: pass --width "
            f"{entry['config']['width']} or start without it (config init_adain: false)"
        )
    return weights.load_shipped("adain")


def network_recipe(model: nn.Module, encoder, config: dict, min_side: int) -> Recipe:
    """The part every network recipe shares: Adam over the trainable, non-encoder weights,
    the config's lr schedule, the data stream, the sample grid (sides >= min_side) and the
    manifest's meta."""
    trainable = [
        p for k, p in model.named_parameters() if not k.startswith("encoder.") and p.requires_grad
    ]
    optimizer = torch.optim.Adam(trainable, lr=config["lr"])
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(config))
    data = training_data(config)
    sample_fn = adain_sample_fn(min_side, min(2 * config["size"], 256))
    meta = {
        "encoder": encoder.name,
        "encoder_description": encoder.description,
        "config": model.config(),
        "data": data.describe(),
    }
    return Recipe(model, optimizer, scheduler, data, sample_fn, meta)


def recipe_a2k(config: dict, device: torch.device) -> Recipe:
    """StyA2K at book size (`stylelab.attention.net`), its decoder started from AdaIN's; with
    config attention "all_to_all" (model all_to_all), the same network with SANet layers."""
    from stylelab.attention.net import from_config
    from stylelab.core.errors import StylelabError
    from stylelab.encoders import load_encoder

    if config["size"] % 64:
        raise StylelabError(
            f"--size {config['size']}: StyA2K's blocks need crops that are multiples of 64 "
            f"(e.g. {max(64, config['size'] - config['size'] % 64)})"
        )
    encoder = load_encoder(config["encoder"], device=str(device), seed=config["seed"])
    model = from_config(encoder, config)
    if config.get("base"):  # fine-tune a shipped network's attention layers, the rest frozen
        from stylelab.training.runs import base_weights

        model.load_trainable_state_dict(base_weights(config["base"]))
        model.freeze_all_but_attention()
    elif config.get("init_adain", True) and not config.get("init_from"):
        model.init_from_adain(adain_decoder_state(encoder, model.width))
    return network_recipe(model.to(device), encoder, config, min_side=64)


def recipe_mamba_st(config: dict, device: torch.device) -> Recipe:
    """Mamba-ST at book size (`stylelab.ssm.mamba_st`): patch embedding, token encoders,
    ST-VSSM decoder blocks and the CNN decoder, all trained from scratch (the paper's
    loss weights, mechanisms §4.5)."""
    from stylelab.core.errors import StylelabError
    from stylelab.encoders import load_encoder
    from stylelab.ssm.mamba_st import PATCH, from_config

    if config["size"] % PATCH:
        raise StylelabError(
            f"--size {config['size']}: Mamba-ST's patch embedding needs crops that are "
            f"multiples of {PATCH} (e.g. {max(PATCH, config['size'] - config['size'] % PATCH)})"
        )
    encoder = load_encoder(config["encoder"], device=str(device), seed=config["seed"])
    return network_recipe(from_config(encoder, config).to(device), encoder, config, PATCH * 4)


def recipe_style_rwkv(config: dict, device: torch.device) -> Recipe:
    """StyleRWKV at book size (`stylelab.rwkv.style_rwkv`): a 4-level RWKV encoder shared by
    content and style, AdaIN at every level, an RWKV decoder with skips and a CNN head, all
    trained from scratch with the StyTr² loss (as Mamba-ST, so the two compare)."""
    from stylelab.core.errors import StylelabError
    from stylelab.encoders import load_encoder
    from stylelab.rwkv.style_rwkv import from_config

    encoder = load_encoder(config["encoder"], device=str(device), seed=config["seed"])
    model = from_config(encoder, config)
    if config["size"] % model.multiple:
        raise StylelabError(
            f"--size {config['size']}: StyleRWKV (patch {model.patch}, 4 levels) needs crops "
            f"that are multiples of {model.multiple}"
        )
    return network_recipe(model.to(device), encoder, config, model.multiple * 2)


RECIPES: dict[str, Callable[[dict, torch.device], Recipe]] = {
    "adain": recipe_adain,
    "a2k": recipe_a2k,
    "all_to_all": recipe_a2k,  # the same recipe; config["attention"] picks the layer
    "mamba_st": recipe_mamba_st,
    "style_rwkv": recipe_style_rwkv,
}


# hyperparameters each recipe reads from config.json; the CLI fills them
A2K_DEFAULTS = {
    "lr": 1e-4,
    "lr_decay": 5e-5,
    "style_weight": 10.0,
    "attention_weight": 1.25,
    "width": 0.25,
    "heads": 8,
    "shift_average": None,
    "identity_weight": 0.0,
    "init_adain": True,
}
DEFAULTS = {
    "mamba_st": {
        "lr": 2e-4,
        "lr_decay": 5e-5,
        "d_model": 128,
        "depth": 2,
        "d_state": 16,
        "width": 0.25,
        "shuffle": True,
        "init": "s4d",
        "decoder_drop_path": 0.1,
        # L = 7 Lc + 10 Ls + 70 Lid1 + 1 Lid2 (StyTr²'s weights, as the official code)
        "content_weight": 7.0,
        "style_weight": 10.0,
        "identity_weight": 70.0,
        "identity_features_weight": 1.0,
    },
    "style_rwkv": {
        "lr": 2e-4,
        "lr_decay": 5e-5,
        "dim": 32,
        "blocks": [1, 1, 1, 1],
        "patch": 8,
        "recurrence": 2,
        "shift": "deform",
        "scan": "s-scan",
        "skip": 2,
        "width": 0.25,
        # the StyTr² loss, as Mamba-ST (mechanisms §5.6 item 4)
        "content_weight": 7.0,
        "style_weight": 10.0,
        "identity_weight": 70.0,
        "identity_features_weight": 1.0,
    },
    "a2k": {**A2K_DEFAULTS, "attention": "a2k"},
    # the baseline: A2K's shipped network with SANet layers, only they train (`base`)
    "all_to_all": {**A2K_DEFAULTS, "attention": "all_to_all", "base": "a2k"},
    "adain": {
        "lr": 1e-4,
        "lr_decay": 5e-5,
        "style_weight": 10.0,
        "width": 0.25,
        "shift_average": None,
        "identity_weight": 0.0,
    },
}
