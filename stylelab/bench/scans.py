"""`stylelab bench scans`: the selective scan and Bi-WKV in their tiers, timed over length.

    stylelab bench scans --json data/bench/scans.json --plot data/bench/scans.png

What it measures (all in one run, so ratios compare like with like):
  - selective scan (batch 1, D = 64 channels, N = 16 states): time against L for each tier
    (reference only at small L, where it finishes in seconds; nothing is extrapolated);
  - at L = 4096 (4.2 M state updates) the ns per state update of numba with --threads and
    with 1 thread, of the torch loop, the chunked torch scan and the reference, the ratios
    between them, and what one exp costs here (libm's and the kernel's vectorised one) with
    the same threads: each state update needs one exp, so that is the floor to compare with;
    also numba's backward (autograd, all gradients) per state update, and the fraction of
    the exp32 bound that the forward and the backward reach (exp32 ns / update ns);
  - Bi-WKV: numba against the O(T²) definition at T = 16 384, and numba's time up to T = 65 536
    (linear growth expected).
Each time is the median of several runs after a warm-up run; threads are set explicitly and
recorded with the CPU, versions, date and the machine's load before and after.

Chapter 3 also times the tiers live while the book builds: `sweep` over `ssm_call`,
`bi_wkv_call` and `scalar_call` (the serial, Hillis-Steele and chunked scans of one scalar
recurrence), with this suite's inputs and timing helper, keeping the fastest of the repeats.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from stylelab.bench.record import machine_info, record_header, uptime, versions
from stylelab.bench.timing import time_call
from stylelab.core.errors import StylelabError

SSM_SHAPE = {"batch": 1, "channels": 64, "state": 16}
GOALS = {
    "numba_ns_per_update_max": 2.0,
    "numba_over_torch_loop_min": 10.0,
    "bi_wkv_over_dense_min": 100.0,
}
FULL = {
    "ssm_lengths": [256, 1024, 4096, 16384, 65536],
    "ssm_headline_length": 4096,  # 64 · 16 · 4096 = 4.2 M state updates
    "reference_lengths": [256, 1024, 4096],
    "chunked_max_length": 4096,  # the chunked torch scan does ~CHUNK× the work: 40 s at 16384
    "wkv_lengths": [1024, 4096, 16384, 65536],
    "wkv_channels": 64,
    "wkv_dense_lengths": [1024, 4096, 16384],  # O(T²) memory: B·T²·C floats, so C = 1
    "wkv_reference_lengths": [128, 256, 512],
    "wkv_headline_length": 16384,
    "seconds_per_measurement": 2.0,  # repeats fill about this long (3 to 15 of them)
}
QUICK = {
    "ssm_lengths": [64, 256],
    "ssm_headline_length": 256,
    "reference_lengths": [64],
    "chunked_max_length": 256,
    "wkv_lengths": [256, 1024],
    "wkv_channels": 8,
    "wkv_dense_lengths": [256],
    "wkv_reference_lengths": [32],
    "wkv_headline_length": 256,
    "seconds_per_measurement": 0.05,
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", type=Path, required=True, help="where to write the results")
    parser.add_argument("--plot", type=Path, help="also draw time against length (PNG)")
    parser.add_argument("--quick", action="store_true", help="tiny sweep (seconds; for tests)")
    parser.add_argument(
        "--threads", type=int, default=None, help="threads for numba and torch (default: all cores)"
    )
    parser.add_argument("--force", action="store_true", help="overwrite existing output files")


def run(args: argparse.Namespace) -> int:
    outputs = [p for p in (args.json, args.plot) if p is not None]
    for path in outputs:
        if path.exists() and not args.force:
            raise StylelabError(f"{path} exists; pass --force to overwrite it")
    threads = args.threads if args.threads is not None else (os.cpu_count() or 1)
    if threads < 1:
        raise StylelabError(f"--threads must be >= 1, got {threads}")
    command = f"stylelab bench scans --json {args.json}" + (
        f" --plot {args.plot}" if args.plot else ""
    )
    command += (" --quick" if args.quick else "") + f" --threads {threads}"
    results = measure(quick=args.quick, threads=threads, command=command)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    if args.plot is not None:
        plot(results, args.plot)
    for line in summary(results):
        print(line)
    return 0


# ---------------------------------------------------------------------------------------------
# measuring


def measure(quick: bool, threads: int, command: str = "") -> dict:
    import numba
    import torch

    config = QUICK if quick else FULL
    numba.set_num_threads(threads)
    torch.set_num_threads(threads)
    threads_used = {"numba": threads, "torch": threads}
    results = record_header(
        "scans", quick, command, machine_info(), versions("numba"), threads_used, GOALS
    )
    results["selective_scan"] = _bench_ssm(config, threads)
    results["threads"]["numba_threading_layer"] = numba.threading_layer()
    results["bi_wkv"] = _bench_bi_wkv(config, threads)
    results["machine"]["load_average_after"] = list(os.getloadavg())
    results["machine"]["uptime_after"] = uptime()
    return results


def _threads(n: int) -> str:
    return f"{n} thread{'s' if n > 1 else ''}"


def _numba_tier(threads: int) -> str:
    return f"numba ({_threads(threads)})"


def prime(call, backends) -> None:
    """Run each backend once on a tiny input: numba compiles (or loads its cache) here."""
    import torch

    with torch.no_grad():
        for backend in dict.fromkeys(backends):
            call(backend)


def ssm_inputs(
    length: int,
    seed: int = 0,
    channels: int = SSM_SHAPE["channels"],
    state: int = SSM_SHAPE["state"],
):
    """Mamba-like inputs in float32: Δ in [1e-3, 0.1], A = -(1..N) (S4D-real init)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    batch = SSM_SHAPE["batch"]
    return {
        "u": torch.randn(batch, channels, length, generator=g),
        "delta": 1e-3 + 0.099 * torch.rand(batch, channels, length, generator=g),
        "A": -torch.arange(1.0, state + 1).repeat(channels, 1),
        "B": torch.randn(batch, state, length, generator=g),
        "C": torch.randn(batch, state, length, generator=g),
    }


def wkv_inputs(length: int, channels: int) -> dict:
    """Bi-WKV inputs in float32: w in [0, 5) (decaying), keys in [-1, 1], seeded by length."""
    import torch

    g = torch.Generator().manual_seed(length)
    return {
        "w": torch.rand(channels, generator=g) * 5,
        "u": torch.randn(channels, generator=g),
        "k": torch.rand(1, length, channels, generator=g) * 2 - 1,
        "v": torch.randn(1, length, channels, generator=g),
    }


def _bench_ssm(config: dict, threads: int) -> dict:
    import numba
    import numpy as np
    import torch

    from stylelab.kernels.ssm_cpu import exp_throughput
    from stylelab.ssm import selective_scan

    seconds = config["seconds_per_measurement"]
    updates_per_step = SSM_SHAPE["batch"] * SSM_SHAPE["channels"] * SSM_SHAPE["state"]
    fastest = _numba_tier(threads)
    tiers = {fastest: ("numba", threads)}  # name -> (backend, numba threads)
    tiers[_numba_tier(1)] = ("numba", 1)
    tiers.update({"torch loop": ("torch_loop", threads), "torch chunked": ("torch", threads)})
    tiers["reference"] = ("reference", threads)
    prime(lambda b: selective_scan(**ssm_inputs(16), backend=b), [b for b, _ in tiers.values()])
    sweep = []
    for length in config["ssm_lengths"]:
        x = ssm_inputs(length)
        for tier, (backend, tier_threads) in tiers.items():
            if backend == "reference" and length not in config["reference_lengths"]:
                continue
            if backend == "torch" and length > config["chunked_max_length"]:
                continue
            numba.set_num_threads(tier_threads)
            with torch.no_grad():
                timing = time_call(lambda x=x, b=backend: selective_scan(**x, backend=b), seconds)
            numba.set_num_threads(threads)
            timing["ns_per_update"] = timing["median_s"] / (updates_per_step * length) * 1e9
            sweep.append({"tier": tier, "length": length, "threads": tier_threads, **timing})

    # one exp per state update: what do exps alone cost with the same threads?
    x = -np.random.default_rng(0).uniform(0.0, 5.0, (SSM_SHAPE["channels"], 4096))
    x = x.astype(np.float32)  # 1 MB: stays in cache
    repeats = 16
    exp_count = x.size * repeats
    for vectorised in (False, True):  # compile (or load) before timing
        exp_throughput(x[:1, :16], 1, vectorised)
    exps = {}
    for name, vectorised in (("libm_expf", False), ("exp32", True)):
        for n_threads in sorted({threads, 1}):
            numba.set_num_threads(n_threads)
            exps[f"{name}, {_threads(n_threads)}"] = time_call(
                lambda v=vectorised: exp_throughput(x, repeats, v), seconds
            )
    numba.set_num_threads(threads)

    length = config["ssm_headline_length"]
    # the numba backward (autograd's, glue included: every input's gradient) at that length,
    # right after the exps, with the same threads
    x = {k: v.requires_grad_() for k, v in ssm_inputs(length).items()}
    y = selective_scan(**x, backend="numba")
    dy = torch.randn(y.shape, generator=torch.Generator().manual_seed(1))
    backward = time_call(
        lambda: torch.autograd.grad(y, list(x.values()), dy, retain_graph=True), seconds
    )
    headline = {"length": length, "state_updates": updates_per_step * length}
    # medians as asked; the best of the repeats too, which is what the machine can do when
    # other work leaves it alone (on a loaded machine, medians of 2 threads measure the load)
    for suffix, key in (("", "median_s"), ("_min", "min_s")):
        at = {
            r["tier"]: r[key] / (updates_per_step * length) * 1e9
            for r in sweep
            if r["length"] == length
        }
        exp_ns = {name: timing[key] / exp_count * 1e9 for name, timing in exps.items()}
        fast = at[fastest]
        headline[f"ns_per_update{suffix}"] = at
        headline[f"ns_per_exp{suffix}"] = exp_ns
        # how many times faster numba with all threads is than each other tier
        headline[f"numba_speedup_over{suffix}"] = {
            t: ns / fast for t, ns in at.items() if t != fastest
        }
        # each state update needs one exp: 1.0 = the scan runs as fast as its exps alone
        headline[f"fraction_of_exp_bound{suffix}"] = {
            name: exp_ns[f"{name}, {_threads(threads)}"] / fast for name in ("libm_expf", "exp32")
        }
        backward_ns = backward[key] / (updates_per_step * length) * 1e9
        headline[f"ns_per_update_backward{suffix}"] = backward_ns
        # the same for both passes of the numba tier against exp32 with its threads, this run
        exp32_ns = exp_ns[f"exp32, {_threads(threads)}"]
        headline[f"exp_bound_fraction{suffix}"] = {
            "forward": exp32_ns / fast,
            "backward": exp32_ns / backward_ns,
        }
        headline[f"goals_met{suffix}"] = {
            "numba_ns_per_update_max": fast <= GOALS["numba_ns_per_update_max"],
            "numba_over_torch_loop_min": at["torch loop"] / fast
            >= GOALS["numba_over_torch_loop_min"],
        }
    return {"shape": SSM_SHAPE, "dtype": "float32", "sweep": sweep, "headline": headline}


def _bench_bi_wkv(config: dict, threads: int) -> dict:
    import torch

    try:
        from stylelab.rwkv import bi_wkv
    except ImportError as err:  # the WKV chapter's module is optional for this suite
        return {"skipped": f"stylelab.rwkv is not importable: {err}"}

    seconds = config["seconds_per_measurement"]
    channels = config["wkv_channels"]
    runs = []  # (tier, backend, channels, lengths)
    runs.append((_numba_tier(threads), "numba", channels, config["wkv_lengths"]))
    runs.append(("torch (cumsum)", "torch", channels, config["wkv_lengths"]))
    runs.append(("numba, 1 channel", "numba", 1, [config["wkv_headline_length"]]))
    runs.append(("torch dense O(T²), 1 channel", "torch_dense", 1, config["wkv_dense_lengths"]))
    runs.append(
        ("reference O(T²) loops, 1 channel", "reference", 1, config["wkv_reference_lengths"])
    )
    prime(lambda b: bi_wkv(**wkv_inputs(16, 2), backend=b), [r[1] for r in runs])
    sweep = []
    for tier, backend, n_channels, lengths in runs:
        for length in lengths:
            x = wkv_inputs(length, n_channels)
            with torch.no_grad():
                timing = time_call(lambda x=x, b=backend: bi_wkv(**x, backend=b), seconds, 5)
            timing["s_per_channel"] = timing["median_s"] / n_channels
            sweep.append({"tier": tier, "length": length, "channels": n_channels, **timing})

    def seconds_of(tier, length, key):
        return next(r[key] for r in sweep if r["tier"] == tier and r["length"] == length)

    T = config["wkv_headline_length"]
    lengths = config["wkv_lengths"]
    headline = {
        "length": T,
        "note": (
            "the O(T²) definition at this T is timed as one torch softmax over (T, T) "
            "(backend 'torch_dense'); the Python-loop reference only at small T, where it "
            "finishes in seconds"
        ),
    }
    for suffix, key in (("", "median_s"), ("_min", "min_s")):
        dense = seconds_of("torch dense O(T²), 1 channel", T, key)
        speedup = dense / seconds_of("numba, 1 channel", T, key)
        numba_tier = _numba_tier(threads)
        growth = seconds_of(numba_tier, lengths[-1], key) / seconds_of(numba_tier, lengths[-2], key)
        headline[f"numba_speedup_over_dense_definition{suffix}"] = speedup
        # linear in T: this ratio approaches lengths[-1] / lengths[-2] = 4
        headline[f"numba_time_growth_{lengths[-2]}_to_{lengths[-1]}{suffix}"] = growth
        headline[f"goals_met{suffix}"] = {
            "bi_wkv_over_dense_min": speedup >= GOALS["bi_wkv_over_dense_min"]
        }
    return {"dtype": "float32", "sweep": sweep, "headline": headline}


# ---------------------------------------------------------------------------------------------
# reporting


def summary(results: dict) -> list[str]:
    """The headline numbers as lines of text: median (best of the repeats)."""
    h = results["selective_scan"]["headline"]
    lines = [f"selective scan, L = {h['length']} ({h['state_updates']:,} state updates):"]
    for tier, ns in h["ns_per_update"].items():
        lines.append(f"  {tier:20s} {ns:9.2f} ns/update ({h['ns_per_update_min'][tier]:.2f})")
    fastest = next(iter(h["ns_per_update"]))
    for tier, ratio in h["numba_speedup_over"].items():
        best = h["numba_speedup_over_min"][tier]
        lines.append(f"  {tier} takes {ratio:,.3g}x ({best:,.3g}x) the time of {fastest}")
    for name, ns in h["ns_per_exp"].items():
        lines.append(f"  one exp alone, {name}: {ns:.2f} ns ({h['ns_per_exp_min'][name]:.2f})")
    lines.append(
        f"  {fastest} backward {h['ns_per_update_backward']:.2f} ns/update "
        f"({h['ns_per_update_backward_min']:.2f})"
    )
    for direction, fraction in h["exp_bound_fraction"].items():
        best = h["exp_bound_fraction_min"][direction]
        lines.append(
            f"  {fastest} {direction}: {fraction:.0%} ({best:.0%}) of the exp32 bound "
            "(exp32 ns / ns per update)"
        )
    for goal, met in h["goals_met"].items():
        best = h["goals_met_min"][goal]
        lines.append(
            f"  goal {goal}: {'met' if met else 'NOT met'} ({'met' if best else 'NOT met'})"
        )
    w = results["bi_wkv"]
    if "headline" in w:
        wh = w["headline"]
        lines.append(
            f"bi_wkv, T = {wh['length']}: numba is "
            f"{wh['numba_speedup_over_dense_definition']:,.0f}x "
            f"({wh['numba_speedup_over_dense_definition_min']:,.0f}x) faster than the "
            f"O(T²) definition (goal >= {GOALS['bi_wkv_over_dense_min']:.0f}x)"
        )
    return lines


def plot(results: dict, path: Path) -> None:
    """Log-log time against length, one line per tier; selective scan left, Bi-WKV right."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.5))
    axes = fig.subplots(1, 2)
    shape = results["selective_scan"]["shape"]
    panels = [
        (
            axes[0],
            results["selective_scan"]["sweep"],
            "median_s",
            f"selective scan, batch {shape['batch']}, D={shape['channels']}, N={shape['state']}",
            "seconds (median)",
        )
    ]
    if "sweep" in results["bi_wkv"]:
        sweep = results["bi_wkv"]["sweep"]
        panels.append((axes[1], sweep, "s_per_channel", "Bi-WKV", "seconds per channel (median)"))
    for ax, sweep, key, title, ylabel in panels:
        for tier in dict.fromkeys(row["tier"] for row in sweep):
            rows = sorted((r for r in sweep if r["tier"] == tier), key=lambda r: r["length"])
            ax.loglog([r["length"] for r in rows], [r[key] for r in rows], "o-", label=tier)
        ax.set_xlabel("sequence length")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    mode = "quick mode" if results["quick"] else "full run"
    load = results["machine"]["load_average_before"][0]
    fig.suptitle(
        f"{results['machine']['cpu']}, {results['threads']['numba']} threads, float32, "
        f"{results['date'][:10]}, {mode}; load average before the run {load:.1f}",
        fontsize=10,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
