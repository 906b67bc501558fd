"""The live timings of the chapters: threads, best-of, and AdaIN against Gatys with what is
measured and what is extrapolated kept apart. Fake clocks and runs: values, not speed."""

from __future__ import annotations

from types import SimpleNamespace

import numba
import pytest
import torch

from stylelab.bench import chapter_timing
from stylelab.core.errors import StylelabError


def fake_timed(seconds):
    """A stand-in for `timed` that runs fn and reports the next of `seconds`."""
    seconds = iter(seconds)

    def timed(fn):
        return next(seconds), fn()

    return timed


def test_single_thread_sets_one_thread_and_restores():
    torch_before, numba_before = torch.get_num_threads(), numba.get_num_threads()
    with chapter_timing.single_thread(numba=True):
        assert torch.get_num_threads() == 1 and numba.get_num_threads() == 1
    assert torch.get_num_threads() == torch_before
    assert numba.get_num_threads() == numba_before
    with pytest.raises(RuntimeError), chapter_timing.single_thread():
        raise RuntimeError("restored even on an error")
    assert torch.get_num_threads() == torch_before


def test_best_of_warms_up_then_keeps_the_fastest(monkeypatch):
    calls = []
    monkeypatch.setattr(chapter_timing, "timed", fake_timed([0.5, 0.2, 0.3]))
    assert chapter_timing.best_of(lambda: calls.append(1), 3) == 0.2
    assert len(calls) == 4  # one warm-up, three timed


def test_square_gives_exact_sizes_in_range():
    img = torch.rand(1, 3, 30, 50, generator=torch.Generator().manual_seed(0))
    out = chapter_timing.square(img, 16)
    assert out.shape == (1, 3, 16, 16)
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert chapter_timing.by_pixels(2.0, 128, 512) == 32.0


def test_time_gatys_reads_setup_and_fastest_step_from_the_stamps(monkeypatch):
    # clock: start 0; the steps end at 1.5, 2.0, 2.4, 3.0 -> steps 0.5, 0.4, 0.6
    clock = iter([0.0, 1.5, 2.0, 2.4, 3.0])
    monkeypatch.setattr(chapter_timing, "time", SimpleNamespace(perf_counter=lambda: next(clock)))

    def fake_gatys(content, style, encoder, steps, callback, **kwargs):
        assert content.shape[-2:] == (32, 32) and kwargs["size"] is None
        for step in range(steps):
            callback(step, None, {})

    monkeypatch.setattr("stylelab.losses.gatys.gatys_transfer", fake_gatys)
    img = torch.rand(1, 3, 40, 40)
    setup, per_step = chapter_timing.time_gatys(img, img, None, side=32, steps=4)
    assert per_step == pytest.approx(0.4)
    assert setup == pytest.approx(1.5 - 0.4)  # to the end of step 1, less one step
    with pytest.raises(StylelabError, match="at least 2 steps"):
        chapter_timing.time_gatys(img, img, None, side=32, steps=1)


def test_adain_vs_gatys_measures_then_extrapolates_by_pixels(monkeypatch):
    adain_sides, gatys_runs = [], []
    monkeypatch.setattr(
        chapter_timing,
        "time_adain",
        lambda model, c, s, side, repeats: adain_sides.append(side) or side / 1000,
    )

    def fake_gatys(content, style, encoder, side, steps, seed=0):
        gatys_runs.append((side, steps))
        return 0.5, side / 100  # set-up, per step

    monkeypatch.setattr(chapter_timing, "time_gatys", fake_gatys)
    model = SimpleNamespace(encoder="enc")
    speed = chapter_timing.adain_vs_gatys(
        model, None, None, sides=[256, 512, 1024], adain_max_side=256, adain_repeats=1,
        gatys_sides=[128, 256], gatys_timed_steps=6, gatys_steps=150,
    )  # fmt: skip
    assert adain_sides == [256]
    assert gatys_runs == [(64, 2), (128, 6), (256, 6)]  # a warm-up, then the measured sides
    assert speed.adain_s == {256: 0.256, 512: 0.256 * 4, 1024: 0.256 * 16}
    assert speed.adain_how[256] == "measured"
    assert speed.adain_how[1024] == "extrapolated from 256 px"
    run_256 = 0.5 + 150 * 2.56
    assert speed.gatys_s[128] == pytest.approx(0.5 + 150 * 1.28)
    assert speed.gatys_s[256] == pytest.approx(run_256)
    assert speed.gatys_s[1024] == pytest.approx(run_256 * 16)
    assert speed.gatys_how[256] == "set-up and per-step measured, x 150 steps"
    assert speed.gatys_how[512] == "extrapolated from 256 px"

    table = speed.table([256, 512, 1024]).splitlines()
    assert table[0].startswith("| side | AdaIN, s per image | how | Gatys (150 steps)")
    assert table[2] == (
        "| 256 | 0.256 | measured | 384 | set-up and per-step measured, x 150 steps | 1,502x |"
    )
    notes = speed.notes()
    assert notes[0] == (
        "Gatys, measured over 6 steps: 128 px: set-up 0.50 s, 1280 ms per step; "
        "256 px: set-up 0.50 s, 2560 ms per step."
    )
    assert "Per-step time 256 px / 128 px = 2.0 (pixel ratio 4)" in notes[1]


def test_time_adain_times_the_model_on_square_inputs(monkeypatch):
    sizes = []

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def stylize(self, c, s):
            sizes.append((tuple(c.shape), tuple(s.shape)))

    monkeypatch.setattr(chapter_timing, "timed", fake_timed([3.0, 2.0]))  # the 2nd is fastest
    img = torch.rand(1, 3, 20, 30)
    assert chapter_timing.time_adain(Model(), img, img, side=8, repeats=2) == 2
    assert sizes == [((1, 3, 8, 8), (1, 3, 8, 8))] * 3  # a warm-up and two timed calls


def test_timing_gap_reads_its_numbers_from_the_bench_json():
    from stylelab.bench.adain_report import timing_gap

    results = {
        "date": "2026-11-21T13:25:03+00:00",
        "threads": {"torch": 2},
        "machine": {"load_average_before": [4.4, 5.0, 5.0], "logical_cpus": 2},
        "512": {"shipped_s": 2.84, "samples_s": {"shipped": [1.46, 3.24, 2.84]}},
    }
    note = timing_gap(results, 512, 0.36, "the best of 3 calls after a warm-up")
    assert "(2.84 s against 0.36 s for the same model)" in note
    assert "load average at 4.4 on 2 logical CPUs" in note and "2.2 programs" in note
    assert "ranged from 1.46 to 3.24 s (median 2.84 s" in note
    assert "2026-11-21 with 2 threads" in note
    quiet = dict(results, machine={"load_average_before": [0.5], "logical_cpus": 2})
    quiet_note = timing_gap(quiet, 512, 0.36, "the best of 3 calls after a warm-up")
    assert "programs wanting" not in quiet_note and "Its 2 threads split" in quiet_note
