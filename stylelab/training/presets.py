"""Recipes by name: `stylelab train MODEL --preset book|paper`.

    book   the recipe of the weights this repository ships (small decoder, 128-px crops,
           the offline MobileNetV2 encoder, bundled photos and procedural paintings)
    paper  the paper's recipe (mechanisms.md §2.4, §3.4): ImageNet VGG-19, 256-px crops of
           images resized to 512, COCO and WikiArt folders, the paper's batch, schedule and
           steps. It wants a GPU: `--dry-run` times a few steps and says how long it would take.

A preset fills what the command line leaves out: a flag given explicitly always wins.
Keys that are flags (steps, size, batch, ...) go through argparse; the rest (lr schedule,
loss weights, load size) go straight into config.json.
"""

from __future__ import annotations

from stylelab.core.errors import StylelabError

COCO_EPOCH = 82_783  # MS-COCO train2014 images: an epoch, in samples

PRESETS: dict[str, dict[str, dict]] = {
    "adain": {
        "book": {  # stage 1 of the shipped run (data/training/adain; stage 2 adds identity)
            "encoder": "mobilenetv2", "width": 0.25, "size": 128, "batch": 4, "lr": 1e-3,
            "steps": 9200, "style_weight": 10.0, "shift_average": "on",
        },
        "paper": {  # Huang & Belongie 2017, the authors' Torch release (§2.4)
            "encoder": "vgg19", "width": 1.0, "size": 256, "batch": 8, "lr": 1e-4,
            "lr_decay": 5e-5, "steps": 160_000, "style_weight": 10.0, "shift_average": "off",
            "load_size": 512, "source": "mechanisms.md §2.4",
        },
    },
    "a2k": {
        "book": {  # the shipped run (data/training/a2k)
            "encoder": "mobilenetv2", "width": 0.25, "size": 128, "batch": 4, "lr": 2e-4,
            "steps": 3744, "style_weight": 10.0, "shift_average": "on",
        },
        "paper": {  # Zhu et al. 2023, the official train_A2K.sh (§3.4): 5 COCO epochs
            "encoder": "vgg19", "width": 1.0, "size": 256, "batch": 8, "lr": 2e-4,
            "steps": 5 * COCO_EPOCH // 8, "style_weight": 10.0, "attention_weight": 1.25,
            "heads": 8, "shift_average": "off", "load_size": 512,
            # lr constant for 2 epochs, then x0.3 per epoch (the code; the paper says linear)
            "lr_schedule": "epochs", "epoch_steps": COCO_EPOCH // 8, "lr_epoch_factor": 0.3,
            "lr_constant_epochs": 2, "init_adain": False, "source": "mechanisms.md §3.4",
        },
    },
    "all_to_all": {
        "book": {  # the shipped baseline: A2K's network, SANet layers fine-tuned
            "encoder": "mobilenetv2", "width": 0.25, "size": 128, "batch": 4, "lr": 2e-4,
            "steps": 672, "style_weight": 10.0, "shift_average": "on",
        },
    },
    "mamba_st": {
        "book": {  # the shipped run (data/training/mamba_st)
            "encoder": "mobilenetv2", "width": 0.25, "size": 128, "batch": 4, "lr": 2e-4,
            "steps": 3000,
        },
        "paper": {  # Botti et al. 2025, the official scripts/train.sh (§4.5)
            "encoder": "vgg19", "width": 1.0, "size": 256, "batch": 8, "lr": 1e-4,
            "lr_decay": 0.0, "steps": 160_000, "d_model": 512, "depth": 3, "load_size": 512,
            "source": "mechanisms.md §4.3-4.5",
        },
    },
    "style_rwkv": {
        "book": {  # the shipped run (data/training/style_rwkv)
            "encoder": "mobilenetv2", "width": 0.25, "size": 128, "batch": 4, "lr": 2e-4,
            "steps": 4500,
        },
        "paper": {  # mechanisms §5.6 [R]: Restore-RWKV's sizes, 256 crops, batch 8, 160k
            "encoder": "vgg19", "width": 1.0, "size": 256, "batch": 8, "lr": 1e-4,
            "lr_decay": 0.0, "steps": 160_000, "dim": 48, "blocks": [4, 6, 6, 8], "patch": 2,
            "load_size": 512, "source": "mechanisms.md §5.6 (a reconstruction)",
        },
    },
}  # fmt: skip

FLAG_KEYS = (  # preset keys that are command-line flags (argparse dest names)
    "encoder", "width", "size", "batch", "lr", "steps", "style_weight", "shift_average",
    "identity_weight",
)  # fmt: skip


def preset(model: str, name: str) -> dict:
    """The preset `name` of `model`, or a clear error listing what exists."""
    known = PRESETS.get(model, {})
    if name not in known:
        raise StylelabError(f"no {name!r} preset for {model}; it has: {', '.join(known) or 'none'}")
    return dict(known[name])


def apply_to_args(args, values: dict) -> None:
    """Fill the flags the command line left at None from the preset."""
    for key in FLAG_KEYS:
        if key in values and getattr(args, key, None) is None:
            setattr(args, key, values[key])


def config_keys(values: dict) -> dict:
    """The preset's keys that are not flags: they go into config.json as they are."""
    return {k: v for k, v in values.items() if k not in FLAG_KEYS and k != "source"}


def check_paper_inputs(args) -> None:
    """A real paper-recipe run needs the paper's data and encoder: say what is missing."""
    from stylelab.encoders.vgg19 import VGG19_FILE, find_imagenet_vgg19, hub_checkpoint_dir

    if not (args.content_dir and args.style_dir):
        raise StylelabError(
            "the paper recipe trains on MS-COCO and WikiArt: give --content-dir and --style-dir "
            "(or --dry-run to time it without them)"
        )
    if args.encoder == "vgg19" and find_imagenet_vgg19() is None:
        raise StylelabError(
            f"the paper recipe needs ImageNet VGG-19: put {VGG19_FILE} in {hub_checkpoint_dir()} "
            "(README: ImageNet VGG-19 weights), or --dry-run to time it"
        )


def dry_run(config: dict, args, timed_steps: int = 3) -> int:
    """Print the resolved config, time `timed_steps` steps after a warm-up, and estimate the
    whole run's hours on this machine; nothing is written. Returns 0."""
    import json
    import tempfile
    import time

    import torch

    from stylelab.core.devices import resolve_device
    from stylelab.training.recipes import RECIPES
    from stylelab.training.trainer import Trainer, seed_everything

    device = resolve_device(args.device)
    print(json.dumps(config, indent=2))
    timing = dict(config)
    if not (config["content_dir"] and config["style_dir"]):
        timing.pop("load_size", None)  # no folders: the bundled sampler stands in for timing
    seed_everything(config["seed"])
    recipe = RECIPES[config["model"]](timing, device)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(
            recipe.model, recipe.optimizer, recipe.data, tmp, scheduler=recipe.scheduler,
            device=device, checkpoint_every=0, progress=False, amp=config.get("amp", "off"),
        )  # fmt: skip
        trainer.fit(1)  # warm-up: allocation, kernels, thread pools
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        trainer.fit(1 + timed_steps)
        if device.type == "cuda":
            torch.cuda.synchronize()
        per_step = (time.perf_counter() - start) / timed_steps
    hours, threads = per_step * args.steps / 3600, torch.get_num_threads()
    where = (
        f"GPU-hours on {torch.cuda.get_device_name(device)}"
        if device.type == "cuda"
        else f"hours on this CPU ({threads} thread{'s' * (threads != 1)})"
    )
    encoder = getattr(recipe.model, "encoder", None)
    print(
        f"{config['model']}, preset {config.get('preset', 'none')}: {1 / per_step:.3g} steps/s "
        f"({per_step:.2f} s per step of batch {config['batch']} at {config['size']} px, the mean "
        f"of {timed_steps} after a warm-up) -> {args.steps:,} steps = {hours:,.1f} {where}"
    )
    if encoder is not None:
        print(f"timed with encoder {getattr(encoder, 'description', encoder.name)}")
    if "load_size" in config and "load_size" not in timing:
        print("timed on the bundled sampler (no folders given): the model's cost, not loading")
    return 0
