"""`stylelab bench ss2d`: the sizes and refusals, the time and memory guards and an out of
memory in the child (faked timings), the goals from synthetic results, the child process, and
one real run on 4x4 and 8x8 token grids.

Speed is measured by the suite, never asserted here.
"""

from __future__ import annotations

import argparse
import json
import math

import pytest
from conftest import run_cli
from PIL import Image

from stylelab.bench import ss2d
from stylelab.bench import ss2d_report as report
from stylelab.cli import bench as cli_bench
from stylelab.cli import main
from stylelab.core.errors import StylelabError

GIB, MIB = 2**30, 2**20
KEYS = ["ss2d", "ss2d_backward", "ss2d_torch_loop", "ss2d_torch_loop_backward"]

# --- the command line ------------------------------------------------------------------------


def test_sizes_and_backends_default_and_parse():
    assert ss2d.parse_sizes(None) == [256, 512, 1024, 2048]
    assert ss2d.parse_sizes(None, quick=True) == [32, 64]
    assert ss2d.parse_sizes("32, 64,2048") == [32, 64, 2048]
    assert ss2d.parse_backends("torch_loop,numba") == ["numba", "torch_loop"]
    assert ss2d.key("numba", "forward") == "ss2d"
    assert ss2d.key("torch", "backward") == "ss2d_torch_backward"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("256,big", "must be integers"),
        ("2.5", "must be integers"),
        ("0,256", "at least 8"),
        (",", "at least 8"),
        ("256,300", "multiples of 8"),
        ("512,256", "ascending without repeats"),
        ("256,256", "ascending without repeats"),
    ],
)
def test_bad_sizes_are_one_line_errors(text, why):
    with pytest.raises(StylelabError, match=why) as err:
        ss2d.parse_sizes(text)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("text", "why"),
    [("numba,cuda", "at most once"), ("numba,numba", "at most once"), ("torch", "include numba")],
)
def test_bad_backends_are_one_line_errors(text, why):
    with pytest.raises(StylelabError, match=why) as err:
        ss2d.parse_backends(text)
    assert "\n" not in str(err.value)


def _never(*args, **kwargs):
    raise AssertionError("measured although the command was refused")


@pytest.mark.parametrize("sizes", ["30,64", "64,big"])
def test_bad_sizes_exit_2_with_one_line(tmp_path, monkeypatch, capsys, sizes):
    monkeypatch.setattr(ss2d, "measure", _never)
    out = tmp_path / "s.json"
    assert main(["bench", "ss2d", "--json", str(out), "--sizes", sizes]) == 2
    err = capsys.readouterr().err
    assert err.startswith("stylelab bench: error: --sizes must") and err.count("\n") == 1
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("which", ["json", "plot"])
def test_existing_outputs_are_refused_before_any_work(tmp_path, monkeypatch, which):
    monkeypatch.setattr(ss2d, "measure", _never)
    paths = {"json": tmp_path / "s.json", "plot": tmp_path / "s.png"}  # the plot's default
    paths[which].write_text("mine")
    # through the router, so the SUITES entry is the one the CLI uses; bad sizes come second
    args = argparse.Namespace(
        suite="ss2d", suite_args=["--json", str(paths["json"]), "--sizes", "x"]
    )
    with pytest.raises(StylelabError, match="exists; pass --force") as err:
        cli_bench.run(args)
    assert "\n" not in str(err.value)
    assert paths[which].read_text() == "mine"
    assert [p.name for p in tmp_path.iterdir()] == [paths[which].name]


@pytest.mark.parametrize("flag", ["--threads", "--max-call-s"])
def test_counts_below_one_are_refused(tmp_path, monkeypatch, flag):
    monkeypatch.setattr(ss2d, "measure", _never)
    with pytest.raises(StylelabError, match=f"{flag} must be"):
        run_cli(ss2d, "--json", str(tmp_path / "s.json"), flag, "0")
    assert not any(tmp_path.iterdir())


# --- the guards, with faked timings and peaks --------------------------------------------------

# seconds per token of each (backend, mode); the fake peaks are COPIES slices of 64 KiB a token
SECONDS = {
    ("numba", "forward"): 1e-5,
    ("numba", "backward"): 4e-5,
    ("torch_loop", "forward"): 1e-4,
    ("torch_loop", "backward"): 1e-3,
    ("torch", "forward"): 1e-4,
    ("torch", "backward"): 2e-4,
}


@pytest.fixture
def fakes(monkeypatch):
    """No layer is run: make_call returns what it would time; returns the probes made."""
    probes = []

    def make_call(layer, backend, mode, content, style):
        return backend, mode, content.shape[1] * ss2d.PATCH

    def time_one(call, quick):
        backend, mode, side = call
        s = SECONDS[(backend, mode)] * ss2d.tokens(side)
        return {"median_s": s, "min_s": s, "repeats": 1, "warm_up": False}

    def probe(backend, side, threads, modes):
        probes.append((backend, side, tuple(modes)))
        return {
            m: {
                "peak_mib": ss2d.COPIES[(backend, m)] * ss2d.tokens(side) / 16,
                "process_peak_mib": 500.0,
                "peak_reset": True,
            }
            for m in modes
        }

    monkeypatch.setattr(ss2d, "build", lambda: None)
    monkeypatch.setattr(ss2d, "warm_up", lambda layer, backend: None)
    monkeypatch.setattr(ss2d, "make_call", make_call)
    monkeypatch.setattr(ss2d, "time_one", time_one)
    monkeypatch.setattr(ss2d, "peak_memory", probe)
    monkeypatch.setattr(ss2d, "available_bytes", lambda: 4 * GIB)
    return probes


def _run(tmp_path, *extra, sizes="64,128,256,512"):
    out = tmp_path / "s.json"
    argv = ["--json", str(out), "--sizes", sizes, "--threads", "1", *extra]
    assert run_cli(ss2d, *argv) == 0
    assert out.with_suffix(".png").stat().st_size > 0
    return json.loads(out.read_text())


def test_time_and_memory_guards_skip_and_stop_only_their_key(tmp_path, fakes):
    results = _run(tmp_path, "--backends", "numba,torch_loop,torch", "--max-call-s", "10")
    sizes = results["sizes"]
    # 1.0 s at 256 px, times 16 (quadratic in pixels) is over 10 s
    loop = sizes["512"]["ss2d_torch_loop_backward"]["error"]
    assert loop.startswith("skipped: would take about 16 s per call") and "10 s" in loop
    assert "seconds" in sizes["512"]["ss2d_torch_loop"]  # its forward goes on
    # the chunked backward: 128 slices of 64 KiB a token, 8 GiB at 256 px; 70% of 4 GiB free
    chunked = sizes["256"]["ss2d_torch_backward"]["error"]
    assert (
        chunked
        == "skipped: would need about 8.0 GiB (predicted); over 70% of the 4.0 GiB available"
    )
    assert sizes["512"]["ss2d_torch_backward"] == {
        "error": "not tried: ss2d_torch_backward did not run at 256 px"
    }
    assert sizes["512"]["ss2d_torch"]["error"].startswith("skipped: would need about 8.0 GiB")
    assert ("torch", 256, ("forward",)) in fakes and ("torch", 512, ()) not in fakes
    assert not any(b == "torch" and s == 512 for b, s, _ in fakes)  # nothing left to probe
    assert all("seconds" in sizes[s][k] for s in sizes for k in ("ss2d", "ss2d_backward"))
    assert results["fit"]["ss2d"] == pytest.approx(1.0)
    assert results["ratios"]["torch_loop_over_numba"]["backward"] == {
        s: pytest.approx(25.0) for s in ("64", "128", "256")
    }
    assert results["goals"]["numba_10x_torch_loop"]["met"]
    assert "at 256 px (1024 tokens)" in results["goals"]["numba_10x_torch_loop"]["detail"]


def test_memory_guard_scales_the_previous_peak():
    slices = ss2d.COPIES[("numba", "backward")] * 64 * 1024 * ss2d.tokens(512)
    assert ss2d.predicted_bytes("numba", "backward", 512, None) == slices
    # a measured peak above the model wins, times the token ratio (4 from 256 to 512 px)
    assert ss2d.predicted_bytes("numba", "backward", 512, (256, 1000.0)) == 4000 * MIB
    assert ss2d.memory_guard(3 * GIB, 4 * GIB) == (
        "would need about 3.0 GiB (predicted); over 70% of the 4.0 GiB available"
    )
    assert ss2d.memory_guard(2 * GIB, 4 * GIB) is None
    assert ss2d.memory_guard(3 * GIB, None) is None  # no /proc/meminfo


def test_out_of_memory_in_the_child_is_recorded_and_larger_sizes_not_tried(
    tmp_path, fakes, monkeypatch
):
    killed = ss2d.child_result(-9, "", "")
    probe = ss2d.peak_memory

    def dies(backend, side, threads, modes):
        if backend == "torch_loop" and side >= 128:
            return dict.fromkeys(modes, killed)
        return probe(backend, side, threads, modes)

    monkeypatch.setattr(ss2d, "peak_memory", dies)
    results = _run(tmp_path)
    loop = {s: row["ss2d_torch_loop"] for s, row in results["sizes"].items()}
    assert "seconds" in loop["64"] and "SIGKILL" in loop["128"]["error"]
    assert loop["256"] == {"error": "not tried: ss2d_torch_loop did not run at 128 px"}
    assert not any(b == "torch_loop" and s > 128 for b, s, _ in fakes)
    assert results["fit"]["ss2d_torch_loop"] is None
    assert list(results["ratios"]["torch_loop_over_numba"]["backward"]) == ["64"]


# --- the goals -------------------------------------------------------------------------------


def _synthetic(numba_s, loop_backward_s):
    """Results over 256..1024 px: numba's forward seconds, the loop's backward (or None)."""
    results = {
        "d_model": 128,
        "d_state": 16,
        "backends": {"numba": "", "torch_loop": ""},
        "keys": dict.fromkeys(KEYS, ""),
        "tokens": {"256": 1024, "512": 4096, "1024": 16384},
        "sizes": {},
    }
    for i, side in enumerate(results["tokens"]):
        loop = loop_backward_s[i]
        results["sizes"][side] = {
            "ss2d": {"seconds": numba_s[i], "peak_mib": 1.0},
            "ss2d_backward": {"seconds": 0.1 * 4**i, "peak_mib": 1.0},
            "ss2d_torch_loop": {"seconds": 1.0, "peak_mib": 1.0},
            "ss2d_torch_loop_backward": (
                {"error": "skipped: too slow"} if loop is None else {"seconds": loop, "peak_mib": 1}
            ),
        }
    report.finish(results)
    return results


def test_goals_met_and_not_met():
    met = _synthetic((0.01, 0.04, 0.16), (2.0, 8.0, None))  # the loop stopped at 1024
    assert all(g["met"] for g in met["goals"].values()), met["goals"]
    assert met["fit"]["ss2d"] == pytest.approx(1.0)
    assert met["ratios"]["torch_loop_over_numba"]["backward"] == {"256": 20.0, "512": 20.0}
    assert "at 512 px (4096 tokens)" in met["goals"]["numba_10x_torch_loop"]["detail"]
    assert "(goal <= 1.1: met)" in met["headline"] and "20.0x the torch loop" in met["headline"]
    missed = _synthetic((0.01, 0.08, 0.64), (0.5, 2.0, 8.0))  # quadratic; 5x
    assert not any(g["met"] for g in missed["goals"].values()), missed["goals"]
    assert missed["fit"]["ss2d"] == pytest.approx(1.5)
    assert "5.0x" in missed["goals"]["numba_10x_torch_loop"]["detail"]
    assert "NOT met" in missed["headline"]
    none = _synthetic((0.01, 0.04, 0.16), (None, None, None))
    assert "not evaluated" in none["goals"]["numba_10x_torch_loop"]["detail"]
    assert not none["goals"]["numba_10x_torch_loop"]["met"]


# --- the child and one real run ----------------------------------------------------------------


def test_the_memory_child_runs_in_a_fresh_process():
    peaks = ss2d.peak_memory("numba", 16, 1, ["forward", "backward"])
    for mode in ("forward", "backward"):
        assert math.isfinite(peaks[mode]["peak_mib"]) and peaks[mode]["process_peak_mib"] > 0


def test_tiny_run_end_to_end(tmp_path, monkeypatch, capsys):
    # the child's work in this process (a fresh process each is the test above's)
    monkeypatch.setattr(
        ss2d, "peak_memory", lambda b, side, threads, modes: ss2d._child(b, side, threads, modes)
    )
    out, png = tmp_path / "ss2d.json", tmp_path / "ss2d.png"
    argv = ("--json", str(out), "--sizes", "32,64", "--quick", "--threads", "1")
    assert run_cli(ss2d, *argv, "--max-call-s", "60") == 0
    results = json.loads(out.read_text())
    assert results["suite"] == "ss2d" and results["quick"] is True
    assert results["d_model"] == 128 and results["d_state"] == 16 and results["patch"] == 8
    assert results["threads"]["torch"] == 1 and "--sizes 32,64" in results["command"]
    assert results["machine"]["cpu"] and results["versions"]["numba"]
    assert results["versions"]["torch"] and results["date"]
    assert list(results["sizes"]) == ["32", "64"]
    assert results["tokens"] == {"32": 16, "64": 64}
    for row in results["sizes"].values():
        assert list(row) == KEYS
        for entry in row.values():
            assert entry["seconds"] > 0 and math.isfinite(entry["peak_mib"]), entry
    for name in KEYS:
        assert isinstance(results["fit"][name], float)
    for mode in ("forward", "backward"):
        ratio = results["ratios"]["torch_loop_over_numba"][mode]["64"]
        assert isinstance(ratio, float) and ratio > 0
    assert set(results["goals"]) == set(report.GOALS)
    assert all(isinstance(g["met"], bool) and g["detail"] for g in results["goals"].values())
    assert results["headline"].startswith("SS2D cross")
    with Image.open(png) as img:
        assert img.width <= 940  # 9.4 in at 100 dpi
    printed = capsys.readouterr().out
    assert "ss2d_torch_loop_backward" in printed and "goal numba_10x_torch_loop" in printed
    with pytest.raises(StylelabError, match="exists; pass --force"):
        run_cli(ss2d, *argv)
