"""`stylelab bench methods`: the exponent fit, the command line's refusals, what happens when
a method runs out of memory or has no weights (fake methods), and one real --quick run.

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

from stylelab.bench import methods
from stylelab.cli import bench as cli_bench
from stylelab.core.errors import StylelabError
from stylelab.training import zoo

# --- the fit -----------------------------------------------------------------------------------


@pytest.mark.parametrize("power", [1, 2])
def test_exponent_is_the_slope_against_pixels(power):
    sizes = [64, 128, 256, 512]
    values = [3e-4 * (s * s) ** power for s in sizes]
    assert methods.fit_exponent(sizes, values) == pytest.approx(power, abs=1e-9)


def test_exponent_needs_two_positive_points():
    assert methods.fit_exponent([256], [1.0]) is None
    assert methods.fit_exponent([], []) is None
    assert methods.fit_exponent([256, 512], [0.0, 4.0]) is None  # log(0) left out
    assert methods.fit_exponent([256, 512, 1024], [1.0, None, 256.0]) == pytest.approx(2.0)


# --- the command line ------------------------------------------------------------------------


def test_sizes_default_and_parse():
    assert methods.parse_sizes(None) == [256, 512, 1024, 2048]
    assert methods.parse_sizes(None, quick=True) == [64, 96]
    assert methods.parse_sizes("64, 100,2048") == [64, 100, 2048]


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("256,big", "must be integers"),
        ("2.5", "must be integers"),
        ("32,256", "at least 64"),
        (",", "at least 64"),
        ("512,256", "ascending without repeats"),
        ("256,256", "ascending without repeats"),
    ],
)
def test_bad_sizes_are_one_line_errors(text, why):
    with pytest.raises(StylelabError, match=why) as err:
        methods.parse_sizes(text)
    assert "\n" not in str(err.value)


def _never(*args, **kwargs):
    raise AssertionError("measured although the command was refused")


@pytest.mark.parametrize("option", ["--json", "--plot"])
def test_existing_outputs_are_refused_before_any_work(tmp_path, monkeypatch, option):
    monkeypatch.setattr(methods, "measure", _never)
    paths = {"--json": tmp_path / "m.json", "--plot": tmp_path / "m.png"}
    paths[option].write_text("mine")
    argv = [arg for opt, path in paths.items() for arg in (opt, str(path))]
    # through the router, so the SUITES entry is the one the CLI uses
    args = argparse.Namespace(suite="methods", suite_args=[*argv, "--sizes", "1,x"])
    with pytest.raises(StylelabError, match="exists; pass --force") as err:
        cli_bench.run(args)
    assert "\n" not in str(err.value)
    assert paths[option].read_text() == "mine"
    assert [p.name for p in tmp_path.iterdir()] == [paths[option].name]


@pytest.mark.parametrize("flag", ["--threads", "--repeats"])
def test_counts_below_one_are_refused(tmp_path, monkeypatch, flag):
    monkeypatch.setattr(methods, "measure", _never)
    with pytest.raises(StylelabError, match=f"{flag} must be >= 1"):
        run_cli(methods, "--json", str(tmp_path / "m.json"), flag, "0")
    assert not any(tmp_path.iterdir())


# --- fake methods: out of memory, missing weights ------------------------------------------------


class FakeMethod:
    """Stylizes by returning the content; raises `error` from side `fails_from` on."""

    def __init__(self, fails_from=None, error=MemoryError):
        self.fails_from, self.error, self.calls = fails_from, error, []

    def stylize(self, content, style):
        side = content.shape[-1]
        self.calls.append(side)
        if self.fails_from is not None and side >= self.fails_from:
            raise self.error(f"fake: can't allocate memory at {side} px")
        return content.clamp(0, 1)


@pytest.fixture
def fakes(monkeypatch):
    """zoo.names/load replaced by the dict this returns; no images painted, no subprocess."""
    models: dict = {}

    def load(name, device="cpu"):
        if isinstance(models[name], Exception):
            raise models[name]
        return models[name]

    def side_of(path):
        return int(path.stem.rsplit("_", 1)[1])

    monkeypatch.setattr(zoo, "names", lambda: tuple(models))
    monkeypatch.setattr(zoo, "load", load)
    monkeypatch.setattr(
        methods,
        "make_images",
        lambda size, folder: (folder / f"content_{size}.png", folder / f"style_{size}.png"),
    )
    monkeypatch.setattr(
        methods,
        "load_pair",
        lambda files: tuple(torch.rand(1, 3, side_of(f), side_of(f)) for f in files),
    )
    monkeypatch.setattr(
        methods,
        "peak_memory",
        lambda name, size, threads, folder: {"peak_mib": size / 8, "process_peak_mib": 500.0},
    )
    return models


def _run(tmp_path, *extra):
    out, png = tmp_path / "m.json", tmp_path / "m.png"
    argv = ["--json", str(out), "--plot", str(png), "--sizes", "64,128,256,512", "--repeats"]
    assert run_cli(methods, *argv, "1", "--threads", "1", *extra) == 0
    assert png.stat().st_size > 0
    return json.loads(out.read_text())


def test_out_of_memory_stops_that_method_only(tmp_path, fakes):
    fakes["oom"] = FakeMethod(fails_from=256)
    fakes["runtime_oom"] = FakeMethod(fails_from=128, error=RuntimeError)
    fakes["fine"] = FakeMethod()
    results = _run(tmp_path)["methods"]

    oom = results["oom"]
    assert list(oom["seconds"]) == ["64", "128"] and list(oom["peak_mib"]) == ["64", "128"]
    assert list(oom["errors"]) == ["256"] and "MemoryError" in oom["errors"]["256"]
    assert fakes["oom"].calls[-1] == 256  # 512 never tried
    assert oom["exponents"]["peak_mib"] == pytest.approx(0.5)  # size / 8: sqrt(pixels)
    assert oom["exponents"]["seconds"] is not None

    assert list(results["runtime_oom"]["seconds"]) == ["64"]
    assert "can't allocate" in results["runtime_oom"]["errors"]["128"]
    assert results["runtime_oom"]["exponents"] == {"seconds": None, "peak_mib": None}

    assert list(results["fine"]["seconds"]) == ["64", "128", "256", "512"]
    assert results["fine"]["errors"] == {}
    assert all(len(v) == 1 for v in results["fine"]["samples_s"].values())


def test_out_of_memory_in_the_child_skips_the_call_here(tmp_path, fakes, monkeypatch):
    fakes["killed"] = FakeMethod()
    killed = methods.child_result(-signal.SIGKILL, "", "")
    monkeypatch.setattr(
        methods,
        "peak_memory",
        lambda name, size, threads, folder: (
            killed if size >= 128 else {"peak_mib": 1.0, "process_peak_mib": 9.0}
        ),
    )
    res = _run(tmp_path)["methods"]["killed"]
    assert list(res["seconds"]) == ["64"] and list(res["errors"]) == ["128"]
    assert "SIGKILL" in res["errors"]["128"]
    assert 128 not in fakes["killed"].calls  # not run here after the child died


def test_other_errors_are_not_taken_for_out_of_memory(tmp_path, fakes):
    fakes["buggy"] = FakeMethod(fails_from=128, error=ValueError)
    with pytest.raises(ValueError, match="fake"):
        _run(tmp_path)


def test_child_exit_status_is_read(tmp_path):
    assert methods.child_result(0, 'x\n{"peak_mib": 3.0}\n', "") == {"peak_mib": 3.0}
    killed = methods.child_result(-signal.SIGKILL, "", "")
    assert killed["oom"] and "out-of-memory killer" in killed["error"]
    failed = methods.child_result(1, "", "Traceback...\nRuntimeError: CPU out of memory\n")
    assert failed["oom"] and failed["error"].endswith("RuntimeError: CPU out of memory")
    assert not methods.child_result(1, "", "ImportError: no\n")["oom"]
    assert methods.is_oom(RuntimeError("DefaultCPUAllocator: can't allocate memory"))
    assert not methods.is_oom(RuntimeError("shape mismatch"))


def test_missing_weights_are_recorded_and_the_others_run(tmp_path, fakes):
    reason = "data/weights/gone.safetensors is missing; train it with `stylelab train gone`"
    fakes["gone"] = StylelabError(reason)
    fakes["fine"] = FakeMethod()
    results = _run(tmp_path)
    assert results["methods"]["gone"] == {"error": reason}
    assert list(results["methods"]["fine"]["seconds"]) == ["64", "128", "256", "512"]


# --- one real run ------------------------------------------------------------------------------


def test_quick_run_of_the_zoo_end_to_end(tmp_path, capsys):
    out, png = tmp_path / "methods.json", tmp_path / "methods.png"
    argv = ("--json", str(out), "--plot", str(png), "--quick", "--threads", "1")
    assert run_cli(methods, *argv) == 0
    results = json.loads(out.read_text())
    assert results["suite"] == "methods" and results["quick"] is True
    assert results["sizes"] == [64, 96] and results["threads"] == {"torch": 1}
    assert results["machine"]["cpu"] and "--quick" in results["command"]
    assert set(results["methods"]) == set(zoo.names())
    res = results["methods"]["adain"]
    assert res["description"] and res["errors"] == {}
    for key in ("seconds", "peak_mib", "process_peak_mib", "warm_up_s"):
        assert list(res[key]) == ["64", "96"]
        assert all(v > 0 and math.isfinite(v) for v in res[key].values()), key
    assert all(len(s) == 1 and s[0] > 0 for s in res["samples_s"].values())
    assert all(isinstance(v, float) for v in res["exponents"].values())
    with Image.open(png) as img:
        assert img.width <= 940  # 9.4 in at 100 dpi
    assert "adain: 64²" in capsys.readouterr().out
    with pytest.raises(StylelabError, match="exists; pass --force"):
        run_cli(methods, *argv)


def test_a_size_predicted_too_slow_is_skipped_before_it_runs(tmp_path, fakes, monkeypatch):
    """--max-call-s: the previous size's time times the pixel ratio squared, checked first."""
    fakes["slow"] = FakeMethod()
    probed = []
    monkeypatch.setattr(methods, "time_call", lambda *a, **k: (0.5, [0.5]))  # 0.5 s a call
    monkeypatch.setattr(
        methods,
        "peak_memory",
        lambda name, size, threads, folder: (
            probed.append(size) or {"peak_mib": 1.0, "process_peak_mib": 9.0}
        ),
    )
    res = _run(tmp_path, "--max-call-s", "7")["methods"]["slow"]
    # 64 -> 128 predicts 0.5 * 16 = 8 s > 7 s: recorded as the reason, and never probed
    assert list(res["seconds"]) == ["64"] and list(res["errors"]) == ["128"]
    assert "over the --max-call-s limit of 7 s" in res["errors"]["128"]
    assert probed == [64]
    res = _run(tmp_path, "--max-call-s", "9", "--force")["methods"]["slow"]
    assert list(res["seconds"]) == ["64", "128", "256", "512"]  # each predicts 8 s <= 9 s
