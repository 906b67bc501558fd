"""The shared trainer: exact resume, logs, samples, time budget; the data sampler; the CLI."""

from __future__ import annotations

import json
import random
import re

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from stylelab.cli import main
from stylelab.core.errors import StylelabError
from stylelab.training.data import EVAL_CONTENT, FIRST_TRAIN_SEED, TrainingData, train_content_names
from stylelab.training.runs import init_chain
from stylelab.training.trainer import InverseDecay, Trainer, seed_everything

TINY_DATA = {"size": 16, "batch": 2, "seed": 0, "pool_size": 2, "refresh_every": 2}


class ToyModel(nn.Module):
    """A model whose loss draws from all three global RNGs (python, numpy, torch), so exact
    resume needs every RNG state restored, not only the weights."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 3, 1))
        self.drop = nn.Dropout(0.3)

    def loss(self, batch):
        content, style = batch
        out = self.drop(self.net(content))  # (B,3,S,S), torch RNG
        jitter = random.random() + float(np.random.rand())  # python + numpy RNG
        loss = ((out - style) ** 2).mean() * (1 + 0.1 * jitter)
        return loss, {"mse": float(loss.detach())}


def make_trainer(out_dir, init_seed=0, **kwargs):
    torch.manual_seed(init_seed)
    model = ToyModel()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, InverseDecay(0.1))
    data = TrainingData(**TINY_DATA, extra_content=False)
    return Trainer(model, opt, data, out_dir, scheduler=sched, progress=False, **kwargs)


def test_resume_is_bit_identical(tmp_path):
    seed_everything(0)
    straight = make_trainer(tmp_path / "straight", checkpoint_every=0)
    straight.fit(6)

    seed_everything(0)
    first = make_trainer(tmp_path / "resumed", checkpoint_every=0)
    first.fit(3)  # stops at 3: the final checkpoint is written on the way out
    seed_everything(12345)  # a different process: other global RNG states, other init
    second = make_trainer(tmp_path / "resumed", init_seed=99, checkpoint_every=0)
    assert second.load_checkpoint() == 3
    second.fit(6)

    a, b = straight.model.state_dict(), second.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], ToyModel().state_dict()[k]) for k in a)  # it trained
    log_a = (tmp_path / "straight" / "log.jsonl").read_text().splitlines()
    log_b = (tmp_path / "resumed" / "log.jsonl").read_text().splitlines()
    strip = [{k: v for k, v in json.loads(x).items() if k != "seconds"} for x in log_a]
    assert strip == [{k: v for k, v in json.loads(x).items() if k != "seconds"} for x in log_b]
    assert [r["step"] for r in strip] == [1, 2, 3, 4, 5, 6]
    # the lr column follows the schedule: lr_i = lr / (1 + decay * i), logged before stepping
    assert [r["lr"] for r in strip] == pytest.approx([1e-2 / (1 + 0.1 * i) for i in range(6)])


def test_resume_truncates_log_lines_past_the_checkpoint(tmp_path):
    trainer = make_trainer(tmp_path, checkpoint_every=2)
    trainer.fit(2)
    with open(tmp_path / "log.jsonl", "a") as log:  # a crash after step 3 was logged
        log.write(json.dumps({"step": 3, "mse": 1.0}) + "\n")
    again = make_trainer(tmp_path)
    assert again.load_checkpoint() == 2
    steps = [json.loads(x)["step"] for x in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert steps == [1, 2]


def test_max_minutes_stops_with_a_checkpoint(tmp_path):
    trainer = make_trainer(tmp_path, checkpoint_every=0, max_minutes=1e-9)
    result = trainer.fit(50)
    assert result["stopped_early"] and result["step"] == 1
    assert make_trainer(tmp_path).load_checkpoint() == 1


def test_sample_grid_and_nan_loss(tmp_path):
    trainer = make_trainer(
        tmp_path, sample_every=2, checkpoint_every=0, sample_fn=lambda m: torch.rand(6, 3, 8, 8)
    )
    trainer.fit(2)
    png = tmp_path / "samples" / "step_000002.png"
    assert Image.open(png).size[0] > 8
    trainer.model.loss = lambda batch: (torch.tensor(float("nan")), {})
    with pytest.raises(StylelabError, match="became nan at step 3"):
        trainer.fit(4)


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(StylelabError, match="nothing to resume"):
        make_trainer(tmp_path).load_checkpoint()


def test_inverse_decay():
    f = InverseDecay(5e-5)
    assert f(0) == 1.0 and f(20_000) == pytest.approx(0.5)


# -- data ----------------------------------------------------------------------------------------


def test_data_is_seeded_and_checkpointable():
    a, b = TrainingData(**TINY_DATA), TrainingData(**TINY_DATA)
    for _ in range(3):
        (ca, sa), (cb, sb) = next(a), next(b)
        assert torch.equal(ca, cb) and torch.equal(sa, sb)
    assert ca.shape == sa.shape == (2, 3, 16, 16) and 0 <= ca.min() and ca.max() <= 1
    state = a.state_dict()
    after = [next(a) for _ in range(3)]  # crosses a pool refresh (every 2 batches)
    c = TrainingData(**TINY_DATA)
    c.load_state_dict(state)
    for (x1, y1), (x2, y2) in zip(after, [next(c) for _ in range(3)]):
        assert torch.equal(x1, x2) and torch.equal(y1, y2)
    other = TrainingData(**{**TINY_DATA, "seed": 1})
    assert not torch.equal(next(other)[0], next(TrainingData(**TINY_DATA))[0])
    with pytest.raises(StylelabError, match="same size, batch"):
        other.load_state_dict(TrainingData(**{**TINY_DATA, "batch": 3}).state_dict())


def test_data_holds_out_eval_content_and_seeds():
    assert not set(EVAL_CONTENT) & set(train_content_names())
    data = TrainingData(**TINY_DATA)
    for _ in range(5):
        next(data)  # refreshes the pool twice
    assert all(spec.seed >= FIRST_TRAIN_SEED for spec in data.pool_specs)


def test_data_reads_folders(tmp_path):
    for i in range(2):
        Image.new("RGB", (40, 30), (200, 10 * i, 0)).save(tmp_path / f"red{i}.png")
    data = TrainingData(
        **{**TINY_DATA, "batch": 8}, content_dir=str(tmp_path), style_dir=str(tmp_path)
    )
    assert len(data.content_files) == len(data.style_files) == 2
    content, style = next(data)
    assert content.shape == (8, 3, 16, 16)
    with pytest.raises(StylelabError, match="not a folder"):
        TrainingData(**TINY_DATA, content_dir=str(tmp_path / "nope"))


# -- CLI: the real encoder, tiny sizes -----------------------------------------------------------

TINY_RUN = [
    "train",
    "adain",
    "--size",
    "32",
    "--batch",
    "1",
    "--width",
    "0.125",
    "--threads",
    "1",
    "--style-pool",
    "2",
    "--sample-every",
    "2",
    "--checkpoint-every",
    "2",
    "--no-progress",
    "--device",
    "cpu",
]


def test_cli_resume_is_bit_identical_and_guards_the_run_folder(tmp_path, capsys):
    from safetensors.torch import load_file

    assert main([*TINY_RUN, "--steps", "4", "--out", str(tmp_path / "a")]) == 0
    assert main([*TINY_RUN, "--steps", "2", "--out", str(tmp_path / "b")]) == 0
    assert main([*TINY_RUN, "--steps", "4", "--out", str(tmp_path / "b"), "--resume"]) == 0
    wa, wb = (
        load_file(tmp_path / "a" / "final.safetensors"),
        load_file(tmp_path / "b" / "final.safetensors"),
    )
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    samples = sorted(p.name for p in (tmp_path / "a" / "samples").iterdir())
    assert samples == ["step_000000.png", "step_000002.png", "step_000004.png"]
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert config["encoder"] != "auto" and config["width"] == 0.125
    capsys.readouterr()

    # a non-empty run folder needs --resume or --force; --force deletes only run files
    (tmp_path / "a" / "notes.txt").write_text("mine")
    assert main([*TINY_RUN, "--steps", "1", "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--resume" in err[0] and "--force" in err[0]
    assert main([*TINY_RUN, "--steps", "1", "--out", str(tmp_path / "a"), "--force"]) == 0
    assert (tmp_path / "a" / "notes.txt").read_text() == "mine"
    assert len((tmp_path / "a" / "log.jsonl").read_text().splitlines()) == 1
    assert main([*TINY_RUN, "--steps", "1", "--out", str(tmp_path / "c"), "--resume"]) == 2
    assert "nothing to resume" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, match",
    [
        (["--steps", "0"], "--steps"),
        (["--size", "8"], "--size"),
        (["--batch", "0"], "--batch"),
        (
            ["--device", "cuda:7"] if not torch.cuda.is_available() else ["--size", "9999"],
            "GPU|--size",
        ),
    ],
)
def test_cli_rejects_bad_arguments(tmp_path, capsys, args, match):
    assert main([*TINY_RUN, "--out", str(tmp_path / "x"), *args]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert re.search(match, err)


def test_cli_publish_ships_weights_that_zoo_loads(tmp_path, isolated_weights, capsys):
    from stylelab.core import weights
    from stylelab.training import zoo

    out = tmp_path / "run"
    assert main([*TINY_RUN, "--steps", "2", "--out", str(out), "--publish"]) == 0
    entry = weights.manifest_entry("adain")
    assert entry["steps"] == 2 and entry["encoder"] == "mobilenetv2"
    assert "--steps 2" in entry["command"] and "--width 0.125" in entry["command"]
    model = zoo.load("adain")
    assert model.decoder.width == 0.125
    assert "published adain" in capsys.readouterr().out


def test_cli_init_from_fine_tunes_and_counts_the_earlier_steps(tmp_path, isolated_weights, capsys):
    """--init-from starts from another run's weights (not its optimizer or step) and the
    published entry counts both stages; --identity-weight adds the identity term to the log."""
    from safetensors.torch import load_file

    from stylelab.core import weights

    first = tmp_path / "first"
    assert main([*TINY_RUN, "--steps", "2", "--out", str(first)]) == 0
    second = tmp_path / "second"
    tuned = [*TINY_RUN, "--out", str(second), "--identity-weight", "10"]
    init = ["--init-from", str(first / "checkpoint.pt")]
    assert main([*tuned, "--steps", "1", *init]) == 0
    log = [json.loads(ln) for ln in (second / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1] and log[0]["identity"] > 0
    config = json.loads((second / "config.json").read_text())
    assert config["identity_weight"] == 10 and config["init_from"]["steps"] == 2
    assert "--steps 2 " in config["init_from"]["command"]  # how to make the init again
    # step 1 from the first run's weights: different from step 1 from scratch
    scratch = tmp_path / "scratch"
    assert main([*TINY_RUN, "--out", str(scratch), "--identity-weight", "10", "--steps", "1"]) == 0
    a, b = load_file(second / "final.safetensors"), load_file(scratch / "final.safetensors")
    assert any(not torch.equal(a[k], b[k]) for k in a)
    # resume continues the fine-tuning run (its own checkpoint, not the init) and publishes
    assert main([*tuned, "--steps", "2", "--resume", "--publish"]) == 0
    entry = weights.manifest_entry("adain")
    assert entry["steps"] == 2 + 2 and entry["init_from"]["steps"] == 2
    assert entry["config"]["identity_weight"] == 10
    assert "--identity-weight 10" in entry["command"] and "--init-from" in entry["command"]
    # a third stage from the second: the chain and every stage's steps are kept
    third = tmp_path / "third"
    init2 = ["--init-from", str(second / "checkpoint.pt")]
    assert main([*TINY_RUN, "--out", str(third), "--steps", "3", *init2, "--publish"]) == 0
    entry = weights.manifest_entry("adain")
    assert entry["steps"] == 2 + 2 + 3
    assert entry["init_from"]["steps"] == 2 and str(second) in entry["init_from"]["path"]
    assert entry["init_from"]["init_from"]["path"] == str(first / "checkpoint.pt")
    assert [i["steps"] for i in init_chain(entry)] == [2, 2]
    capsys.readouterr()


def test_cli_init_from_rejects_a_missing_or_foreign_file(tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_text("not a checkpoint")
    for path in (tmp_path / "missing.pt", bad):
        out = tmp_path / f"run-{path.stem}"
        assert main([*TINY_RUN, "--steps", "1", "--out", str(out), "--init-from", str(path)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "--init-from" in err[0]
