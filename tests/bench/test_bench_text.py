"""`stylelab bench text`: the quick run writes its JSON, images and plot; the summary's arithmetic."""

import json

import pytest
from conftest import run_cli

from stylelab.bench import text
from stylelab.core.errors import StylelabError


def test_quick_run_writes_everything_and_refuses_to_overwrite(tmp_path):
    out = tmp_path / "text.json"
    assert run_cli(text, "--json", str(out), "--quick", "--threads", "2") == 0
    result = json.loads(out.read_text())
    assert result["quick"] and result["steps"] == 3 and len(result["runs"]) == 2
    for run in result["runs"]:
        assert len(run["dir"]) == 3 and run["seconds_per_step"] > 0
        assert (tmp_path / result["images"] / run["image"]).is_file()
    assert {"stylemamba", "clipstyler", "goal_met"} <= set(result["summary"])
    assert out.with_suffix(".png").is_file()
    with pytest.raises(StylelabError, match="--force"):
        run_cli(text, "--json", str(out), "--quick")


def test_summary_counts_unreached_runs_as_one_past_the_end():
    runs = [
        {"method": "stylemamba", "steps_to_threshold": 10, "seconds_per_step": 1.0,
         "final_dir": 0.4, "final_content": 0.5},
        {"method": "stylemamba", "steps_to_threshold": 20, "seconds_per_step": 1.0,
         "final_dir": 0.4, "final_content": 0.5},
        {"method": "clipstyler", "steps_to_threshold": None, "seconds_per_step": 0.5,
         "final_dir": 0.6, "final_content": 0.4},
        {"method": "clipstyler", "steps_to_threshold": 60, "seconds_per_step": 0.5,
         "final_dir": 0.6, "final_content": 0.4},
    ]  # fmt: skip
    s = text.summarise(runs, steps=100)
    assert s["stylemamba"]["median_steps_to_threshold"] == 15
    assert s["clipstyler"]["median_steps_to_threshold"] == (101 + 60) / 2
    assert s["step_ratio_clipstyler_over_stylemamba"] == pytest.approx(80.5 / 15)
    assert s["ratio_is_lower_bound"] and s["goal_met"]
