"""Data-parallel training under torchrun: 2 gloo processes at batch B/2 follow 1 process at
batch B; resume under DDP continues the same trajectory; bad setups fail before any process
group can hang.

Tolerance. The identity behind DDP, "the mean of the shards' gradients is the global batch's
gradient", holds to 1e-15 in float64 (test_shard_gradients_average_to_the_batch_gradient).
In float32 the encoder's reductions (means and standard deviations over whole feature maps)
amplify rounding: the two gradients differ by ~4e-5 relative, and Adam's first steps, which
move each weight by about lr * sign(gradient), flip the weights whose gradient is near zero.
So the runs are compared by the distance between their weights relative to the distance they
travelled from the start: measured 0.2 % (bundled data, 3 steps) to 2.6 % (noise images, 2
steps); 10 % allowed. A process that trained on its half alone lands 60 % away (measured).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from stylelab.cli import main
from stylelab.core.errors import StylelabError
from stylelab.training import distributed
from stylelab.training.distributed import Dist

ARGS = ["adain", "--size", "64", "--batch", "4", "--width", "0.125", "--seed", "0"]
ARGS += ["--threads", "1", "--no-progress", "--sample-every", "0", "--style-pool", "2"]
RELATIVE = 0.1  # |w_ddp - w_single| / |w_single - w_start|; see the module docstring


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(*argv: str, processes: int = 2) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc_per_node", str(processes), "-m", "stylelab", "train", *argv]
    env = dict(os.environ, OMP_NUM_THREADS="1", MASTER_PORT=str(free_port()))
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def weights(run: Path) -> dict[str, torch.Tensor]:
    return torch.load(run / "checkpoint.pt", weights_only=True)["model"]


def log(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


def norm(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return sum(((a[k] - b[k]) ** 2).sum() for k in a).sqrt().item()


def start(run: Path) -> dict[str, torch.Tensor]:
    """The weights the run started from: its recipe, seeded as `stylelab train` seeds it."""
    from stylelab.training.recipes import RECIPES
    from stylelab.training.trainer import seed_everything

    config = json.loads((run / "config.json").read_text())
    seed_everything(config["seed"])
    return RECIPES[config["model"]](config, torch.device("cpu")).model.trainable_state_dict()


def relative_gap(single: Path, other: Path) -> float:
    return norm(weights(single), weights(other)) / norm(weights(single), start(single))


@pytest.fixture(scope="module")
def single(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("single") / "run"
    assert main(["train", *ARGS, "--steps", "3", "--out", str(out)]) == 0
    return out


def test_two_processes_at_half_the_batch_follow_one_process(single, tmp_path):
    out = tmp_path / "ddp"
    torchrun(*ARGS, "--steps", "3", "--out", str(out))
    gap = relative_gap(single, out)
    assert gap < RELATIVE, f"2 processes vs 1: weights {gap:.1%} apart (of the way travelled)"
    config = json.loads((out / "config.json").read_text())
    assert config["batch"] == 4 and config["processes"] == 2
    a, b = log(single), log(out)  # rank 0 logs the loss averaged over both processes
    assert [r["step"] for r in b] == [1, 2, 3]
    for ra, rb in zip(a, b):
        assert rb["total"] == pytest.approx(ra["total"], rel=1e-4)


def test_resume_under_ddp_continues_the_same_trajectory(single, tmp_path):
    out = tmp_path / "ddp"
    torchrun(*ARGS, "--steps", "2", "--out", str(out))
    torchrun(*ARGS, "--steps", "3", "--out", str(out), "--resume")
    gap = relative_gap(single, out)
    assert gap < RELATIVE, f"resumed under DDP vs one process: {gap:.1%} apart"
    assert [r["step"] for r in log(out)] == [1, 2, 3]


def test_bad_setups_fail_before_any_process_group():
    with pytest.raises(StylelabError, match="does not split over 3 processes"):
        distributed.check(Dist(0, 3, 0), "gloo", "cpu", batch=4)
    if not torch.cuda.is_available():
        with pytest.raises(StylelabError, match="nccl needs CUDA GPUs"):
            distributed.check(Dist(0, 2, 0), "nccl", "cpu", batch=4)
    with pytest.raises(StylelabError, match="RANK 2 is not in"):
        distributed.from_env({"RANK": "2", "WORLD_SIZE": "2"})
    assert distributed.from_env({}) == Dist()  # no torchrun: one process, no process group
    assert distributed.check(Dist(1, 2, 1), "auto", "cpu", batch=4) == "gloo"


def test_a_bad_folder_is_one_line_under_torchrun_too(tmp_path):
    """Every rank checks before joining the group, so the run exits instead of hanging."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc_per_node", "2", "-m", "stylelab", "train", *ARGS, "--steps", "1"]
    command += ["--out", str(tmp_path / "run"), "--content-dir", str(tmp_path / "missing")]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode != 0
    assert "is not a folder" in done.stderr


def test_shard_and_single_process_paths():
    batch = (torch.arange(8).view(4, 2), {"x": torch.arange(4)})
    first = distributed.shard(batch, Dist(0, 2, 0))
    second = distributed.shard(batch, Dist(1, 2, 1))
    assert first[0].tolist() == [[0, 1], [2, 3]] and second[1]["x"].tolist() == [2, 3]
    assert distributed.shard(batch, Dist()) is batch
    assert distributed.mean_terms({"a": 1.0}, Dist(), "cpu") == {"a": 1.0}
    assert distributed.any_rank(True, Dist(), "cpu") is True


def test_shard_gradients_average_to_the_batch_gradient():
    """What DDP relies on, with the real AdaIN loss in float64: exact to rounding."""
    from stylelab.training.recipes import DEFAULTS, recipe_adain

    config = {"model": "adain", "size": 64, "batch": 4, "seed": 0, "encoder": "mobilenetv2"}
    config |= {"content_dir": None, "style_dir": None, "style_pool": 2, **DEFAULTS["adain"]}
    config |= {"width": 0.125, "shift_average": True}
    torch.manual_seed(0)
    recipe = recipe_adain(config, torch.device("cpu"))
    model = recipe.model.double()
    batch = tuple(x.double() for x in next(recipe.data))

    def gradient(part):
        model.zero_grad()
        model.loss(part)[0].backward()
        return torch.cat([p.grad.flatten() for p in model.decoder.parameters()])

    full = gradient(batch)
    shards = [distributed.shard(batch, Dist(r, 2, r)) for r in range(2)]
    mean = sum(gradient(s) for s in shards) / 2
    assert ((full - mean).norm() / full.norm()).item() < 1e-12


def test_folder_data_with_workers_under_torchrun_follows_one_process(tmp_path):
    """The papers' data path: each process loads only its share, with DataLoader workers."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(1)
    for name in ("coco", "wikiart"):
        (tmp_path / name).mkdir()
        for i in range(6):
            pixels = rng.integers(0, 255, (80, 96, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / name / f"{i}.png")
    data = ["--content-dir", str(tmp_path / "coco"), "--style-dir", str(tmp_path / "wikiart")]
    data += ["--workers", "1"]
    one, two = tmp_path / "one", tmp_path / "two"
    assert main(["train", *ARGS, *data, "--steps", "2", "--out", str(one)]) == 0
    torchrun(*ARGS, *data, "--steps", "2", "--out", str(two))
    gap = relative_gap(one, two)
    assert gap < RELATIVE, f"folders, 2 processes vs 1: {gap:.1%} apart"
    config = json.loads((two / "config.json").read_text())
    assert config["load_size"] == 128 and config["workers"] == 1
