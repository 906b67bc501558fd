"""`stylelab bench attention`: the sizes, the refusals, the memory and time guards, an out of
memory in the child (fake layers), the goals from synthetic results, and one real --quick run.

Speed is measured by the suite, never asserted here.
"""

from __future__ import annotations

import argparse
import json
import math
import signal

import pytest
import torch
from conftest import run_cli
from PIL import Image

from stylelab.bench import attention
from stylelab.bench import attention_report as report
from stylelab.bench.timing import time_guard
from stylelab.cli import bench as cli_bench
from stylelab.core.errors import StylelabError

GIB = 2**30

# --- the command line ------------------------------------------------------------------------


def test_sizes_default_and_parse():
    assert attention.parse_sizes(None) == [256, 512, 1024, 2048]
    assert attention.parse_sizes(None, quick=True) == [64, 128]
    assert attention.parse_sizes("64, 192,2048") == [64, 192, 2048]


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("256,big", "must be integers"),
        ("2.5", "must be integers"),
        ("0,256", "at least 64"),
        (",", "at least 64"),
        ("256,300", "multiples of 64"),
        ("512,256", "ascending without repeats"),
        ("256,256", "ascending without repeats"),
    ],
)
def test_bad_sizes_are_one_line_errors(text, why):
    with pytest.raises(StylelabError, match=why) as err:
        attention.parse_sizes(text)
    assert "\n" not in str(err.value)


def _never(*args, **kwargs):
    raise AssertionError("measured although the command was refused")


@pytest.mark.parametrize("option", ["--json", "--plot"])
def test_existing_outputs_are_refused_before_any_work(tmp_path, monkeypatch, option):
    monkeypatch.setattr(attention, "measure", _never)
    monkeypatch.setattr(attention, "measure_method", _never)
    paths = {"--json": tmp_path / "a.json", "--plot": tmp_path / "a.png"}
    paths[option].write_text("mine")
    argv = [arg for opt, path in paths.items() for arg in (opt, str(path))]
    # through the router, so the SUITES entry is the one the CLI uses; bad sizes come second
    args = argparse.Namespace(suite="attention", suite_args=[*argv, "--sizes", "1,x"])
    with pytest.raises(StylelabError, match="exists; pass --force") as err:
        cli_bench.run(args)
    assert "\n" not in str(err.value)
    assert paths[option].read_text() == "mine"
    assert [p.name for p in tmp_path.iterdir()] == [paths[option].name]


@pytest.mark.parametrize("flag", ["--threads", "--repeats", "--max-call-s"])
def test_counts_below_one_are_refused(tmp_path, monkeypatch, flag):
    monkeypatch.setattr(attention, "measure", _never)
    with pytest.raises(StylelabError, match=f"{flag} must be"):
        run_cli(attention, "--json", str(tmp_path / "a.json"), flag, "0")
    assert not any(tmp_path.iterdir())


# --- the guards ------------------------------------------------------------------------------


def test_dense_scores_at_2048_are_refused_on_a_24_gib_machine():
    scores, total = attention.predicted_bytes("all_to_all", 2048, 192)
    assert scores == 8 * 65536**2 * 4 == 128 * GIB and total > 2 * scores
    why = attention.memory_guard("all_to_all", 2048, 192, 23 * GIB)
    assert why == "would need 128.0 GiB for the scores; 23.0 GiB available"
    # 1024: 8 GiB of scores fit, but the scores and their softmax (16 GiB) pass 70% of 20 GiB
    assert "over 70% of the 20.0 GiB" in attention.memory_guard("all_to_all", 1024, 192, 20 * GIB)
    assert attention.memory_guard("all_to_all", 1024, 192, 30 * GIB) is None
    assert attention.memory_guard("all_to_all_streamed", 2048, 192, 2 * GIB) is None
    assert attention.memory_guard("all_to_all", 2048, 192, None) is None  # no /proc/meminfo


def test_memory_is_predicted_smallest_for_streamed():
    dense, streamed, a2k, chunked = (
        attention.predicted_bytes(m, 1024, 192)[1] for m in attention.METHODS
    )
    assert streamed < a2k < dense / 10
    assert chunked <= a2k  # DA's scores bounded: the same at 1024 px, far less at 2048
    big_a2k, big_chunked = (
        attention.predicted_bytes(m, 4096, 192)[0] for m in ("a2k", "a2k_chunked")
    )
    assert big_chunked < big_a2k / 10


def test_time_guard_scales_quadratically_in_pixels():
    assert time_guard(512, None, 600) is None
    assert time_guard(1024, (512, 30.0), 600) is None  # 480 s
    why = time_guard(1024, (512, 40.0), 600)
    assert why.startswith("would take about 640 s per forward") and "600 s" in why


class FakeLayer(torch.nn.Module):
    """Returns the content; raises `error` from image side `fails_from` on."""

    def __init__(self, calls, fails_from=None, error=MemoryError):
        super().__init__()
        self.calls, self.fails_from, self.error = calls, fails_from, error

    def forward(self, content, style):
        side = content.shape[-1] * attention.STRIDE
        self.calls.append(side)
        if self.fails_from is not None and side >= self.fails_from:
            raise self.error(f"fake: can't allocate memory at {side} px")
        return content.clone()


@pytest.fixture
def fakes(monkeypatch):
    """Fake layers and a fake memory probe: {method: FakeLayer kwargs}, calls, probes."""
    spec, calls, probes = {}, {m: [] for m in attention.METHODS}, []

    def build(method, channels, heads=8, region=8):
        return FakeLayer(calls[method], **spec.get(method, {}))

    def probe(method, side, threads, channels):
        probes.append((method, side))
        return {"peak_mib": side / 8, "process_peak_mib": 500.0}

    monkeypatch.setattr(attention, "build", build)
    monkeypatch.setattr(attention, "peak_memory", probe)
    monkeypatch.setattr(attention, "available_bytes", lambda: 64 * GIB)
    return spec, calls, probes


def _run(tmp_path, sizes="64,128,256,512"):
    out, png = tmp_path / "a.json", tmp_path / "a.png"
    argv = ["--json", str(out), "--plot", str(png), "--sizes", sizes, "--repeats", "1"]
    assert run_cli(attention, *argv, "--threads", "1") == 0
    assert png.stat().st_size > 0
    return json.loads(out.read_text())


def test_small_memory_skips_dense_before_running_it(tmp_path, fakes, monkeypatch):
    _, calls, probes = fakes
    # 100 MiB free: dense at 256 px (32 MiB of scores, ~76 MiB in all) passes 70% of it
    monkeypatch.setattr(attention, "available_bytes", lambda: 100 * 2**20)
    sizes = _run(tmp_path)["sizes"]
    assert "seconds" in sizes["128"]["all_to_all"]
    assert sizes["256"]["all_to_all"]["error"].startswith("skipped: would need about")
    assert "over 70% of the 100.0 MiB available" in sizes["256"]["all_to_all"]["error"]
    assert sizes["512"]["all_to_all"]["error"] == "not tried: all_to_all failed at 256 px"
    assert 256 not in calls["all_to_all"] and ("all_to_all", 256) not in probes
    assert 512 not in calls["all_to_all"] and ("all_to_all", 512) not in probes
    assert "seconds" in sizes["512"]["all_to_all_streamed"]  # the others are not stopped
    # less than the scores alone: the first message
    monkeypatch.setattr(attention, "available_bytes", lambda: 20 * 2**20)
    sizes = _run(tmp_path / "b")["sizes"]
    assert sizes["256"]["all_to_all"]["error"] == (
        "skipped: would need 32.0 MiB for the scores; 20.0 MiB available"
    )


def test_out_of_memory_in_the_child_is_recorded_and_larger_sizes_skipped(
    tmp_path, fakes, monkeypatch
):
    _, calls, probes = fakes
    killed = attention.child_result(-signal.SIGKILL, "", "")

    def probe(method, side, threads, channels):
        probes.append((method, side))
        if method == "a2k" and side >= 128:
            return killed
        return {"peak_mib": side / 8, "process_peak_mib": 500.0}

    monkeypatch.setattr(attention, "peak_memory", probe)
    results = _run(tmp_path)
    a2k = {k: row["a2k"] for k, row in results["sizes"].items()}
    assert "seconds" in a2k["64"] and "SIGKILL" in a2k["128"]["error"]
    assert a2k["256"] == a2k["512"] == {"error": "not tried: a2k failed at 128 px"}
    assert 128 not in calls["a2k"] and ("a2k", 256) not in probes  # not run after the kill
    assert list(results["samples_s"]["a2k"]) == ["64"]
    assert results["exponents"]["a2k"] == {"seconds": None, "peak_mib": None}
    assert all("seconds" in row["all_to_all"] for row in results["sizes"].values())


def test_out_of_memory_here_stops_that_method_and_other_errors_propagate(tmp_path, fakes):
    spec, calls, _ = fakes
    spec["all_to_all"] = {"fails_from": 256, "error": RuntimeError}
    sizes = _run(tmp_path)["sizes"]
    assert "can't allocate" in sizes["256"]["all_to_all"]["error"]
    assert sizes["512"]["all_to_all"]["error"].startswith("not tried")
    assert 512 not in calls["all_to_all"]
    spec["all_to_all"] = {"fails_from": 128, "error": ValueError}
    with pytest.raises(ValueError, match="fake"):
        _run(tmp_path / "b")


# --- the goals -------------------------------------------------------------------------------


def _synthetic(dense_1024, a2k_s=(0.1, 0.5, 2.0), streamed_mib=(5.0, 20.0, 80.0)):
    sizes = {}
    dense_rows = ({"seconds": 0.05, "peak_mib": 40.0}, {"seconds": 1.0, "peak_mib": 1000.0})
    for i, key in enumerate(("256", "512", "1024")):
        sizes[key] = {
            "all_to_all": dense_1024 if key == "1024" else dense_rows[i],
            "all_to_all_streamed": {"seconds": 1.0, "peak_mib": streamed_mib[i]},
            "a2k": {"seconds": a2k_s[i], "peak_mib": 10.0 * 4**i},
            "a2k_chunked": {"seconds": a2k_s[i], "peak_mib": 10.0 * 2**i},
        }
    results = {"sizes": sizes}
    results["exponents"] = {m: report.exponents(sizes, m) for m in attention.METHODS}
    return report.goals(results)


def test_goals_met():
    goals = _synthetic({"seconds": 20.0, "peak_mib": 16000.0})
    assert all(g["met"] for g in goals.values()), goals
    assert "dense 16000.0 MiB, A2K 160.0 MiB: 100.0x less" in goals[
        "a2k_memory_10x_less_at_1024"]["detail"]  # fmt: skip
    assert goals["streamed_memory_linear"]["detail"].startswith("exponent 1.00")
    # dense could not run at 1024: goals 1 and 2 count it for A2K
    goals = _synthetic({"error": "skipped: would need 8.0 GiB for the scores; 4.0 GiB available"})
    assert goals["a2k_memory_10x_less_at_1024"]["met"] and goals["a2k_faster_from_512"]["met"]
    assert "dense could not run" in goals["a2k_faster_from_512"]["detail"]


def test_goals_not_met():
    goals = _synthetic(
        {"seconds": 1.0, "peak_mib": 800.0}, a2k_s=(0.1, 0.5, 2.0), streamed_mib=(5, 40, 320)
    )
    assert not any(g["met"] for g in goals.values()), goals
    assert "5.0x less" in goals["a2k_memory_10x_less_at_1024"]["detail"]
    assert "1024 px: A2K 2.000 s, dense 1.000 s" in goals["a2k_faster_from_512"]["detail"]
    assert goals["streamed_memory_linear"]["detail"].startswith("exponent 1.50")
    unevaluated = report.goals(
        {
            "sizes": {"64": {m: {"seconds": 1.0, "peak_mib": 1.0} for m in attention.METHODS}},
            "exponents": {m: {"seconds": None, "peak_mib": None} for m in attention.METHODS},
        }
    )
    assert all(not g["met"] and "not evaluated" in g["detail"] for g in unevaluated.values())


# --- one real run ------------------------------------------------------------------------------


def test_quick_run_end_to_end(tmp_path, capsys):
    out, png = tmp_path / "attention.json", tmp_path / "attention.png"
    argv = ("--json", str(out), "--plot", str(png), "--quick", "--threads", "1")
    assert run_cli(attention, *argv) == 0
    results = json.loads(out.read_text())
    assert results["suite"] == "attention" and results["quick"] is True
    assert results["C"] == 192 and results["stride"] == 8
    assert results["heads"] == 8 and results["region"] == 8
    assert results["threads"]["torch"] == 1 and "--quick" in results["command"]
    assert results["machine"]["cpu"] and results["date"]
    assert list(results["sizes"]) == ["64", "128"]
    for row in results["sizes"].values():
        assert set(row) == set(attention.METHODS)
        for entry in row.values():
            for key in ("seconds", "peak_mib"):
                assert entry[key] > 0 and math.isfinite(entry[key]), entry
    assert all(len(s) == 1 for m in results["samples_s"].values() for s in m.values())
    assert set(results["goals"]) == set(report.GOALS)
    assert all(isinstance(g["met"], bool) and g["detail"] for g in results["goals"].values())
    with Image.open(png) as img:
        assert img.width <= 940  # 9.4 in at 100 dpi
    assert "all_to_all_streamed: 64 " in capsys.readouterr().out
    with pytest.raises(StylelabError, match="exists; pass --force"):
        run_cli(attention, *argv)
