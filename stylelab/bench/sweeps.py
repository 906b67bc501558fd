"""Live sweeps: what chapter 3 times while the book builds, with `stylelab bench scans`'s inputs.

Each `*_call(...)` returns `make(name, length) -> fn`, a no-argument call of one backend at
one sequence length; `sweep` times them with `timing.time_call` and keeps the fastest run.
"""

from __future__ import annotations

from stylelab.bench.scans import prime, ssm_inputs, wkv_inputs
from stylelab.bench.timing import time_call

LIVE_SECONDS = 0.25  # per point: repeats fill about this long; the fastest one is kept


BACKEND_COLOURS = {
    "reference": "tab:gray",
    "torch_dense": "tab:purple",
    "torch_loop": "tab:orange",
    "torch": "tab:green",
    "numba": "tab:blue",
}


def ssm_call(channels: int, state: int, delta_softplus: bool = False):
    """(backend, length) -> a selective-scan call on this suite's inputs, for `sweep`.

    `delta_softplus`: the scan computes Δ = softplus(Δraw) itself, as Mamba's layers ask;
    that costs the numba kernel about half its time again, so it is part of what is timed.
    """
    from stylelab.ssm import selective_scan

    def make(backend: str, length: int):
        x = ssm_inputs(length, channels=channels, state=state)
        return lambda: selective_scan(**x, delta_softplus=delta_softplus, backend=backend)

    return make


def bi_wkv_call(channels: int):
    """(backend, length) -> a Bi-WKV call on this suite's inputs, for `sweep`."""
    from stylelab.rwkv import bi_wkv

    def make(backend: str, length: int):
        x = wkv_inputs(length, channels)
        return lambda: bi_wkv(**x, backend=backend)

    return make


def scalar_recurrence(length: int, rows: int, generator):
    """A selective scan with one state and B = C = 1: h_t = exp(Δ_t A) h_{t-1} + Δ_t u_t.

    Returns (u, delta, A, ones): u, delta (1, rows, L), A (rows, 1), ones (1, 1, L).
    """
    import torch

    u = torch.randn(1, rows, length, generator=generator)
    delta = torch.rand(1, rows, length, generator=generator) * 0.1
    A = -torch.rand(rows, 1, generator=generator)
    return u, delta, A, torch.ones(1, 1, length)


def scalar_methods() -> dict:
    """Three ways to run `scalar_recurrence`'s problem, by the work each does."""
    import torch

    from stylelab.ssm import selective_scan
    from stylelab.ssm.parallel_scan import hillis_steele

    return {
        "numba, serial (work L)": lambda u, d, A, one: selective_scan(
            u, d, A, one, one, backend="numba"
        ),
        "torch, Hillis-Steele (work L·log L)": lambda u, d, A, one: hillis_steele(
            torch.exp(d * A), d * u
        ),
        "torch, chunked (work L·64)": lambda u, d, A, one: selective_scan(
            u, d, A, one, one, backend="torch"
        ),
    }


def scalar_call(rows: int, generator):
    """(method, length) -> a call of `scalar_methods()[method]` on a fresh problem, for `sweep`."""
    methods = scalar_methods()

    def make(name: str, length: int):
        problem = scalar_recurrence(length, rows, generator)
        return lambda: methods[name](*problem)

    return make


def sweep(make_call, names, lengths, budget: float, max_length: dict | None = None) -> dict:
    """{name: {length: seconds}}: the fastest of a few calls (`time_call`, LIVE_SECONDS each)
    of make_call(name, length)() over `lengths`. A name stops after the first length slower
    than `budget` seconds, or past its `max_length` entry."""
    import torch

    prime(lambda name: make_call(name, 16)(), names)  # compile numba before any timing
    times = {name: {} for name in names}
    with torch.no_grad():
        for name in names:
            for length in lengths:
                if length > (max_length or {}).get(name, lengths[-1]):
                    break
                timing = time_call(make_call(name, length), LIVE_SECONDS, max_repeats=20)
                times[name][length] = timing["min_s"]
                if timing["min_s"] > budget:
                    break
    return times


def sweep_rows(times: dict, lengths, scale: float = 1e3) -> list[list[str]]:
    """Table rows of `sweep`'s result: the name, then seconds x scale per length ('–': not run)."""
    return [
        [name] + [f"{by[L] * scale:.3g}" if L in by else "–" for L in lengths]
        for name, by in times.items()
    ]


def chunk_costs(
    length: int, channels: int, state: int, chunks=(8, 16, 32, 64), seconds: float = LIVE_SECONDS
) -> list[dict]:
    """What the chunked selective scan (`backend="torch"`) pays, against the loop and numba.

    One problem (`ssm_inputs`, batch 1, Δ through softplus) at one length, run by the numba
    kernel, the torch loop, and `selective_scan_chunked` with each chunk size. Returns one
    dict per run: {"scan", "chunk", "made" (numbers of (batch, D, L, N) size or of the
    pairwise-decay blocks it builds, per state update), "seconds" (fastest of the repeats,
    which fill about `seconds`)}.
    The chunked scan builds rows x chunk x chunk x N pairwise decays for the D x L x N state
    updates, so `chunk` numbers per update; the loop builds exp(ΔA), ΔBu and every state.
    """
    import torch

    from stylelab.ssm import selective_scan, selective_scan_chunked

    x = ssm_inputs(length, channels=channels, state=state)

    def call(backend="torch", chunk=None):
        if chunk is None:
            return selective_scan(**x, delta_softplus=True, backend=backend)
        return selective_scan_chunked(**x, delta_softplus=True, chunk=chunk)

    runs = [("numba kernel", None, 0, lambda: call("numba"))]
    runs.append(("torch loop", None, 3, lambda: call("torch_loop")))
    runs += [("torch chunked", c, c, lambda c=c: call(chunk=c)) for c in chunks]
    tiny = ssm_inputs(16, channels=channels, state=state)
    prime(lambda name: selective_scan(**tiny, delta_softplus=True, backend=name), ["numba"])
    out = []
    with torch.no_grad():
        for scan, chunk, made, fn in runs:
            best = time_call(fn, seconds, max_repeats=20)["min_s"]
            out.append({"scan": scan, "chunk": chunk, "made": made, "seconds": best})
    return out
