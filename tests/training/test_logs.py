"""Training logs read as one story: a run and the runs it was fine-tuned from."""

from __future__ import annotations

import json

import pytest

from stylelab.core import weights
from stylelab.core.errors import StylelabError
from stylelab.core.paths import repo_root
from stylelab.training.logs import all_records, read_log, read_stages


def write_log(path, steps, **extra):
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"step": s, "lr": 1.0 / s, **extra}) for s in steps]
    path.write_text("\n".join(lines) + "\n")


def config(lr, init_from=None):
    out = {"model": "adain", "size": 16, "batch": 2, "lr": lr}
    if init_from is not None:
        out["init_from"] = init_from
    return out


def make_chain(run_dir):
    """A run fine-tuned twice: 3 steps from scratch, then 2, then the shipped 4."""
    first = {"path": "runs/a/checkpoint.pt", "steps": 3, "command": "train a"}
    second = {"path": "runs/b/checkpoint.pt", "steps": 2, "command": "train b", "init_from": first}
    for name, cfg, steps in (("stage1", config(1e-3), 3), ("stage2", config(5e-4, first), 2)):
        (run_dir / name).mkdir(parents=True)
        (run_dir / name / "config.json").write_text(json.dumps(cfg))
        write_log(run_dir / name / "log.jsonl", range(1, steps + 1), content=float(steps))
    (run_dir / "config.json").write_text(json.dumps(config(1e-4, second)))
    write_log(run_dir / "log.jsonl", range(1, 5), content=0.5, identity=0.1)


def test_read_log_sorts_shifts_and_keeps_the_last_record_of_a_step(tmp_path):
    log = tmp_path / "log.jsonl"
    rows = [{"step": 2, "loss": 2.0}, {"step": 1, "loss": 1.0}, {"step": 2, "loss": 2.5}]
    log.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    records = read_log(log, offset=10)
    assert [r["step"] for r in records] == [11, 12]
    assert [r["loss"] for r in records] == [1.0, 2.5]  # the resumed run's record of step 2


def test_read_log_names_the_bad_line(tmp_path):
    log = tmp_path / "log.jsonl"
    log.write_text('{"step": 1}\nnot json\n')
    with pytest.raises(StylelabError, match="line 2"):
        read_log(log)
    with pytest.raises(StylelabError, match="no training log"):
        read_log(tmp_path / "missing.jsonl")


def test_read_stages_puts_every_stage_on_one_step_axis(tmp_path):
    make_chain(tmp_path)
    stages = read_stages(tmp_path, command="train c")
    assert [s.number for s in stages] == [1, 2, 3]
    assert [s.start for s in stages] == [0, 3, 5]
    assert [s.last_step for s in stages] == [3, 5, 9]
    assert [s.command for s in stages] == ["train a", "train b", "train c"]
    assert [s.config["lr"] for s in stages] == [1e-3, 5e-4, 1e-4]
    steps = [r["step"] for r in all_records(stages)]
    assert steps == list(range(1, 10))
    # each record keeps its own run's values: stage 2's first record is its step 1
    assert stages[1].records[0]["lr"] == 1.0 and stages[1].records[0]["content"] == 2.0
    assert "identity" in stages[2].records[0] and "identity" not in stages[0].records[0]


def test_a_run_from_scratch_is_one_stage(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(config(1e-3)))
    write_log(tmp_path / "log.jsonl", [1, 2])
    (stage,) = read_stages(tmp_path)
    assert (stage.number, stage.start, stage.last_step, stage.command) == (1, 0, 2, None)


def test_a_missing_stage_folder_is_named(tmp_path):
    make_chain(tmp_path)
    (tmp_path / "stage2" / "config.json").unlink()
    with pytest.raises(StylelabError, match="stage2"):
        read_stages(tmp_path)


def test_the_shipped_adain_run_reads_to_the_published_step():
    entry = weights.manifest_entry("adain")
    stages = read_stages(repo_root() / "data" / "training" / "adain", command=entry["command"])
    assert stages[-1].last_step == entry["steps"]
    assert stages[-1].start == entry["init_from"]["steps"]
    steps = [r["step"] for r in all_records(stages)]
    assert steps == list(range(1, entry["steps"] + 1))


def test_a_shipped_base_is_not_a_stage_of_the_run(tmp_path):
    """The all-to-all baseline fine-tunes the shipped A2K: that run lives in its own folder."""
    base = {"name": "a2k", "sha256": "0" * 64, "steps": 3744, "command": "train a2k"}
    (tmp_path / "config.json").write_text(json.dumps({**config(2e-4), "base": base}))
    write_log(tmp_path / "log.jsonl", [1, 2, 3])
    (stage,) = read_stages(tmp_path, command="train all_to_all")
    assert (stage.number, stage.start, stage.last_step) == (1, 0, 3)


def test_the_shipped_attention_runs_read_to_their_steps():
    for name in ("a2k", "all_to_all"):
        entry = weights.manifest_entry(name)
        stages = read_stages(repo_root() / "data" / "training" / name, command=entry["command"])
        own = entry["steps"] - entry.get("base", {}).get("steps", 0)
        assert stages[-1].last_step == own, name
