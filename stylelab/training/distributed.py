"""Data-parallel training under torchrun: N processes, one global batch, one trajectory.

    torchrun --nproc_per_node 2 -m stylelab train adain --batch 8 ...

torchrun starts N copies of the command and tells each its place through the environment
(RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT). Here:

- every rank builds the same model and the same data stream (same seed), draws the same
  global batch of B and keeps its slice of B/N (`shard`): the procedural sampler is cheap,
  and drawing the whole batch everywhere keeps its random stream identical to a single
  process's, so N processes at B/N follow one process at B to float tolerance;
- `torch.nn.parallel.DistributedDataParallel` averages the gradients (each rank's loss is a
  mean over its slice, so the average is the mean over the global batch);
- the logged loss terms are averaged over the ranks (`mean_terms`), and the ranks agree on
  when to stop (`any_rank`), so a time budget cannot leave one rank waiting for the others;
- rank 0 alone writes config, checkpoints, logs, samples and published weights.

A single process (no WORLD_SIZE, or 1) never touches torch.distributed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import nn

from stylelab.core.errors import StylelabError

BACKENDS = ("auto", "gloo", "nccl")


@dataclass(frozen=True)
class Dist:
    """Where this process sits: rank r of `world` processes (local_rank on its machine)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def from_env(environ=None) -> Dist:
    """The Dist torchrun's environment describes (a single process without one)."""
    env = os.environ if environ is None else environ
    try:
        world = int(env.get("WORLD_SIZE", "1"))
        rank, local = int(env.get("RANK", "0")), int(env.get("LOCAL_RANK", "0"))
    except ValueError as err:
        raise StylelabError(f"RANK, WORLD_SIZE and LOCAL_RANK must be integers ({err})") from err
    if world < 1 or not 0 <= rank < world:
        raise StylelabError(f"RANK {rank} is not in 0..WORLD_SIZE-1 (WORLD_SIZE {world})")
    return Dist(rank, world, local)


def check(dist: Dist, backend: str, device: str, batch: int) -> str:
    """The backend to use, or a one-line error, before any process group can hang."""
    if backend not in BACKENDS:
        raise StylelabError(f"unknown --dist-backend {backend!r}; valid: {', '.join(BACKENDS)}")
    gpu = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if backend == "auto":
        backend = "nccl" if gpu else "gloo"
    if backend == "nccl" and not torch.cuda.is_available():
        raise StylelabError(
            "--dist-backend nccl needs CUDA GPUs and this machine has none; use gloo on the CPU"
        )
    if backend == "nccl" and dist.local_rank >= torch.cuda.device_count():
        raise StylelabError(
            f"LOCAL_RANK {dist.local_rank} but only {torch.cuda.device_count()} GPU(s): start "
            "at most one process per GPU (torchrun --nproc_per_node)"
        )
    if batch % dist.world:
        raise StylelabError(
            f"--batch {batch} (the global batch) does not split over {dist.world} processes; "
            f"use a multiple of {dist.world}"
        )
    return backend


def init(dist: Dist, backend: str) -> None:
    """Join the process group torchrun set up (env:// rendezvous)."""
    import torch.distributed as td

    if dist.enabled and not td.is_initialized():
        td.init_process_group(backend, rank=dist.rank, world_size=dist.world)


def shutdown(dist: Dist) -> None:
    import torch.distributed as td

    if dist.enabled and td.is_initialized():
        td.destroy_process_group()


def barrier(dist: Dist) -> None:
    if dist.enabled:
        import torch.distributed as td

        td.barrier()


def shard(batch, dist: Dist):
    """This rank's slice of a global batch (a tensor, or a tuple/list/dict of them, dim 0)."""
    if not dist.enabled:
        return batch
    if isinstance(batch, torch.Tensor):
        part = batch.shape[0] // dist.world
        return batch[dist.rank * part : (dist.rank + 1) * part]
    if isinstance(batch, (list, tuple)):
        return type(batch)(shard(b, dist) for b in batch)
    if isinstance(batch, dict):
        return {k: shard(v, dist) for k, v in batch.items()}
    return batch


def mean_terms(terms: dict[str, float], dist: Dist, device) -> dict[str, float]:
    """Each logged loss term averaged over the ranks (every rank gets the same numbers)."""
    if not dist.enabled or not terms:
        return terms
    import torch.distributed as td

    values = torch.tensor(list(terms.values()), dtype=torch.float64, device=device)
    td.all_reduce(values)
    return dict(zip(terms, (values / dist.world).tolist()))


def any_rank(flag: bool, dist: Dist, device) -> bool:
    """True on every rank when it is True on any (a stop all ranks must take together)."""
    if not dist.enabled:
        return flag
    import torch.distributed as td

    value = torch.tensor([1.0 if flag else 0.0], device=device)
    td.all_reduce(value, op=td.ReduceOp.MAX)
    return bool(value.item())


class LossForward(nn.Module):
    """forward(batch) = model.loss(batch): DDP synchronises gradients through forward()."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, batch):
        return self.model.loss(batch)


def wrap(model: nn.Module, dist: Dist, device: torch.device) -> nn.Module | None:
    """A DDP wrapper whose forward is `model.loss`, or None for a single process."""
    if not dist.enabled:
        return None
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(LossForward(model), device_ids=ids)
