"""`stylelab train MODEL`: the one trainer every model in the book reuses.

The core (`Trainer`) knows nothing about style transfer. It needs

- a model with `loss(batch) -> (loss, {term: float})` (and, optionally,
  `trainable_state_dict()` / `load_trainable_state_dict()` when part of it is a
  frozen encoder that checkpoints need not carry);
- an optimizer, an optional lr scheduler;
- a data iterator with `state_dict()` / `load_state_dict()` (see data.py);
- optionally `sample_fn(model) -> (N,3,H,W)` images for a sample grid.

It gives: a tqdm bar (loss in the postfix), a JSON-lines loss log, a sample
PNG every `sample_every` steps, checkpoints every `checkpoint_every` steps and
on stop, a `max_minutes` budget that stops cleanly with a checkpoint, and
EXACT resume: the checkpoint holds the model, optimizer, scheduler, step, the
RNG states of python/numpy/torch (and CUDA) and the data sampler's state, so
3 steps + resume + 3 steps gives bit-identical weights to 6 steps straight
(tests/test_train.py checks it). The same code path runs on CPU or GPU.

A run folder holds:

    config.json      what was trained (model, data, encoder, hyperparameters)
    checkpoint.pt    the latest checkpoint (written atomically)
    log.jsonl        one line per step: step, lr, loss terms, seconds
    samples/         step_000500.png ...
    final.safetensors  the trained weights (fp32), written when the run reaches --steps

Adding a model: write a `recipe_<name>(config, device) -> Recipe` and list it
in `RECIPES`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from stylelab.devices import resolve_device
from stylelab.errors import StylelabError

CHECKPOINT = "checkpoint.pt"
CONFIG = "config.json"
LOG = "log.jsonl"
SAMPLES = "samples"
FINAL = "final.safetensors"
RUN_FILES = (CHECKPOINT, CONFIG, LOG, FINAL)  # what --force may delete (never anything else)


# -- seeding and RNG state ------------------------------------------------------------------


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (CPU and CUDA) global generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device


def rng_state() -> dict:
    np_state = np.random.get_state()
    state = {
        "python": random.getstate(),
        # numpy's legacy state holds an ndarray; a list keeps the checkpoint weights_only-loadable
        "numpy": (np_state[0], np_state[1].tolist(), *np_state[2:]),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(tuple(tuple(x) if isinstance(x, list) else x for x in state["python"]))
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), *rest))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class InverseDecay:
    """AdaIN's lr schedule as a LambdaLR factor: lr_i = lr / (1 + decay * i).

    A class, not a lambda, so the scheduler's state_dict can hold it.
    """

    def __init__(self, decay: float = 5e-5):
        self.decay = float(decay)

    def __call__(self, step: int) -> float:
        return 1.0 / (1.0 + self.decay * step)


# -- the model-agnostic trainer --------------------------------------------------------------


def _to_device(batch, device):
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    return batch


def _atomic_torch_save(obj, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)  # a crash mid-write never leaves half a checkpoint


def trainable_state(model: nn.Module) -> dict[str, torch.Tensor]:
    getter = getattr(model, "trainable_state_dict", None)
    return getter() if getter else model.state_dict()


def load_trainable_state(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    setter = getattr(model, "load_trainable_state_dict", None)
    (setter or model.load_state_dict)(state)


@dataclass
class Trainer:
    """Runs `model.loss` steps with checkpoints, logs and samples in `out_dir`."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    data: Iterator
    out_dir: str | os.PathLike
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None
    device: str | torch.device = "cpu"
    checkpoint_every: int = 500
    sample_every: int = 0
    sample_fn: Callable[[nn.Module], torch.Tensor] | None = None
    max_minutes: float | None = None
    progress: bool = True
    step: int = 0
    train_seconds: float = 0.0  # summed over resumes: the manifest reports it
    stopped_early: bool = field(default=False, init=False)

    def __post_init__(self):
        self.out_dir = Path(self.out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.device = torch.device(self.device)
        self.model.to(self.device)

    @property
    def checkpoint_path(self) -> Path:
        return self.out_dir / CHECKPOINT

    # -- checkpoints --
    def save_checkpoint(self) -> Path:
        state = {
            "step": self.step,
            "train_seconds": self.train_seconds,
            "model": trainable_state(self.model),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler else None,
            "data": self.data.state_dict(),
            "rng": rng_state(),
        }
        _atomic_torch_save(state, self.checkpoint_path)
        return self.checkpoint_path

    def load_checkpoint(self) -> int:
        """Restore everything from out_dir/checkpoint.pt; returns the step it stopped at."""
        path = self.checkpoint_path
        if not path.is_file():
            raise StylelabError(f"nothing to resume: {path} does not exist; start without --resume")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # truncated or foreign file
            raise StylelabError(
                f"cannot read checkpoint {path} ({err}); start again with --force"
            ) from err
        load_trainable_state(self.model, state["model"])
        self.model.to(self.device)
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state["scheduler"] is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.data.load_state_dict(state["data"])
        set_rng_state(state["rng"])
        self.step, self.train_seconds = int(state["step"]), float(state["train_seconds"])
        self._truncate_log()
        return self.step

    def _truncate_log(self) -> None:
        """Drop log lines past the checkpoint (steps a crash lost), so the log stays one run."""
        log = self.out_dir / LOG
        if not log.exists():
            return
        lines = [ln for ln in log.read_text().splitlines() if ln.strip()]
        kept = [ln for ln in lines if json.loads(ln)["step"] <= self.step]
        if len(kept) != len(lines):
            log.write_text("".join(ln + "\n" for ln in kept))

    # -- samples --
    def save_sample(self) -> Path | None:
        if self.sample_fn is None:
            return None
        from torchvision.utils import save_image

        self.model.eval()
        with torch.no_grad():
            grid = self.sample_fn(self.model)  # (N,3,H,W) in [0,1], or a ready grid (1,3,H,W)
        self.model.train()
        folder = self.out_dir / SAMPLES
        folder.mkdir(exist_ok=True)
        path = folder / f"step_{self.step:06d}.png"
        save_image(grid.float().cpu().clamp(0, 1), path, nrow=getattr(self.sample_fn, "nrow", 8))
        return path

    # -- the loop --
    def _one_step(self) -> dict:
        batch = _to_device(next(self.data), self.device)
        loss, terms = self.model.loss(batch)
        if not torch.isfinite(loss):
            raise StylelabError(
                f"the loss became {float(loss)} at step {self.step + 1}; lower the learning "
                f"rate, or resume from the last checkpoint in {self.out_dir}"
            )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        lr = self.optimizer.param_groups[0]["lr"]
        if self.scheduler is not None:
            self.scheduler.step()
        self.step += 1
        return {"step": self.step, "lr": lr, **{k: float(v) for k, v in terms.items()}}

    def fit(self, steps: int) -> dict:
        """Train until `steps` total steps (counting earlier runs) or the time budget; returns
        {"step", "stopped_early", "train_seconds"}."""
        from tqdm.auto import tqdm

        self.model.train()
        start = time.monotonic()
        last_checkpoint = self.step
        bar = tqdm(
            total=steps,
            initial=self.step,
            disable=not self.progress,
            unit="step",
            dynamic_ncols=True,
        )
        try:
            with open(self.out_dir / LOG, "a") as log:
                while self.step < steps:
                    t0 = time.monotonic()
                    record = self._one_step()
                    seconds = time.monotonic() - t0
                    self.train_seconds += seconds
                    record["seconds"] = round(seconds, 4)
                    log.write(json.dumps(record) + "\n")
                    log.flush()
                    bar.update(1)
                    bar.set_postfix(
                        {k: f"{v:.3g}" for k, v in record.items() if k not in ("step", "seconds")}
                    )
                    if self.sample_every and self.step % self.sample_every == 0:
                        self.save_sample()
                    if self.checkpoint_every and self.step % self.checkpoint_every == 0:
                        self.save_checkpoint()
                        last_checkpoint = self.step
                    out_of_time = (
                        self.max_minutes is not None
                        and time.monotonic() - start > 60 * self.max_minutes
                    )
                    if out_of_time and self.step < steps:
                        self.stopped_early = True
                        bar.write(
                            f"stopping at step {self.step}: --max-minutes "
                            f"{self.max_minutes} reached"
                        )
                        break
        finally:
            bar.close()
            if self.step != last_checkpoint:  # also on Ctrl-C: keep what was learned
                self.save_checkpoint()
        return {
            "step": self.step,
            "stopped_early": self.stopped_early,
            "train_seconds": self.train_seconds,
        }


# -- recipes: how to build each trainable model from a config --------------------------------


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
    from stylelab import data as data_mod
    from stylelab import images

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


def recipe_adain(config: dict, device: torch.device) -> Recipe:
    from stylelab import data as data_mod
    from stylelab.encoders import load_encoder
    from stylelab.models import build_adain

    encoder = load_encoder(config["encoder"], device=str(device), seed=config["seed"])
    model = build_adain(
        encoder,
        width=config["width"],
        style_weight=config["style_weight"],
        shift_average=config["shift_average"],
        identity_weight=config.get("identity_weight", 0.0),  # runs from before it existed
    ).to(device)
    optimizer = torch.optim.Adam(model.decoder.parameters(), lr=config["lr"])
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, InverseDecay(config["lr_decay"]))
    data = data_mod.TrainingData(
        size=config["size"],
        batch=config["batch"],
        seed=config["seed"],
        content_dir=config["content_dir"],
        style_dir=config["style_dir"],
        pool_size=config["style_pool"],
    )
    sample_fn = adain_sample_fn(int(getattr(encoder, "min_side", 32)), min(2 * config["size"], 256))
    meta = {
        "encoder": getattr(encoder, "name", config["encoder"]),
        "encoder_description": getattr(encoder, "description", ""),
        "config": model.config(),
        "data": data.describe(),
    }
    return Recipe(model, optimizer, scheduler, data, sample_fn, meta)


RECIPES: dict[str, Callable[[dict, torch.device], Recipe]] = {"adain": recipe_adain}

# hyperparameters each recipe reads from config.json; the CLI fills them
DEFAULTS = {
    "adain": {
        "lr": 1e-4,
        "lr_decay": 5e-5,
        "style_weight": 10.0,
        "width": 0.25,
        "shift_average": None,
        "identity_weight": 0.0,
    },
}


# -- CLI --------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", choices=sorted(RECIPES), help="what to train")
    parser.add_argument("--steps", type=int, default=10_000, help="total steps (default 10000)")
    parser.add_argument("--size", type=int, default=256, help="training crop side (default 256)")
    parser.add_argument("--batch", type=int, default=8, help="batch size (default 8)")
    parser.add_argument("--out", required=True, help="run folder (checkpoints, log, samples)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    parser.add_argument(
        "--force",
        action="store_true",
        help="start afresh in a non-empty --out (deletes its run files)",
    )
    parser.add_argument("--encoder", default="auto", help="encoder name (default auto)")
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
        "--shift-average",
        choices=("auto", "on", "off"),
        default="auto",
        help="average the style loss over 1-pixel shifts (auto: on for "
        "encoders with stride-2 convolutions, i.e. not VGG)",
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    parser.add_argument("--content-dir", default=None, help="extra content images (e.g. COCO)")
    parser.add_argument("--style-dir", default=None, help="extra style images (e.g. WikiArt)")
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
    }
    for key in ("width", "lr", "style_weight", "identity_weight"):
        if getattr(args, key) is not None:
            config[key] = getattr(args, key)
    if args.shift_average != "auto":
        config["shift_average"] = args.shift_average == "on"
    if args.init_from:
        config["init_from"] = describe_init(Path(args.init_from))
    return config


def describe_init(path: Path) -> dict:
    """What `--init-from` starts from: path, sha256, and the steps/minutes already in it."""
    from stylelab.weights import sha256_file

    if path.is_dir():
        path = path / CHECKPOINT
    if not path.is_file():
        raise StylelabError(f"--init-from {path}: no such checkpoint (give a run's {CHECKPOINT})")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        steps, seconds = int(state["step"]), float(state["train_seconds"])
    except Exception as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise StylelabError(
            f"--init-from {path} is not a stylelab checkpoint ({first_line})"
        ) from err
    init = {
        "path": str(path),
        "sha256": sha256_file(path),
        "steps": steps,
        "train_minutes": round(seconds / 60, 1),
    }
    if (path.parent / CONFIG).is_file():  # a run folder: say how to make the checkpoint again
        earlier = json.loads((path.parent / CONFIG).read_text())
        init["command"] = retrain_command(earlier, steps, str(path.parent), publish=False)
        if earlier.get("init_from"):  # itself a fine-tune: keep the whole chain of stages
            init["init_from"] = earlier["init_from"]
    return init


def init_chain(config: dict) -> list[dict]:
    """The `init_from` records a run (or manifest entry) started from, earliest first."""
    chain, init = [], config.get("init_from")
    while init:
        chain.insert(0, init)
        init = init.get("init_from")
    return chain


def init_weights(model: nn.Module, init: dict) -> None:
    """Load the trainable weights of the checkpoint `describe_init` recorded."""
    state = torch.load(init["path"], map_location="cpu", weights_only=True)
    try:
        load_trainable_state(model, state["model"])
    except RuntimeError as err:
        raise StylelabError(
            f"--init-from {init['path']} does not fit this model ({err}); use a run with the "
            "same encoder and width"
        ) from err


def _resolve_auto(config: dict) -> dict:
    """Fill choices that depend on the encoder, so config.json records what really ran."""
    from stylelab.encoders import load_encoder

    encoder = load_encoder(config["encoder"], seed=config["seed"])
    config["encoder"] = getattr(encoder, "name", config["encoder"])  # "auto" -> concrete name
    if config.get("shift_average", False) is None:
        # VGG has no stride-2 convolutions (it pools); the others need the shift average
        config["shift_average"] = not str(config["encoder"]).startswith("vgg")
    return config


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
    if args.max_minutes is not None and args.max_minutes <= 0:
        raise StylelabError(f"--max-minutes must be positive, got {args.max_minutes}")


def _prepare_out(out: Path, resume: bool, force: bool) -> None:
    existing = [p for p in out.iterdir()] if out.is_dir() else []
    if resume:
        if not (out / CHECKPOINT).is_file():
            raise StylelabError(f"nothing to resume in {out} (no {CHECKPOINT}); drop --resume")
        return
    if existing and not force:
        raise StylelabError(
            f"{out} is not empty; add --resume to continue that run or --force to start afresh"
        )
    for name in RUN_FILES:  # only our own files: --force never deletes anything else
        (out / name).unlink(missing_ok=True)
    for png in (out / SAMPLES).glob("step_*.png") if (out / SAMPLES).is_dir() else []:
        png.unlink()


def retrain_command(config: dict, steps: int, out: str, publish: bool = True) -> str:
    """The command line that reproduces this run from scratch (for the manifest)."""
    shift = {True: "on", False: "off"}.get(config.get("shift_average"), "auto")
    parts = [
        f"stylelab train {config['model']} --steps {steps} --size {config['size']}",
        f"--batch {config['batch']} --width {config['width']} --lr {config['lr']}",
        f"--style-weight {config['style_weight']} --shift-average {shift}",
        f"--encoder {config['encoder']} --style-pool {config['style_pool']}",
        f"--seed {config['seed']}",
    ]
    if config.get("identity_weight"):
        parts.append(f"--identity-weight {config['identity_weight']}")
    for key in ("content_dir", "style_dir"):
        if config.get(key):
            parts.append(f"--{key.replace('_', '-')} {config[key]}")
    if config.get("init_from"):
        parts.append(f"--init-from {config['init_from']['path']}")
    parts.append(f"--out {out}" + (" --publish" if publish else ""))
    return " ".join(parts)


def save_final(model: nn.Module, path: Path) -> None:
    from safetensors.torch import save_file

    state = {k: v.detach().float().cpu().contiguous() for k, v in trainable_state(model).items()}
    save_file(state, str(path))


def run(args: argparse.Namespace) -> int:
    _check_args(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    _prepare_out(out, args.resume, args.force)
    device = resolve_device(args.device)
    if args.resume:
        config = json.loads((out / CONFIG).read_text())
    else:
        config = _resolve_auto(_config_from_args(args))
        out.mkdir(parents=True, exist_ok=True)
        (out / CONFIG).write_text(json.dumps(config, indent=2) + "\n")
    seed_everything(config["seed"])
    recipe = RECIPES[config["model"]](config, device)
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
    )
    if args.resume:
        print(f"resuming {out} at step {trainer.load_checkpoint()} (settings from {CONFIG})")
    elif config.get("init_from"):
        init_weights(recipe.model, config["init_from"])
        print(f"weights from {config['init_from']['path']} ({config['init_from']['steps']} steps)")
    if trainer.step == 0 and args.sample_every:
        trainer.save_sample()  # step 0: what an untrained decoder draws
    result = trainer.fit(args.steps)
    print(
        f"step {result['step']}/{args.steps}, {result['train_seconds'] / 60:.1f} min of "
        f"training in total; run folder {out}"
    )
    if result["step"] >= args.steps:
        save_final(recipe.model, out / FINAL)
        if args.sample_every:
            trainer.save_sample()
        if args.publish:
            from stylelab import zoo

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
            if config.get("init_from"):
                meta["init_from"] = config["init_from"]
            entry = zoo.publish(config["model"], recipe.model, meta)
            print(f"published {config['model']} -> data/weights/{entry['file']}")
    elif args.publish:
        print("not published: the run stopped before --steps; resume it to finish")
    return 0
