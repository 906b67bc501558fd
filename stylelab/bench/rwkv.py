"""`stylelab bench rwkv`: StyleRWKV's spatial mix alone (Re-WKV), its backends over size.

    stylelab bench rwkv --json /tmp/rwkv.json --sizes 256,512,1024,2048 --threads 2

For an image of side S (ascending multiples of 8; default 256, 512, 1024, 2048) the layer
runs where the shipped StyleRWKV runs its first level: on the patch grid, S/8 x S/8 tokens,
`SpatialMix(32, recurrence=2, shift="deform", scan="s-scan", skip=2)`, batch 1, on a seeded
standard-normal (1, T, 32) float32 token map. Per backend and size:

  re_wkv                    numba forward (Bi-WKV and Deform-Shifting kernels), S-scan
  re_wkv_backward           numba forward + backward of out.sum() (the deformable conv's
                            gradient through torchvision: its numba tier is forward only)
  re_wkv_raster             numba forward with scan="raster" (the same weights)
  re_wkv_torch[_backward]   the torch tier: Bi-WKV's cumsum form, torchvision's deform conv
  s_scan_overhead           re_wkv / re_wkv_raster - 1 (forward): what the S-scan's gather
                            and scatter cost over the raster scan's one transpose

Time: `time_call`'s median (about 5 s of repeats after a warm-up; one call in quick mode).
Peak memory: in this process, VmHWM over the RSS before one call (`PeakMemory`), after a
garbage collection and malloc_trim, the call measured first; so a later, smaller call may
read the same peak as an earlier one ("peak_reset" false when VmHWM could not be reset).
A size whose predicted time (the last size's times the token ratio squared) exceeds
--max-call-s is recorded as skipped, and that key's larger sizes are not tried.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import time
from pathlib import Path

import torch

from stylelab.bench.methods import fit_exponent
from stylelab.bench.sizes import parse_sizes as _parse_sizes
from stylelab.bench.timing import time_call, time_guard
from stylelab.core.errors import StylelabError

SIZES = (256, 512, 1024, 2048)
QUICK_SIZES = (32, 64)
PATCH, CHANNELS = 8, 32  # the shipped StyleRWKV: patch 8, level 1 at dim 32
SECONDS_PER_MEASUREMENT = 5.0
MAX_CALL_S = 600.0
LINEAR_MAX, OVERHEAD_MAX, SPEEDUP_MIN = 1.1, 0.10, 10.0
# key -> (backend, scan, mode)
KEYS = {
    "re_wkv": ("numba", "s-scan", "forward"),
    "re_wkv_backward": ("numba", "s-scan", "backward"),
    "re_wkv_raster": ("numba", "raster", "forward"),
    "re_wkv_torch": ("torch", "s-scan", "forward"),
    "re_wkv_torch_backward": ("torch", "s-scan", "backward"),
}
GOALS = {
    "linear_in_tokens": f"numba forward: fitted exponent of time against tokens <= {LINEAR_MAX}",
    "s_scan_overhead": f"the S-scan costs <= {OVERHEAD_MAX:.0%} over the raster scan (forward, "
    "largest size)",
    "numba_10x_torch": f"numba forward + backward >= {SPEEDUP_MIN:g}x faster than the torch path "
    "(largest size both ran)",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", type=Path, required=True, help="where to write the results")
    parser.add_argument("--plot", type=Path, help="where to draw the figure (default: JSON's .png)")
    parser.add_argument(
        "--sizes", default=None, help="image sides, ascending multiples of 8 (default "
        "256,512,1024,2048)",
    )  # fmt: skip
    parser.add_argument("--threads", type=int, default=None, help="threads (default: all cores)")
    parser.add_argument("--max-call-s", type=float, default=MAX_CALL_S, help="skip a size whose "
                        f"predicted time per call exceeds this (default {MAX_CALL_S:g})")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="sides 32,64, one call each (tests)")
    parser.add_argument("--force", action="store_true", help="overwrite existing output files")


def tokens(side: int) -> int:
    return (side // PATCH) ** 2


def build(scan: str):
    from stylelab.rwkv import SpatialMix

    torch.manual_seed(0)
    return SpatialMix(CHANNELS, recurrence=2, shift="deform", scan=scan, skip=2)


def make_call(layer, backend: str, mode: str, side: int):
    g = side // PATCH
    x = torch.randn(1, g * g, CHANNELS, generator=torch.Generator().manual_seed(0))
    if mode == "forward":

        def forward():
            with torch.inference_mode():
                return layer(x, (g, g), backend=backend)

        return forward
    leaf = x.clone().requires_grad_()

    def backward():
        layer.zero_grad(set_to_none=True)
        leaf.grad = None
        layer(leaf, (g, g), backend=backend).sum().backward()

    return backward


def measure_one(layer, backend, mode, side, quick) -> dict:
    from stylelab.core.memory import PeakMemory, malloc_trim

    call = make_call(layer, backend, mode, side)
    gc.collect()
    malloc_trim()
    with PeakMemory() as peak:
        call()
    timing = time_call(call, 0.0 if quick else SECONDS_PER_MEASUREMENT)
    return {
        "seconds": timing["median_s"],
        "peak_mib": peak.mib,
        "min_s": timing["min_s"],
        "repeats": timing["repeats"],
        "peak_reset": peak.exact,
        "tokens": tokens(side),
    }


def measure(sizes, threads, quick=False, max_call_s=MAX_CALL_S, command="") -> dict:
    import numba

    from stylelab.bench.record import machine_info, record_header, versions

    torch.set_num_threads(threads)
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    start = time.perf_counter()
    results = record_header("rwkv", quick, command, machine_info(), versions("numba"),
                            {"torch": threads, "numba": numba.get_num_threads()}, GOALS)  # fmt: skip
    results["layer"] = (
        f"SpatialMix({CHANNELS}, recurrence=2, shift='deform', scan='s-scan' | 'raster', skip=2) "
        f"on the S/{PATCH} x S/{PATCH} token grid, batch 1: the shipped StyleRWKV's level 1"
    )
    results["keys"] = {k: f"{b} {m}, scan {s}" for k, (b, s, m) in KEYS.items()}
    results["tokens"] = {str(s): tokens(s) for s in sizes}
    layers = {scan: build(scan) for scan in ("s-scan", "raster")}
    layers["raster"].load_state_dict(layers["s-scan"].state_dict())
    for backend, scan, mode in KEYS.values():  # warm-up: numba compiles, thread pools
        make_call(layers[scan], backend, mode, 2 * PATCH * 2)()
    results["sizes"] = {str(s): {} for s in sizes}
    for name, (backend, scan, mode) in KEYS.items():
        previous, failed = None, None
        for side in sizes:
            why = failed or time_guard(side, previous, max_call_s)
            if why:
                results["sizes"][str(side)][name] = {"error": f"skipped: {why}"}
                failed = failed or f"not tried: {name} skipped at {side} px"
                continue
            entry = measure_one(layers[scan], backend, mode, side, quick)
            results["sizes"][str(side)][name] = entry
            previous = (side, entry["seconds"])
            print(f"bench rwkv: {name} {side} px: {entry['seconds']:.4f} s, "
                  f"{entry['peak_mib']:.1f} MiB", flush=True)  # fmt: skip
    finish(results)
    results["machine"]["load_average_after"] = list(os.getloadavg())
    results["wall_s"] = time.perf_counter() - start
    return results


def finish(results: dict) -> None:
    """Fits, the S-scan overhead per size, the speed-up, and the goals."""
    sizes = results["sizes"]

    def done(name):
        return {int(s): row[name] for s, row in sizes.items() if "seconds" in row.get(name, {})}

    results["fit"] = {}
    for name in KEYS:
        found = done(name)
        results["fit"][name] = fit_exponent(list(found), [e["seconds"] for e in found.values()])
    s_scan, raster = done("re_wkv"), done("re_wkv_raster")
    for side in sorted(set(s_scan) & set(raster)):
        sizes[str(side)]["s_scan_overhead"] = s_scan[side]["seconds"] / raster[side]["seconds"] - 1
    numba_b, torch_b = done("re_wkv_backward"), done("re_wkv_torch_backward")
    both = sorted(set(numba_b) & set(torch_b))
    results["speedup_backward"] = {
        str(s): torch_b[s]["seconds"] / numba_b[s]["seconds"] for s in both
    }
    exp = results["fit"]["re_wkv"]
    over = [s for s in sizes if "s_scan_overhead" in sizes[s]]
    last = max(over, key=int) if over else None
    speed = results["speedup_backward"][str(both[-1])] if both else None
    results["goals"] = {
        "linear_in_tokens": {"goal": GOALS["linear_in_tokens"], "met": exp is not None
                             and exp <= LINEAR_MAX, "detail": f"exponent {exp:.2f}" if exp is not None else "not measured"},
        "s_scan_overhead": {"goal": GOALS["s_scan_overhead"], "met": last is not None
                            and sizes[last]["s_scan_overhead"] <= OVERHEAD_MAX,
                            "detail": f"{sizes[last]['s_scan_overhead']:+.1%} at {last} px"
                            if last else "not measured"},
        "numba_10x_torch": {"goal": GOALS["numba_10x_torch"], "met": speed is not None
                            and speed >= SPEEDUP_MIN, "detail": f"{speed:.1f}x at {both[-1]} px"
                            if both else "not measured"},
    }  # fmt: skip


def figure(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.2), dpi=100)
    for name in KEYS:
        pts = [(results["tokens"][s], row[name]["seconds"]) for s, row in results["sizes"].items()
               if "seconds" in row.get(name, {})]  # fmt: skip
        if pts:
            exp = results["fit"].get(name)
            label = name + (f" (slope {exp:.2f})" if exp is not None else "")
            ax.loglog(*zip(*pts), "o-", label=label)
    ax.set_xlabel("tokens (image side / 8, squared)")
    ax.set_ylabel("seconds per call")
    ax.set_title(f"StyleRWKV spatial mix, {results['threads']['torch']} threads"
                 + (" (quick)" if results["quick"] else ""), fontsize=11)  # fmt: skip
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def run(args: argparse.Namespace) -> int:
    plot = args.plot if args.plot is not None else args.json.with_suffix(".png")
    for path in (args.json, plot):
        if path.exists() and not args.force:
            raise StylelabError(f"{path} exists; pass --force to overwrite it")
    why = f"the patch side: S/{PATCH} tokens a side"
    sizes = _parse_sizes(args.sizes, QUICK_SIZES if args.quick else SIZES, PATCH, PATCH, why)
    threads = args.threads if args.threads is not None else (os.cpu_count() or 1)
    if threads < 1 or args.max_call_s <= 0:
        raise StylelabError("--threads must be >= 1 and --max-call-s > 0")
    command = (f"stylelab bench rwkv --json {args.json} --plot {plot} "
               f"--sizes {','.join(map(str, sizes))} --threads {threads} "
               f"--max-call-s {args.max_call_s:g}" + (" --quick" if args.quick else ""))  # fmt: skip
    results = measure(sizes, threads, args.quick, args.max_call_s, command)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1) + "\n")
    figure(results, plot)
    for name, goal in results["goals"].items():
        print(f"{name}: {'met' if goal['met'] else 'NOT met'} ({goal['detail']})")
    return 0
