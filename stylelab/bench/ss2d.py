"""`stylelab bench ss2d`: Mamba-ST's cross SS2D (ST-VSSM) alone, its scan backends over size.

    stylelab bench ss2d --json /tmp/ss2d.json --sizes 256,512,1024,2048 --threads 2

For an image of side S (ascending multiples of 8; default 256, 512, 1024, 2048) the layer
runs where Mamba-ST runs it: on the patch grid, S/8 x S/8 tokens (patch 8), with the shipped
model's sizes, `SS2D(128, d_state=16, expand=2, d_conv=3, cross=True)` (d_inner 256, so the
four directions scan K·Di = 1024 channels of N = 16 states), batch 1. Content and style are
seeded standard-normal (1, S/8, S/8, 128) float32 maps (time does not depend on the values).
Per scan backend (--backends: numba, torch_loop, and torch, the chunked scan, which does 64x
the work per token on CPU and so runs only when named) and size:

  forward   one call under torch.inference_mode                        key ss2d[_BACKEND]
  backward  forward + backward of out.sum() into the weights, content  key ss2d[_BACKEND]_backward
            and style (what one training step of the layer costs)

The numba keys have no suffix ("ss2d", "ss2d_backward"): the fast path, the one the goals
are about; the torch loop is what goal 2 compares against.

  peak memory  first, in a fresh subprocess per backend and size (MEMORY_METHOD)
  time         then here, with `time_call` (TIME_METHOD)

Guards, checked per key before a size is tried (so the bench never thrashes the machine): a
predicted time per call over --max-call-s (`time_guard`: the previous size's time times the
pixel ratio squared: pessimistic for the linear scans, right for the torch loop's backward,
which is quadratic in L: each step's slice of the (K·Di, L, N) tensors gets a full-size
gradient) or a predicted peak over 70% of
MemAvailable is recorded as "skipped: why" without running; so is a size that ran out of
memory. Either way that key's larger sizes are "not tried"; the other keys go on.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

from stylelab.bench.methods import child_result, is_oom
from stylelab.bench.sizes import parse_sizes as _parse_sizes
from stylelab.bench.timing import time_call, time_guard
from stylelab.core.errors import StylelabError
from stylelab.core.memory import available_bytes
from stylelab.core.memory import format_bytes as _size

SIZES = (256, 512, 1024, 2048)
QUICK_SIZES = (32, 64)
PATCH = 8  # Mamba-ST's patch side: an S x S image is an S/8 x S/8 token grid
D_MODEL, D_STATE, EXPAND, D_CONV = 128, 16, 2, 3  # the shipped Mamba-ST's SS2D
BACKENDS = ("numba", "torch_loop", "torch")
# The chunked torch scan does CHUNK (64)x the work per token on CPU: 20x slower than the torch
# loop at 64 tokens here, so it only runs when asked (it is the GPU training path).
DEFAULT_BACKENDS = ("numba", "torch_loop")
DESCRIPTIONS = {
    "numba": "fused float32 CPU kernels, forward + adjoint backward (kernels/ssm_cpu.py)",
    "torch_loop": "a torch loop over the L steps, vectorised over channels and states; autograd",
    "torch": "chunked torch scan (64-step chunks, pairwise decays inside a chunk); autograd",
}
MODES = ("forward", "backward")
WARM_UP_SIDE = 16  # a 2 x 2 grid: compiles the numba kernels, starts the thread pools
SECONDS_PER_MEASUREMENT = 5.0  # time_call's budget: its repeats fill about this long
MAX_CALL_S = 600.0  # default --max-call-s
MEMORY_FRACTION = 0.7  # of MemAvailable: the largest predicted peak tried
CHILD_TIMEOUT_S = 3600
GIB, MIB = 2**30, 2**20
# (K·Di, N) float32 slices per token that a call holds at its peak, measured at 32-256 px and
# rounded up: the first size's memory guard, before any peak of that key is known. (The
# chunked scan's at 64 tokens, where its 64-step chunk blocks dominate: pessimistic later.)
COPIES = {
    ("numba", "forward"): 1,
    ("numba", "backward"): 4,
    ("torch_loop", "forward"): 8,
    ("torch_loop", "backward"): 14,
    ("torch", "forward"): 32,
    ("torch", "backward"): 128,
}

TIME_METHOD = (
    f"seconds: time_call's median of repeated calls in this process after a warm-up call at S "
    f"(every backend first warmed up forward and backward at {WARM_UP_SIDE} px); repeats fill "
    f"about {SECONDS_PER_MEASUREMENT:g} s (3 to 15); a first call over that is the one sample "
    "(warm_up false); in quick mode the first call is the one sample. Forward under "
    "torch.inference_mode; backward: forward + out.sum().backward() into the weights, the "
    "content and the style, the gradients cleared before each call."
)
MEMORY_METHOD = (
    "peak_mib: in a fresh subprocess per backend and size, after building the layer, a warm-up "
    f"at {WARM_UP_SIDE} px, making the S-side maps and malloc_trim: VmHWM minus the RSS before "
    "the call (PeakMemory), the output (and gradients) included; the forward first, then "
    "(after malloc_trim) forward + backward. process_peak_mib is VmHWM itself."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", type=Path, required=True, help="where to write the results")
    parser.add_argument("--plot", type=Path, help="where to draw the figure (default: JSON's .png)")
    parser.add_argument(
        "--sizes",
        default=None,
        help="image sides, comma-separated, ascending multiples of 8 (default 256,512,1024,2048)",
    )
    parser.add_argument(
        "--backends",
        default=",".join(DEFAULT_BACKENDS),
        help=f"scan backends, comma-separated, of {', '.join(BACKENDS)} (default "
        f"{','.join(DEFAULT_BACKENDS)}; torch, the chunked scan, is slow on CPU)",
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch and numba threads (default: all cores)"
    )
    parser.add_argument(
        "--max-call-s",
        type=float,
        default=MAX_CALL_S,
        help=f"skip a size whose predicted time per call exceeds this (default {MAX_CALL_S:g})",
    )
    parser.add_argument(
        "--quick", action="store_true", help="sides 32,64 and one timed call each (tests)"
    )
    parser.add_argument("--force", action="store_true", help="overwrite existing output files")


def parse_sizes(text: str | None, quick: bool = False) -> list[int]:
    """'256,512' -> [256, 512]; a one-line StylelabError unless ascending multiples of 8."""
    why = f"the patch side: S/{PATCH} tokens a side"
    return _parse_sizes(text, QUICK_SIZES if quick else SIZES, PATCH, PATCH, why)


def parse_backends(text: str) -> list[str]:
    """'numba,torch_loop' -> the list; numba must be there (the goals are about it)."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [n for n in names if n not in BACKENDS]
    if unknown or len(set(names)) != len(names):
        raise StylelabError(
            f"--backends must name each of {', '.join(BACKENDS)} at most once, got {text!r}"
        )
    if "numba" not in names:
        raise StylelabError(f"--backends must include numba (the goals measure it), got {text!r}")
    return ["numba", *(n for n in names if n != "numba")]


def key(backend: str, mode: str) -> str:
    """The JSON key: "ss2d", "ss2d_backward", "ss2d_torch_loop", "ss2d_torch_backward"..."""
    return (
        "ss2d"
        + ("" if backend == "numba" else f"_{backend}")
        + ("_backward" if mode == "backward" else "")
    )


def tokens(side: int) -> int:
    return (side // PATCH) ** 2


# ---------------------------------------------------------------------------------------------
# the layer, its inputs, the calls


def build():
    """The shipped Mamba-ST's cross SS2D, seeded."""
    from stylelab.ssm.ss2d import SS2D

    torch.manual_seed(0)
    return SS2D(D_MODEL, d_state=D_STATE, expand=EXPAND, d_conv=D_CONV, cross=True)


def random_maps(side: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded content and style token maps (1, S/8, S/8, 128), channels-last as SS2D takes."""
    gen = torch.Generator().manual_seed(seed)
    g = side // PATCH
    return tuple(torch.randn(1, g, g, D_MODEL, generator=gen) for _ in range(2))


def make_call(layer, backend: str, mode: str, content, style):
    """A no-argument call of one measurement. Backward: leaf copies of the maps, so the
    gradient reaches the inputs as in training (the encoders feed them)."""
    if mode == "forward":

        def forward():
            with torch.inference_mode():
                return layer(content, style, backend=backend)  # (1, g, g, 128)

        return forward
    c, s = content.clone().requires_grad_(), style.clone().requires_grad_()

    def backward():
        layer.zero_grad(set_to_none=True)
        c.grad = s.grad = None
        layer(c, s, backend=backend).sum().backward()

    return backward


def warm_up(layer, backend: str) -> None:
    """Forward and backward once at WARM_UP_SIDE: compiles (numba's cache), thread pools."""
    content, style = random_maps(WARM_UP_SIDE, seed=1)
    for mode in MODES:
        make_call(layer, backend, mode, content, style)()


# ---------------------------------------------------------------------------------------------
# the guards


def predicted_bytes(backend: str, mode: str, side: int, previous: tuple[int, float] | None):
    """Predicted peak of one call at `side`: the larger of COPIES slices of (K·Di, N) floats
    per token and the previous size's peak (side, MiB) times the token ratio (every backend
    keeps O(L) memory: states, or the backward's per-step gradients)."""
    from stylelab.ssm.ss2d import K

    slice_bytes = K * EXPAND * D_MODEL * D_STATE * 4  # one token's (K·Di, N) float32
    model = COPIES[(backend, mode)] * slice_bytes * tokens(side)
    if previous is None:
        return model
    return max(model, previous[1] * MIB * tokens(side) / tokens(previous[0]))


def memory_guard(predicted: float, available: int | None) -> str | None:
    """Why a call predicted to peak at `predicted` bytes must not run here, or None."""
    if available is None or predicted <= MEMORY_FRACTION * available:
        return None
    return (
        f"would need about {_size(predicted)} (predicted); over {MEMORY_FRACTION:.0%} of the "
        f"{_size(available)} available"
    )


# ---------------------------------------------------------------------------------------------
# the child that measures peak memory


def _child(backend: str, side: int, threads: int, modes: list[str]) -> dict:
    """{mode: peak entry} of one call per mode at `side`, forward first (the smaller peak)."""
    from stylelab.core.memory import PeakMemory, malloc_trim

    torch.set_num_threads(threads)
    layer = build()
    warm_up(layer, backend)
    content, style = random_maps(side)
    found = {}
    for mode in modes:
        call = make_call(layer, backend, mode, content, style)
        gc.collect()
        malloc_trim()
        try:
            with PeakMemory() as peak:
                out = call()
        except (MemoryError, RuntimeError) as err:
            if not is_oom(err):
                raise
            found[mode] = {"error": f"{type(err).__name__}: {err}".splitlines()[0], "oom": True}
            break  # the backward needs more than the forward
        del out
        found[mode] = {
            "peak_mib": peak.mib,
            "process_peak_mib": peak.process_mib,
            "peak_reset": peak.exact,
        }
    return found


def peak_memory(backend: str, side: int, threads: int, modes: list[str]) -> dict:
    """{mode: peak entry or {"error"}} of `backend` at `side`, measured in a fresh subprocess."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), NUMBA_NUM_THREADS=str(threads))
    argv = [sys.executable, "-m", "stylelab.bench.ss2d", "--child", backend, str(side)]
    try:
        done = subprocess.run(
            [*argv, str(threads), ",".join(modes)],
            capture_output=True,
            text=True,
            env=env,
            timeout=CHILD_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        failed = {"error": f"the memory probe took over {CHILD_TIMEOUT_S} s", "oom": False}
        return dict.fromkeys(modes, failed)
    found = child_result(done.returncode, done.stdout, done.stderr)
    if "error" in found:  # the child died: no mode has a peak
        return dict.fromkeys(modes, found)
    return found


# ---------------------------------------------------------------------------------------------
# measuring


def _progress(text: str) -> None:
    print(f"bench ss2d: {text}", file=sys.stderr, flush=True)


class Track:
    """One key's state over the sizes: its last measurement, and why it stopped."""

    def __init__(self):
        self.previous_s: tuple[int, float] | None = None  # (side, seconds)
        self.previous_mib: tuple[int, float] | None = None  # (side, peak MiB)
        self.failed: str | None = None


def guard(backend, mode, side, track: Track, max_call_s: float) -> str | None:
    """Why `key(backend, mode)` must not run at `side`, or None."""
    if track.failed is not None:
        return f"not tried: {track.failed}"
    why = time_guard(side, track.previous_s, max_call_s)
    if why is not None:  # time_guard speaks of forwards; here a call may be forward + backward
        why = why.replace(" per forward ", " per call ")
    else:
        predicted = predicted_bytes(backend, mode, side, track.previous_mib)
        why = memory_guard(predicted, available_bytes())
    return None if why is None else f"skipped: {why}"


def time_one(call, quick: bool) -> dict:
    """time_call's result; in quick mode the first call is the one sample."""
    return time_call(call, 0.0 if quick else SECONDS_PER_MEASUREMENT)


def measure_size(layer, backend, side, tracks, threads, quick, max_call_s) -> dict:
    """{key: entry} of `backend`'s modes at `side`; updates `tracks` (see the docstring)."""
    skips = {mode: guard(backend, mode, side, tracks[mode], max_call_s) for mode in MODES}
    modes = [mode for mode in MODES if skips[mode] is None]
    peaks = peak_memory(backend, side, threads, modes) if modes else {}
    content, style = random_maps(side)
    entries = {}
    for mode in MODES:
        name, track = key(backend, mode), tracks[mode]
        if skips[mode] is None:
            mem = peaks.get(mode, {"error": "the memory probe stopped before it"})
            entries[name] = measure_mode(layer, backend, mode, (content, style), mem, quick)
        else:
            entries[name] = {"error": skips[mode]}
        if "error" in entries[name]:  # this key's larger sizes are not tried
            track.failed = track.failed or f"{name} did not run at {side} px"
        else:
            track.previous_s = (side, entries[name]["seconds"])
            track.previous_mib = (side, entries[name]["peak_mib"])
        _progress(f"{name} {side} px: " + _describe(entries[name]))
    return entries


def measure_mode(layer, backend: str, mode: str, maps, mem: dict, quick: bool) -> dict:
    """One key's entry at one size: time here, joined with the child's peak `mem`."""
    if "error" in mem:
        return {"error": mem["error"]}
    try:
        timing = time_one(make_call(layer, backend, mode, *maps), quick)
    except (MemoryError, RuntimeError) as err:
        if not is_oom(err):
            raise
        return {"error": f"{type(err).__name__}: {err}".splitlines()[0]}
    finally:
        gc.collect()
    return _entry(maps[0].shape[1] * PATCH, timing, mem)


def _entry(side: int, timing: dict, mem: dict) -> dict:
    return {
        "seconds": timing["median_s"],
        "peak_mib": mem["peak_mib"],
        "min_s": timing["min_s"],
        "repeats": timing["repeats"],
        "warm_up": timing["warm_up"],
        "process_peak_mib": mem["process_peak_mib"],
        "peak_reset": mem["peak_reset"],
        "tokens": tokens(side),
        "grid": side // PATCH,
    }


def _describe(entry: dict) -> str:
    if "error" in entry:
        return entry["error"]
    return f"{entry['seconds']:.4f} s (median of {entry['repeats']}), {entry['peak_mib']:.1f} MiB"


def measure_backend(backend, sizes, threads, quick=False, max_call_s=MAX_CALL_S) -> dict:
    """{size key: {key: entry}} of one backend's forward and backward over `sizes`."""
    layer = build()
    warm_up(layer, backend)
    tracks = {mode: Track() for mode in MODES}
    return {
        str(side): measure_size(layer, backend, side, tracks, threads, quick, max_call_s)
        for side in sizes
    }


def layer_info() -> dict:
    from stylelab.ssm.ss2d import K, dt_rank_for

    return {
        "layer": (
            f"SS2D({D_MODEL}, d_state={D_STATE}, expand={EXPAND}, d_conv={D_CONV}, cross=True): "
            "Mamba-ST's ST-VSSM, the shipped model's size"
        ),
        "d_model": D_MODEL,
        "d_state": D_STATE,
        "d_inner": EXPAND * D_MODEL,
        "dt_rank": dt_rank_for(D_MODEL),
        "directions": K,
        "batch": 1,
        "patch": PATCH,
        "feature_maps": (
            f"content and style: seeded standard-normal (1, S/{PATCH}, S/{PATCH}, {D_MODEL}) "
            f"float32 token maps, the patch grid of an S x S image"
        ),
    }


def measure(sizes, backends, threads, quick=False, max_call_s=MAX_CALL_S, command="") -> dict:
    import numba

    from stylelab.bench.record import machine_info, record_header, uptime, versions
    from stylelab.bench.ss2d_report import finish

    torch.set_num_threads(threads)
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    start = time.perf_counter()
    results = record_header(
        "ss2d", quick, command, machine_info(), versions("numba"),
        {"torch": threads, "numba": numba.get_num_threads()}, None,
    )  # fmt: skip
    results.update(layer_info())
    results["backends"] = {b: DESCRIPTIONS[b] for b in backends}
    results["keys"] = {key(b, m): f"{b} {m}" for b in backends for m in MODES}
    results["time_method"], results["memory_method"] = TIME_METHOD, MEMORY_METHOD
    avail = available_bytes()
    results["machine"]["memory_available_gib"] = avail / GIB if avail else None
    results["max_call_s"] = max_call_s
    results["tokens"] = {str(s): tokens(s) for s in sizes}
    per_backend = {b: measure_backend(b, sizes, threads, quick, max_call_s) for b in backends}
    results["sizes"] = {
        str(s): {k: e for b in backends for k, e in per_backend[b][str(s)].items()} for s in sizes
    }
    finish(results)  # fit, ratios, goals, headline
    results["machine"]["load_average_after"] = list(os.getloadavg())
    results["machine"]["uptime_after"] = uptime()
    results["wall_s"] = time.perf_counter() - start
    return results


def run(args: argparse.Namespace) -> int:
    plot = args.plot if args.plot is not None else args.json.with_suffix(".png")
    for path in (args.json, plot):
        if path.exists() and not args.force:
            raise StylelabError(f"{path} exists; pass --force to overwrite it")
    sizes = parse_sizes(args.sizes, args.quick)
    backends = parse_backends(args.backends)
    threads = args.threads if args.threads is not None else (os.cpu_count() or 1)
    if threads < 1:
        raise StylelabError(f"--threads must be >= 1, got {threads}")
    if args.max_call_s <= 0:
        raise StylelabError(f"--max-call-s must be > 0, got {args.max_call_s:g}")
    command = " ".join(
        ["stylelab bench ss2d --json", str(args.json), f"--plot {plot}"]
        + (["--quick"] if args.quick else [])
        + [f"--sizes {','.join(map(str, sizes))}", f"--backends {','.join(backends)}"]
        + [f"--threads {threads}", f"--max-call-s {args.max_call_s:g}"]
    )
    results = measure(sizes, backends, threads, args.quick, args.max_call_s, command)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1) + "\n")
    from stylelab.bench.ss2d_report import figure, summary

    figure(results, plot)
    for line in summary(results):
        print(line)
    return 0


if __name__ == "__main__":  # the child that peak_memory starts
    if len(sys.argv) != 6 or sys.argv[1] != "--child":
        sys.exit("usage: python -m stylelab.bench.ss2d --child BACKEND SIDE THREADS MODES")
    backend, side, threads, modes = sys.argv[2:]
    print(json.dumps(_child(backend, int(side), int(threads), modes.split(","))))
