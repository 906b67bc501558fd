"""Ablations: the partial loader, and `stylelab ablate`'s fine-tunes and table on tiny runs."""

import json

import pytest
import torch

from stylelab.core.errors import StylelabError
from stylelab.encoders import load_encoder
from stylelab.rwkv.style_rwkv import from_config
from stylelab.training import ablations
from stylelab.training.runs import load_partial, retrain_command

TINY = {"dim": 4, "blocks": [1, 1, 1, 1], "patch": 2, "width": 0.125}
TINY_ARGS = ["--size", "32", "--batch", "1", "--width", "0.125", "--encoder", "mobilenetv2",
             "--style-pool", "2", "--set", "dim=4", "--set", "patch=2"]  # fmt: skip


def _net(**changes):
    torch.manual_seed(0)
    return from_config(load_encoder("mobilenetv2"), {**TINY, **changes})


def test_partial_load_keeps_the_passes_both_models_have():
    trained, more = _net(recurrence=2), _net(recurrence=3)
    with torch.no_grad():
        for p in trained.parameters():
            p.add_(1.0)  # so "copied" and "left at init" differ
    init = {k: v.clone() for k, v in more.trainable_state_dict().items()}
    report = load_partial(more, trained.trainable_state_dict())
    after, theirs = more.trainable_state_dict(), trained.trainable_state_dict()
    decay = [k for k in report["rows"] if k.endswith("spatial_decay")]
    assert decay and not report["fresh"] and not report["unused"]
    for key in report["rows"]:  # (q, C): rows 0-1 from the trained model, row 2 as initialised
        assert torch.equal(after[key][:2], theirs[key]) and torch.equal(after[key][2], init[key][2])
    key = next(k for k in after if k not in report["rows"])
    assert torch.equal(after[key], theirs[key])


def test_partial_load_of_another_shift_reports_what_it_left():
    deform, omni = _net(shift="deform"), _net(shift="omni")
    report = load_partial(omni, deform.trainable_state_dict())
    assert any("conv5x5" in k for k in report["fresh"])  # omni's own: initialised
    assert any(".offset." in k for k in report["unused"])  # deform's own: nowhere to go
    with pytest.raises(StylelabError, match="no tensor"):
        load_partial(omni, {"nothing.weight": torch.zeros(1)})


def test_retrain_command_carries_set_and_partial():
    config = {"model": "style_rwkv", "size": 32, "batch": 1, "width": 0.25, "lr": 2e-4,
              "style_weight": 10.0, "encoder": "mobilenetv2", "style_pool": 2, "seed": 0,
              "recurrence": 3, "blocks": [1, 1, 1, 1], "shift": "deform",
              "set": {"recurrence": 3}, "init_from": {"path": "run/checkpoint.pt", "partial": True}}  # fmt: skip
    command = retrain_command(config, 10, "out")
    assert "--set recurrence=3" in command and "--init-partial" in command
    assert "blocks" not in command and "shift=" not in command  # only what --set gave


def test_ablate_fine_tunes_resumes_and_scores(tmp_path, capsys):
    from stylelab.cli import main

    start = tmp_path / "start"
    assert main(["train", "style_rwkv", *TINY_ARGS, "--steps", "2", "--out", str(start),
                 "--threads", "1", "--no-progress"]) == 0  # fmt: skip
    names = ["as trained", "q=3", "shift=q-shift"]
    out = tmp_path / "abl"
    ablations.run("style_rwkv", start, out, 2, 1, names[:2], extra=TINY_ARGS)
    config = json.loads((out / "q_3" / "config.json").read_text())
    assert config["recurrence"] == 3 and config["init_from"]["partial"] is True
    assert config["dim"] == 4 and config["shift"] == "deform"
    assert config["set"] == {"dim": 4, "patch": 2, "recurrence": 3}
    ablations.run("style_rwkv", start, out, 2, 1, names, extra=TINY_ARGS)  # the first two: skipped
    report = ablations.evaluate("style_rwkv", out, size=64, names=names)
    rows = report["methods"]
    assert list(rows) == names and rows["q=3"]["changed"] == {"recurrence": 3}
    assert all(r["steps"] == 2 and r["start_steps"] == 2 for r in rows.values())
    assert all(0 < r["ssim"] <= 1 and r["final_losses"]["total"] > 0 for r in rows.values())
    json_path = tmp_path / "table.json"
    argv = ["ablate", "style_rwkv", "--from", str(start), "--steps", "2", "--out", str(out),
            "--json", str(json_path), "--only", "q=3", "--size", "64", "--threads", "1"]  # fmt: skip
    assert main(argv) == 0 and json.loads(json_path.read_text())["methods"]["q=3"]["steps"] == 2
    assert main(argv) == 2  # the table exists: not overwritten without --force
    assert "--force" in capsys.readouterr().err
    assert main([*argv[:-6], "--only", "q=7", "--force"]) == 2
    assert "unknown ablation ['q=7']" in capsys.readouterr().err
