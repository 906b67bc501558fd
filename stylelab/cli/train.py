"""`stylelab train MODEL --out RUN`: train a model, resumably, in a run folder.

The pieces live in `stylelab.training`: the recipe builds the model from config.json, the
`Trainer` runs it, `runs` handles the folder and its lineage, `zoo.publish` ships weights.

Under torchrun (`torchrun --nproc_per_node N -m stylelab train MODEL --batch B ...`) the N
processes split the global batch B and train one model with DistributedDataParallel
(`stylelab.training.distributed`); rank 0 writes the run folder.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from stylelab.core.devices import resolve_device
from stylelab.core.errors import StylelabError
from stylelab.training import distributed, presets
from stylelab.training.data import list_images
from stylelab.training.recipes import DEFAULTS, RECIPES
from stylelab.training.runs import (
    _prepare_out,
    describe_base,
    describe_init,
    init_chain,
    init_weights,
    retrain_command,
    save_final,
)
from stylelab.training.trainer import CONFIG, FINAL, Trainer, seed_everything


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", choices=sorted(RECIPES), help="what to train")
    parser.add_argument("--steps", type=int, default=None, help="total steps (default 10000)")
    parser.add_argument("--size", type=int, default=None, help="training crop side (default 256)")
    parser.add_argument(
        "--batch", type=int, default=None, help="batch size, all processes together (default 8)"
    )
    parser.add_argument("--out", default=None, help="run folder (checkpoints, log, samples)")
    parser.add_argument(
        "--preset",
        choices=("book", "paper"),
        default=None,
        help="a whole recipe: book (the shipped weights') or paper (the paper's: ImageNet "
        "VGG-19, COCO and WikiArt folders, a GPU); flags given explicitly win",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the resolved config and time a few steps: steps per second and the hours "
        "the whole run would take here; writes nothing",
    )
    parser.add_argument(
        "--dry-steps", type=int, default=3, help="steps --dry-run times after a warm-up (3)"
    )
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    parser.add_argument(
        "--force",
        action="store_true",
        help="start afresh in a non-empty --out (deletes its run files)",
    )
    parser.add_argument("--encoder", default=None, help="encoder name (default auto)")
    parser.add_argument(
        "--width", type=float, default=None, help="decoder width multiplier (default 0.25)"
    )
    parser.add_argument("--lr", type=float, default=None, help="learning rate (default 1e-4)")
    parser.add_argument(
        "--style-weight", type=float, default=None, help="lambda in L = Lc + lambda Ls (default 10)"
    )
    parser.add_argument(
        "--identity-weight",
        type=float,
        default=None,
        help="weight of the pixel identity loss (MSE(g(f(c)), c) + MSE(g(f(s)), s)) / 2 "
        "(default 0: the paper's loss)",
    )
    parser.add_argument(
        "--init-from",
        default=None,
        help="start the weights from another run's checkpoint.pt (same model and config "
        "shape), e.g. to fine-tune with another loss; its steps and minutes count in the total",
    )
    parser.add_argument(
        "--init-partial",
        action="store_true",
        help="with --init-from: load only the tensors that fit (the rest keep their "
        "initialisation), for ablations that change a --set shape key; says what it left",
    )
    parser.add_argument(
        "--shift-average",
        choices=("auto", "on", "off"),
        default=None,
        help="average the style loss over 1-pixel shifts (auto, the default: on for "
        "encoders with stride-2 convolutions, i.e. not VGG)",
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    parser.add_argument(
        "--dist-backend",
        choices=distributed.BACKENDS,
        default="auto",
        help="under torchrun: nccl (GPUs) or gloo (CPU); auto picks by device",
    )
    parser.add_argument(
        "--amp",
        choices=AMP_CHOICES,
        default="auto",
        help="mixed precision: bf16 autocast, fp16 autocast with a gradient scaler, or off "
        "(auto: bf16 on a GPU that has it, else fp16 on a GPU; off on the CPU)",
    )
    parser.add_argument(
        "--content-dir",
        default=None,
        help="content images (e.g. COCO train2014); alone: mixed with the bundled photos; "
        "with --style-dir: the papers' data path (resize to --load-size, random crop --size)",
    )
    parser.add_argument(
        "--style-dir", default=None, help="style images (e.g. WikiArt); see --content-dir"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="DataLoader worker processes for the two folders (default 0: load in this one)",
    )
    parser.add_argument(
        "--load-size",
        type=int,
        default=None,
        help="with both folders: images resized to this square before the crop "
        "(default 2 x --size: 512 for 256-px crops, as the papers)",
    )
    parser.add_argument(
        "--style-pool",
        type=int,
        default=32,
        help="pre-rendered procedural paintings kept in memory (default 32)",
    )
    parser.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="stop cleanly (with a checkpoint) after this many minutes",
    )
    parser.add_argument("--sample-every", type=int, default=500, help="sample grid period")
    parser.add_argument("--checkpoint-every", type=int, default=500, help="checkpoint period")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--publish",
        action="store_true",
        help="when --steps is reached, ship the weights to data/weights "
        "(fp16 safetensors + manifest entry) for zoo.load",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one of the model's config keys (its defaults are in "
        "stylelab.training.recipes.DEFAULTS), VALUE as JSON: --set shift='\"omni\"' "
        "--set recurrence=3 --set 'blocks=[1,1,2,1]'; repeatable",
    )


BUILT_IN = {"steps": 10_000, "size": 256, "batch": 8, "encoder": "auto", "shift_average": "auto"}


def _apply_preset(args) -> dict:
    """Fill unset flags from --preset, then from the built-in defaults; returns the preset's
    config-only keys (schedule, loss weights, load size) for config.json."""
    values = presets.preset(args.model, args.preset) if args.preset else {}
    presets.apply_to_args(args, values)
    for key, value in BUILT_IN.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return {**presets.config_keys(values), **({"preset": args.preset} if args.preset else {})}


def _config_from_args(args) -> dict:
    config = {
        "model": args.model,
        "size": args.size,
        "batch": args.batch,
        "seed": args.seed,
        "encoder": args.encoder,
        "content_dir": args.content_dir,
        "style_dir": args.style_dir,
        "style_pool": args.style_pool,
        **DEFAULTS[args.model],
        **getattr(args, "preset_config", {}),
    }
    for key in ("width", "lr", "style_weight", "identity_weight"):
        if getattr(args, key) is not None:
            config[key] = getattr(args, key)
    sets = parse_sets(args.set, args.model)
    config.update(sets)
    if sets:  # also on their own, so the retrain command repeats them
        config["set"] = sets
    if args.shift_average != "auto":
        config["shift_average"] = args.shift_average == "on"
    if args.content_dir and args.style_dir:  # the papers' data path (folders.py)
        config["workers"] = args.workers
        config["load_size"] = args.load_size or 2 * args.size
    if args.init_partial and not args.init_from:
        raise StylelabError("--init-partial needs --init-from (the checkpoint to load from)")
    if args.init_from:
        config["init_from"] = describe_init(Path(args.init_from))
        if args.init_partial:
            config["init_from"]["partial"] = True
    if config.get("base"):  # a recipe that fine-tunes a shipped model: pin its weights
        config["base"] = describe_base(config["base"])
    return config


def parse_sets(items: list[str], model: str) -> dict:
    """--set KEY=VALUE pairs -> {key: value}; only keys the model's defaults have."""
    import json

    known = DEFAULTS[model]
    out = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or key not in known:
            raise StylelabError(
                f"--set {item!r}: need KEY=VALUE with KEY one of {model}'s config keys: "
                f"{', '.join(known)}"
            )
        try:
            out[key] = json.loads(text)
        except json.JSONDecodeError:
            out[key] = text  # a bare word: a string (--set shift=omni)
    return out


def _resolve_auto(config: dict) -> dict:
    """Fill choices that depend on the encoder, so config.json records what really ran."""
    from stylelab.encoders import load_encoder

    encoder = load_encoder(config["encoder"], seed=config["seed"])
    config["encoder"] = getattr(encoder, "name", config["encoder"])  # "auto" -> concrete name
    if config.get("shift_average", False) is None:
        # VGG has no stride-2 convolutions (it pools); the others need the shift average
        config["shift_average"] = not str(config["encoder"]).startswith("vgg")
    return config


AMP_CHOICES = ("auto", "bf16", "fp16", "off")


def resolve_amp(amp: str, device: torch.device) -> str:
    """The precision `--amp` means on `device` ("auto": bf16 where the GPU has it)."""
    if amp != "auto":
        return amp
    if device.type != "cuda":
        return "off"  # the CPU default: bf16 autocast there only pays with AVX512-BF16 or AMX
    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


def _check_args(args) -> None:
    if args.steps < 1:
        raise StylelabError(f"--steps must be >= 1, got {args.steps}")
    if not 16 <= args.size <= 2048:
        raise StylelabError(f"--size must be in [16, 2048], got {args.size}")
    if args.style_pool < 1:
        raise StylelabError(f"--style-pool must be >= 1, got {args.style_pool}")
    if args.batch < 1:
        raise StylelabError(f"--batch must be >= 1, got {args.batch}")
    if args.threads is not None and args.threads < 1:
        raise StylelabError(f"--threads must be >= 1, got {args.threads}")
    if args.workers < 0:
        raise StylelabError(f"--workers must be >= 0, got {args.workers}")
    if args.load_size is not None and args.load_size < args.size:
        raise StylelabError(f"--load-size {args.load_size} is smaller than --size {args.size}")
    for flag in ("content_dir", "style_dir"):  # every rank, before any process group
        if getattr(args, flag):
            list_images(getattr(args, flag))  # a missing or empty folder: one line
    if args.max_minutes is not None and args.max_minutes <= 0:
        raise StylelabError(f"--max-minutes must be positive, got {args.max_minutes}")


def _setup(args, out: Path):
    """(dist, device, config): every rank checks its input and builds the same config before
    any process group exists (a process that fails alone would leave the others waiting);
    rank 0 alone writes config.json."""
    dist = distributed.from_env()
    _prepare_out(out, args.resume, args.force, check_only=True)
    device = resolve_device(args.device)
    if args.resume:
        config = json.loads((out / CONFIG).read_text())
    else:
        config = _resolve_auto(_config_from_args(args))  # bad flags fail here, on every rank
        config["amp"] = resolve_amp(args.amp, device)
        if dist.enabled:
            config["processes"] = dist.world  # the global batch was split over them
    if dist.enabled:
        backend = distributed.check(dist, args.dist_backend, args.device, config["batch"])
        if device.type == "cuda":
            device = torch.device("cuda", dist.local_rank)
            torch.cuda.set_device(device)
        distributed.init(dist, backend)
    if not args.resume:
        if dist.main:
            _prepare_out(out, args.resume, args.force)
            out.mkdir(parents=True, exist_ok=True)
            (out / CONFIG).write_text(json.dumps(config, indent=2) + "\n")
        distributed.barrier(dist)  # the folder exists before any rank writes to it
    return dist, device, config


def run(args: argparse.Namespace) -> int:
    args.preset_config = _apply_preset(args)
    _check_args(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.dry_run:
        if args.dry_steps < 1:
            raise StylelabError(f"--dry-steps must be >= 1, got {args.dry_steps}")
        return presets.dry_run(_resolve_auto(_config_from_args(args)), args, args.dry_steps)
    if args.out is None:
        raise StylelabError("--out is required: the run folder (or --dry-run to only time it)")
    if args.preset == "paper":
        presets.check_paper_inputs(args)
    out = Path(args.out)
    dist, device, config = _setup(args, out)
    try:
        return _train(args, out, dist, device, config)
    finally:
        distributed.shutdown(dist)


def _train(args, out: Path, dist, device, config: dict) -> int:
    seed_everything(config["seed"])
    try:
        recipe = RECIPES[config["model"]](config, device)
    except StylelabError:
        # a config the model refuses (e.g. a crop size): leave no half-made run behind, so
        # the corrected command needs no --force
        if not args.resume and dist.main:
            (out / CONFIG).unlink(missing_ok=True)
            if not any(out.iterdir()):
                out.rmdir()
        raise
    trainer = Trainer(
        recipe.model,
        recipe.optimizer,
        recipe.data,
        out,
        scheduler=recipe.scheduler,
        device=device,
        checkpoint_every=args.checkpoint_every,
        sample_every=args.sample_every,
        sample_fn=recipe.sample_fn,
        max_minutes=args.max_minutes,
        progress=not args.no_progress,
        amp=config.get("amp", "off"),  # runs from before --amp trained in fp32
        dist=dist,
    )
    say = print if dist.main else (lambda *a, **k: None)  # one rank reports
    if args.resume:
        say(f"resuming {out} at step {trainer.load_checkpoint()} (settings from {CONFIG})")
    elif config.get("init_from"):
        partial = init_weights(recipe.model, config["init_from"])
        say(f"weights from {config['init_from']['path']} ({config['init_from']['steps']} steps)")
        if partial:
            say(
                f"--init-partial: {partial['copied']} tensors copied; first rows only: "
                f"{partial['rows'] or 'none'}; left at init: {partial['fresh'] or 'none'}; "
                f"unused: {partial['unused'] or 'none'}"
            )
    if trainer.step == 0 and args.sample_every:
        trainer.save_sample()  # step 0: what an untrained decoder draws
    result = trainer.fit(args.steps)
    if not dist.main:
        return 0  # rank 0 writes the final weights, the last sample and the zoo entry
    print(
        f"step {result['step']}/{args.steps}, {result['train_seconds'] / 60:.1f} min of "
        f"training in total; run folder {out}"
    )
    if result["step"] >= args.steps:
        save_final(recipe.model, out / FINAL)
        if args.sample_every:
            trainer.save_sample()
        if args.publish:
            from stylelab.training import zoo

            earlier = init_chain(config)  # fine-tuning stages before this run, if any
            meta = {
                **recipe.meta,
                "steps": result["step"] + sum(i["steps"] for i in earlier),
                "train_minutes": round(
                    result["train_seconds"] / 60 + sum(i["train_minutes"] for i in earlier), 1
                ),
                "device": str(device),
                "command": retrain_command(config, result["step"], str(out)),
            }
            for key in ("init_from", "base"):
                if config.get(key):
                    meta[key] = config[key]
            entry = zoo.publish(config["model"], recipe.model, meta)
            print(f"published {config['model']} -> data/weights/{entry['file']}")
    elif args.publish:
        print("not published: the run stopped before --steps; resume it to finish")
    return 0
