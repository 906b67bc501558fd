"""--preset book|paper and --dry-run: what a preset sets, what wins over it, what the paper
recipe refuses to start without, and the schedules."""

from __future__ import annotations

import json

import pytest

from stylelab.cli import main
from stylelab.training.presets import COCO_EPOCH, PRESETS
from stylelab.training.trainer import EpochDecay, lr_factor

QUIET = ["--threads", "1", "--no-progress", "--style-pool", "2"]


def test_dry_run_prints_the_resolved_config_and_an_estimate(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = ["train", "a2k", "--preset", "paper", "--dry-run", "--size", "64", "--batch", "2"]
    assert main([*argv, *QUIET]) == 0
    out = capsys.readouterr().out
    config = json.loads(out[: out.index("\n}") + 2])
    assert config["size"] == 64 and config["batch"] == 2  # flags given explicitly win
    assert config["encoder"] == "vgg19" and config["lr"] == 2e-4 and config["preset"] == "paper"
    assert config["lr_schedule"] == "epochs" and config["epoch_steps"] == COCO_EPOCH // 8
    assert f"-> {PRESETS['a2k']['paper']['steps']:,} steps = " in out and "steps/s" in out
    assert "the bundled sampler" in out  # no folders: said, not hidden
    assert list(tmp_path.iterdir()) == []  # a dry run writes nothing


def test_the_book_preset_is_the_shipped_recipe(tmp_path):
    out = tmp_path / "run"
    argv = ["train", "adain", "--preset", "book", "--steps", "1", "--size", "64"]
    assert main([*argv, *QUIET, "--sample-every", "0", "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    book = PRESETS["adain"]["book"]
    assert config["lr"] == book["lr"] and config["width"] == book["width"]
    assert config["batch"] == book["batch"] and config["size"] == 64
    assert config["encoder"] == "mobilenetv2" and config["preset"] == "book"


def test_the_paper_recipe_says_what_it_is_missing(tmp_path, capsys):
    argv = ["train", "adain", "--preset", "paper", "--steps", "1", "--out", str(tmp_path / "r")]
    assert main(argv) == 2
    assert "give --content-dir and --style-dir" in capsys.readouterr().err
    assert main(["train", "all_to_all", "--preset", "paper", "--dry-run"]) == 2
    assert "no 'paper' preset for all_to_all; it has: book" in capsys.readouterr().err
    assert main(["train", "adain", "--steps", "1"]) == 2  # no --out, no --dry-run
    assert "--out is required" in capsys.readouterr().err


def test_schedules():
    decay = EpochDecay(epoch_steps=10, constant_epochs=2, factor=0.3)
    assert [decay(s) for s in (0, 19, 20, 29, 30)] == pytest.approx([1, 1, 0.3, 0.3, 0.09])
    assert lr_factor({"lr_decay": 0.5})(2) == pytest.approx(0.5)


def test_mamba_st_paper_preset_is_the_official_size(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = ["train", "mamba_st", "--preset", "paper", "--dry-run", "--size", "32", "--batch", "1"]
    assert main([*argv, *QUIET, "--dry-steps", "1"]) == 0
    out = capsys.readouterr().out
    config = json.loads(out[: out.index("\n}") + 2])
    assert (config["d_model"], config["depth"], config["lr"]) == (512, 3, 1e-4)
    assert config["lr_decay"] == 0.0 and config["identity_weight"] == 70.0  # constant lr
    assert f"-> {PRESETS['mamba_st']['paper']['steps']:,} steps = " in out


def test_no_recipe_defaults_carry_another_models():
    from stylelab.training.recipes import DEFAULTS

    for model, values in DEFAULTS.items():
        assert not set(values) & set(DEFAULTS), model  # e.g. a "mamba_st" key in a2k's
