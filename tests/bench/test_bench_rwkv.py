"""`stylelab bench rwkv --quick`: the JSON's contract keys, the goals, the refusals."""

from __future__ import annotations

import json

import pytest

from stylelab.bench import rwkv
from stylelab.cli import main


def test_quick_run_writes_the_contract(tmp_path):
    out = tmp_path / "rwkv.json"
    assert main(["bench", "rwkv", "--json", str(out), "--quick", "--threads", "1"]) == 0
    data = json.loads(out.read_text())
    assert set(data["sizes"]) == {"32", "64"}
    for row in data["sizes"].values():
        for key in ("re_wkv", "re_wkv_backward"):
            assert row[key]["seconds"] > 0 and row[key]["peak_mib"] >= 0
        assert row["s_scan_overhead"] == pytest.approx(
            row["re_wkv"]["seconds"] / row["re_wkv_raster"]["seconds"] - 1
        )
    assert isinstance(data["fit"]["re_wkv"], float)
    assert set(data["goals"]) == set(rwkv.GOALS)
    assert (tmp_path / "rwkv.png").stat().st_size > 0
    # nothing is overwritten without --force
    assert main(["bench", "rwkv", "--json", str(out), "--quick"]) == 2


def test_bad_sizes_are_refused(tmp_path, capsys):
    assert main(["bench", "rwkv", "--json", str(tmp_path / "x.json"), "--sizes", "36"]) == 2
    assert "multiples of 8" in capsys.readouterr().err


def test_the_guard_skips_what_would_take_too_long():
    results = {"sizes": {"64": {}, "128": {}}, "tokens": {"64": 64, "128": 256}}
    for key in rwkv.KEYS:
        results["sizes"]["64"][key] = {"seconds": 1.0}
        results["sizes"]["128"][key] = {"error": "skipped: too long"}
    rwkv.finish(results)
    assert results["fit"]["re_wkv"] is None
    assert results["goals"]["s_scan_overhead"]["met"] is True  # 0 % at 64 px
    assert results["goals"]["linear_in_tokens"]["met"] is False
