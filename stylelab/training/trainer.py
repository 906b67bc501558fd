"""The one trainer every model in the book reuses (`stylelab train MODEL` drives it).

The core (`Trainer`) knows nothing about style transfer. It needs

- a model with `loss(batch) -> (loss, {term: float})` (and, optionally,
  `trainable_state_dict()` / `load_trainable_state_dict()` when part of it is a
  frozen encoder that checkpoints need not carry);
- an optimizer, an optional lr scheduler;
- a data iterator with `state_dict()` / `load_state_dict()` (see data.py);
- optionally `sample_fn(model) -> (N,3,H,W)` images for a sample grid.

It gives: mixed precision (`amp`: bf16 autocast, or fp16 autocast with a gradient
scaler whose state the checkpoint keeps), a tqdm bar (loss in the postfix), a JSON-lines
loss log, a sample PNG every `sample_every` steps, checkpoints every `checkpoint_every` steps and
on stop, a `max_minutes` budget that stops cleanly with a checkpoint, and
EXACT resume: the checkpoint holds the model, optimizer, scheduler, step, the
RNG states of python/numpy/torch (and CUDA) and the data sampler's state, so
3 steps + resume + 3 steps gives bit-identical weights to 6 steps straight
(tests/training/test_trainer.py checks it). The same code path runs on CPU or GPU.

A run folder holds:

    config.json      what was trained (model, data, encoder, hyperparameters)
    checkpoint.pt    the latest checkpoint (written atomically)
    log.jsonl        one line per step: step, lr, loss terms, seconds (and skipped_files,
                     the data set's unreadable images so far, when there are any)
    samples/         step_000500.png ...
    final.safetensors  the trained weights (fp32), written when the run reaches --steps

Adding a model: write its recipe in `stylelab.training.recipes`.
"""

from __future__ import annotations

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

from stylelab.core.errors import StylelabError
from stylelab.training import distributed
from stylelab.training.distributed import Dist

CHECKPOINT = "checkpoint.pt"
CONFIG = "config.json"
LOG = "log.jsonl"
SAMPLES = "samples"
FINAL = "final.safetensors"
RUN_FILES = (CHECKPOINT, CONFIG, LOG, FINAL)  # what --force may delete (never anything else)
AMP = {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}  # autocast dtypes


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


class EpochDecay:
    """StyA2K's schedule as a LambdaLR factor: 1 for `constant_epochs` epochs of
    `epoch_steps` steps, then times `factor` per epoch (the official code)."""

    def __init__(self, epoch_steps: int, constant_epochs: int = 2, factor: float = 0.3):
        self.epoch_steps, self.constant_epochs = int(epoch_steps), int(constant_epochs)
        self.factor = float(factor)

    def __call__(self, step: int) -> float:
        return self.factor ** max(0, step // self.epoch_steps + 1 - self.constant_epochs)


def lr_factor(config: dict):
    """The LambdaLR factor a config asks for: inverse decay (AdaIN's, the default) or
    per-epoch decay (config lr_schedule "epochs")."""
    if config.get("lr_schedule") == "epochs":
        return EpochDecay(
            config["epoch_steps"], config["lr_constant_epochs"], config["lr_epoch_factor"]
        )
    return InverseDecay(config["lr_decay"])


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
    amp: str = "off"  # "bf16" or "fp16" (with a GradScaler): autocast the loss
    dist: Dist = field(default_factory=Dist)  # this process's rank under torchrun
    step: int = 0
    train_seconds: float = 0.0  # summed over resumes: the manifest reports it
    stopped_early: bool = field(default=False, init=False)

    def __post_init__(self):
        if self.amp not in AMP:
            raise StylelabError(f"unknown amp {self.amp!r}; valid: {', '.join(AMP)}")
        self.out_dir = Path(self.out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.device = torch.device(self.device)
        self.model.to(self.device)
        # fp16's narrow range needs the loss scaled up (and the scale adapted); bf16 does not
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp == "fp16")
        self.ddp = distributed.wrap(self.model, self.dist, self.device)  # None: one process

    @property
    def checkpoint_path(self) -> Path:
        return self.out_dir / CHECKPOINT

    # -- checkpoints --
    def save_checkpoint(self) -> Path:
        if not self.dist.main:  # rank 0 writes; every rank holds the same state
            return self.checkpoint_path
        state = {
            "step": self.step,
            "train_seconds": self.train_seconds,
            "model": trainable_state(self.model),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler else None,
            "scaler": self.scaler.state_dict(),
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
        if state.get("scaler"):  # checkpoints from before amp have none
            self.scaler.load_state_dict(state["scaler"])
        self.data.load_state_dict(state["data"])
        set_rng_state(state["rng"])
        self.step, self.train_seconds = int(state["step"]), float(state["train_seconds"])
        self._truncate_log()
        return self.step

    def _truncate_log(self) -> None:
        """Drop log lines past the checkpoint (steps a crash lost), so the log stays one run."""
        log = self.out_dir / LOG
        if not log.exists() or not self.dist.main:
            return
        lines = [ln for ln in log.read_text().splitlines() if ln.strip()]
        kept = [ln for ln in lines if json.loads(ln)["step"] <= self.step]
        if len(kept) != len(lines):
            log.write_text("".join(ln + "\n" for ln in kept))

    # -- samples --
    def save_sample(self) -> Path | None:
        if self.sample_fn is None or not self.dist.main:
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
        # every rank draws the global batch (one random stream) and keeps its slice, unless
        # the data loads this process's share itself (folders.FolderBatches)
        batch = next(self.data)
        if not getattr(self.data, "sharded", False):
            batch = distributed.shard(batch, self.dist)
        batch = _to_device(batch, self.device)
        dtype = AMP[self.amp]
        with torch.autocast(self.device.type, dtype=dtype, enabled=dtype is not None):
            loss, terms = self.ddp(batch) if self.ddp is not None else self.model.loss(batch)
        if distributed.any_rank(not torch.isfinite(loss), self.dist, self.device):
            raise StylelabError(
                f"the loss became {float(loss)} at step {self.step + 1}; lower the learning "
                f"rate, or resume from the last checkpoint in {self.out_dir}"
            )
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()  # disabled scaler: loss as it is
        self.scaler.step(self.optimizer)  # skips the step if fp16 gradients overflowed
        self.scaler.update()
        lr = self.optimizer.param_groups[0]["lr"]
        if self.scheduler is not None:
            self.scheduler.step()
        self.step += 1
        skipped = len(getattr(self.data, "skipped", ()))  # unreadable files so far (data.py)
        terms = distributed.mean_terms(
            {k: float(v) for k, v in terms.items()}, self.dist, self.device
        )
        return {
            "step": self.step,
            "lr": lr,
            **terms,
            **({"skipped_files": skipped} if skipped else {}),
        }

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
            disable=not self.progress or not self.dist.main,
            unit="step",
            dynamic_ncols=True,
        )
        try:
            with open(self.out_dir / LOG if self.dist.main else os.devnull, "a") as log:
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
                    out_of_time = distributed.any_rank(  # all ranks stop at the same step
                        self.max_minutes is not None
                        and time.monotonic() - start > 60 * self.max_minutes,
                        self.dist,
                        self.device,
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
