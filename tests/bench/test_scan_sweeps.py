"""The live sweeps chapter 3 runs with `stylelab bench scans`' inputs: stopping rules, rows,
and the three ways to run the scalar recurrence agreeing with each other."""

from __future__ import annotations

import pytest
import torch

from stylelab.bench import sweeps


def test_sweep_stops_past_the_budget_and_past_max_length(monkeypatch):
    made, timed = [], []

    def make_call(name, length):
        made.append((name, length))
        return lambda: None

    def fake_time_call(fn, seconds, max_repeats=15):
        timed.append(seconds)
        length = made[-1][1]
        return {"min_s": length / 100, "median_s": length / 50}  # the fastest is kept

    monkeypatch.setattr(sweeps, "time_call", fake_time_call)
    times = sweeps.sweep(
        make_call, ["slow", "capped"], [10, 100, 1000], budget=0.5, max_length={"capped": 10}
    )
    # slow: 0.1 s at 10, 1.0 s at 100 (over budget: stop); capped: only 10
    assert times == {"slow": {10: 0.1, 100: 1.0}, "capped": {10: 0.1}}
    assert set(timed) == {sweeps.LIVE_SECONDS}
    assert made[:2] == [("slow", 16), ("capped", 16)]  # primed on a tiny input first


def test_sweep_rows_scale_and_mark_what_did_not_run():
    rows = sweeps.sweep_rows({"numba": {64: 0.0012, 256: 0.5}, "ref": {64: 2.0}}, [64, 256])
    assert rows == [["numba", "1.2", "500"], ["ref", "2e+03", "–"]]


def test_the_three_scalar_methods_agree():
    g = torch.Generator().manual_seed(0)
    u, delta, A, ones = sweeps.scalar_recurrence(300, 4, g)
    assert u.shape == delta.shape == (1, 4, 300) and A.shape == (4, 1) and ones.shape == (1, 1, 300)
    outs = {name: fn(u, delta, A, ones) for name, fn in sweeps.scalar_methods().items()}
    first = next(iter(outs.values()))
    for out in outs.values():
        torch.testing.assert_close(out, first, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "make_call, backend, shape",
    [
        (sweeps.ssm_call(channels=3, state=2), "torch_loop", (1, 3, 20)),
        (sweeps.bi_wkv_call(channels=3), "torch", (1, 20, 3)),
    ],
)
def test_calls_run_the_op_on_the_suites_inputs(make_call, backend, shape):
    out = make_call(backend, 20)()
    assert out.shape == shape and torch.isfinite(out).all()
    # the same inputs every time: the suite's seeded generators
    torch.testing.assert_close(make_call(backend, 20)(), out)


def test_ssm_call_passes_delta_softplus_on():
    plain = sweeps.ssm_call(channels=2, state=2)("torch_loop", 12)()
    softplus = sweeps.ssm_call(channels=2, state=2, delta_softplus=True)("torch_loop", 12)()
    assert not torch.allclose(plain, softplus)  # softplus(Δ) ~ 0.7 against Δ <= 0.1
