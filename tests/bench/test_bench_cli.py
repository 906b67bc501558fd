"""What every `stylelab bench` suite's command line promises: it never overwrites a result
without --force, and it refuses a thread count below 1 before measuring anything."""

from __future__ import annotations

import re

import pytest
from conftest import run_cli

from stylelab.bench import adain as bench_adain
from stylelab.bench import scans as bench_scans
from stylelab.core.errors import StylelabError

SUITES = {"adain": bench_adain, "scans": bench_scans}


@pytest.mark.parametrize("option", ["--json", "--plot"])
@pytest.mark.parametrize("suite", list(SUITES))
def test_existing_outputs_are_not_overwritten_without_force(tmp_path, suite, option):
    paths = {"--json": tmp_path / f"{suite}.json", "--plot": tmp_path / f"{suite}.png"}
    paths[option].write_text("mine")
    argv = [arg for opt, path in paths.items() for arg in (opt, str(path))]
    refusal = f"{re.escape(str(paths[option]))} exists; pass --force"
    with pytest.raises(StylelabError, match=refusal):
        run_cli(SUITES[suite], *argv, "--quick")
    assert paths[option].read_text() == "mine"
    assert [p.name for p in tmp_path.iterdir()] == [paths[option].name]  # nothing else written


@pytest.mark.parametrize("suite", list(SUITES))
def test_threads_below_one_are_refused(tmp_path, suite):
    with pytest.raises(StylelabError, match="--threads must be >= 1"):
        run_cli(SUITES[suite], "--json", str(tmp_path / "new.json"), "--quick", "--threads", "0")
    assert not any(tmp_path.iterdir())
