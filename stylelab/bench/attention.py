"""`stylelab bench attention`: the attention transform alone, dense against streamed against A2K.

    stylelab bench attention --json /tmp/attention.json --plot /tmp/attention.png --threads 2

For an image of side S (ascending; default 256, 512, 1024, 2048) the transform runs where it
would in a model: on the offline encoder's stride-8 content tap (MobileNetV2 block6_expand,
the relu4_1 counterpart), a map of side S / 8 with C channels (C read from the encoder). The
content and style maps are seeded random features of the same size (time does not depend on
the values). One forward under torch.inference_mode of:

  all_to_all           SANet-style: 1x1 convs q(mvn content), k(mvn style), v(style), dense
                       `all_to_all(..., heads=8, backend="torch")` (the whole score matrix is
                       stored), a 1x1 out conv, plus the content
  all_to_all_streamed  the same layer with backend="numba" (online softmax, scores never stored)
  a2k                  `A2K(C, region=8, heads=8)`

  peak memory  first, in a fresh subprocess per method and size (MEMORY_METHOD)
  time         then here: a warm-up call and the median of 2 to 5 repeats (TIME_METHOD)

Guards, checked before a size is tried (so the bench never thrashes the machine): a size whose
predicted score-matrix bytes exceed MemAvailable, or whose predicted peak exceeds 70% of it,
is recorded as an error without running; so is one whose predicted time per call (the previous
size's, times the pixel ratio squared) exceeds --max-call-s. A size that runs out of memory
(MemoryError, RuntimeError "out of memory" / "can't allocate", the child killed) is recorded
too; in every case the method's larger sizes are not tried.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch import nn

from stylelab.bench.methods import child_result, is_oom
from stylelab.bench.sizes import parse_sizes as _parse_sizes
from stylelab.bench.timing import time_guard
from stylelab.core.errors import StylelabError
from stylelab.core.memory import available_bytes
from stylelab.core.memory import format_bytes as _size

SIZES = (256, 512, 1024, 2048)
QUICK_SIZES = (64, 128)
SIZE_STEP = 64  # S / 8 must be a multiple of A2K's block side 8
STRIDE = 8  # the content tap's stride (checked against the encoder)
HEADS, REGION = 8, 8
METHODS = ("all_to_all", "all_to_all_streamed", "a2k", "a2k_chunked")
DESCRIPTIONS = {
    "all_to_all": "SANet-style layer, dense all_to_all (backend torch): stores the scores",
    "all_to_all_streamed": "the same layer, streamed all_to_all (backend numba, online softmax)",
    "a2k": f"A2K(C, region={REGION}, heads={HEADS}): distributed + progressive attention",
    "a2k_chunked": "the same A2K with DA's attention step as chunked all-to-all to the "
    "aggregated keys (backend chunked, as StyA2KNet runs it): DA's scores bounded",
}
WARM_UP_SIDE = 64  # image side of the warm-up call (an 8 x 8 map)
SECONDS_PER_SIZE = 10.0  # the timed repeats of one size fill about this long...
MIN_REPEATS, MAX_REPEATS = 2, 5  # ...within these bounds
LONG_CALL_S = 30.0  # a first call longer than this is the one sample
MAX_CALL_S = 600.0  # default --max-call-s
MEMORY_FRACTION = 0.7  # of MemAvailable: the largest predicted peak tried
MAP_COPIES = 16  # maps of C x L floats alive in one forward, at most (inputs, q, k, v, mvn...)
CHILD_TIMEOUT_S = 3600
GIB = 2**30

TIME_METHOD = (
    "seconds: median of the timed forwards in this process under torch.inference_mode, after "
    f"a warm-up at {WARM_UP_SIDE} px and one at S; repeats = clamp({SECONDS_PER_SIZE:g} s / "
    f"warm-up, {MIN_REPEATS}, {MAX_REPEATS}) unless --repeats; a first call over "
    f"{LONG_CALL_S:g} s is the one sample (warm_up_s null). samples_s keeps every timed call."
)
MEMORY_METHOD = (
    "peak_mib: one forward in a fresh subprocess per method and size, after building the "
    f"layer, a warm-up forward at {WARM_UP_SIDE} px, making the S-side maps and malloc_trim: "
    "VmHWM minus the RSS before the call (PeakMemory), the call's output included. "
    "process_peak_mib is VmHWM itself."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", type=Path, required=True, help="where to write the results")
    parser.add_argument("--plot", type=Path, help="also save a log-log plot (PNG)")
    parser.add_argument(
        "--sizes",
        default=None,
        help="image sides, comma-separated, ascending multiples of 64 (default 256,512,1024,2048)",
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch and numba threads (default: all cores)"
    )
    parser.add_argument(
        "--repeats", type=int, help="timed forwards per size after the warm-up (default 2 to 5)"
    )
    parser.add_argument(
        "--max-call-s",
        type=float,
        default=MAX_CALL_S,
        help=f"skip a size whose predicted time per forward exceeds this (default {MAX_CALL_S:g})",
    )
    parser.add_argument("--quick", action="store_true", help="sides 64,128, one repeat (tests)")
    parser.add_argument("--force", action="store_true", help="overwrite existing output files")


def parse_sizes(text: str | None, quick: bool = False) -> list[int]:
    """'256,512' -> [256, 512]; a one-line StylelabError unless ascending multiples of 64."""
    why = f"the map, S/{STRIDE}, a multiple of the block side {REGION}"
    return _parse_sizes(text, QUICK_SIZES if quick else SIZES, SIZE_STEP, SIZE_STEP, why)


# ---------------------------------------------------------------------------------------------
# the layers and their inputs


def build(method: str, channels: int, heads: int = HEADS, region: int = REGION) -> nn.Module:
    """The layer `method` names, with seeded weights, in eval mode."""
    from stylelab.attention import A2K, SANet

    torch.manual_seed(0)
    if method.startswith("a2k"):
        layer = A2K(channels, region=region, heads=heads)  # DA as the official einsum...
        if method == "a2k_chunked":
            layer.backend = "chunked"  # ...or through all_to_all, a slice of queries at a time
    else:
        backend = "numba" if method == "all_to_all_streamed" else "torch"
        layer = SANet(channels, heads, backend)
    return layer.eval()


def random_maps(side: int, channels: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded random content and style maps (1, C, side/8, side/8) for an image of `side`."""
    gen = torch.Generator().manual_seed(seed)
    m = side // STRIDE
    return torch.randn(1, channels, m, m, generator=gen), torch.randn(
        1, channels, m, m, generator=gen
    )


def encoder_level() -> dict:
    """The offline encoder's stride-8 content tap: where the attention transform runs."""
    from stylelab.encoders import load_encoder

    enc = load_encoder("mobilenetv2", notice=False)
    tap = enc.content_tap
    if enc.strides[tap] != STRIDE:
        raise StylelabError(f"{enc.name}'s content tap {tap} has stride {enc.strides[tap]}")
    return {"encoder": "mobilenetv2", "tap": tap, "C": enc.channels[tap], "stride": STRIDE}


# ---------------------------------------------------------------------------------------------
# the guards


def predicted_bytes(method: str, side: int, channels: int, heads=HEADS, region=REGION):
    """(bytes of the largest attention-weight tensor, of the whole forward) at image `side`.

    Dense: heads x L² scores, twice (the einsum's output and its softmax). A2K: DA's
    heads x r x n² and PA's heads x n x r² (n blocks of r = region² positions), twice each;
    chunked, DA's scores are at most CHUNK_SCORES at once. Streamed: no scores. Every method
    adds MAP_COPIES maps of C x L floats.
    """
    from stylelab.attention.ops import CHUNK_SCORES

    length = (side // STRIDE) ** 2
    maps = MAP_COPIES * channels * length * 4
    if method == "all_to_all":
        scores = heads * length * length * 4
        return scores, 2 * scores + maps
    if method.startswith("a2k"):
        r = region * region
        n = length // r
        da, pa = heads * r * n * n * 4, heads * n * (r * r + n) * 4
        if method == "a2k_chunked":
            da = min(da, CHUNK_SCORES * 4)
        return max(da, pa), 2 * (da + pa) + maps
    return 0, maps


def memory_guard(method: str, side: int, channels: int, available: int | None) -> str | None:
    """Why `method` at `side` must not be tried on this machine's memory, or None."""
    if available is None:
        return None
    scores, total = predicted_bytes(method, side, channels)
    if scores > available:
        return f"would need {_size(scores)} for the scores; {_size(available)} available"
    if total > MEMORY_FRACTION * available:
        return (
            f"would need about {_size(total)} for the forward (predicted); "
            f"over {MEMORY_FRACTION:.0%} of the {_size(available)} available"
        )
    return None


# ---------------------------------------------------------------------------------------------
# the child that measures one forward's peak memory


def _child(argv: list[str]) -> dict:
    from stylelab.core.memory import PeakMemory, malloc_trim

    method, side, threads, channels = argv[0], *map(int, argv[1:])
    torch.set_num_threads(threads)
    layer = build(method, channels)
    with torch.inference_mode():
        layer(*random_maps(WARM_UP_SIDE, channels, seed=1))
    content, style = random_maps(side, channels)
    gc.collect()
    malloc_trim()
    start = time.perf_counter()
    try:
        with PeakMemory() as peak, torch.inference_mode():
            out = layer(content, style)
    except (MemoryError, RuntimeError) as err:
        if not is_oom(err):
            raise
        return {"error": f"{type(err).__name__}: {err}".splitlines()[0], "oom": True}
    seconds = time.perf_counter() - start
    del out
    return {
        "peak_mib": peak.mib,
        "process_peak_mib": peak.process_mib,
        "peak_reset": peak.exact,
        "child_seconds": seconds,
    }


def peak_memory(method: str, side: int, threads: int, channels: int) -> dict:
    """Peak memory of one forward of `method` at `side` in a fresh subprocess."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), NUMBA_NUM_THREADS=str(threads))
    argv = [sys.executable, "-m", "stylelab.bench.attention", "--child", method]
    try:
        done = subprocess.run(
            [*argv, str(side), str(threads), str(channels)],
            capture_output=True,
            text=True,
            env=env,
            timeout=CHILD_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"the memory probe took over {CHILD_TIMEOUT_S} s", "oom": False}
    return child_result(done.returncode, done.stdout, done.stderr)


# ---------------------------------------------------------------------------------------------
# measuring


def _progress(text: str) -> None:
    print(f"bench attention: {text}", file=sys.stderr, flush=True)


def time_forward(layer, content, style, quick: bool, repeats: int | None):
    """(warm-up seconds or None, timed samples) of layer(content, style)."""
    from stylelab.bench.timing import timed

    with torch.inference_mode():
        warm, out = timed(lambda: layer(content, style))
        del out
        if warm > LONG_CALL_S and repeats is None:
            return None, [warm]
        if repeats is not None:
            n = repeats
        elif quick:
            n = 1
        else:
            n = max(MIN_REPEATS, min(MAX_REPEATS, int(SECONDS_PER_SIZE / max(warm, 1e-9))))
        return warm, [timed(lambda: layer(content, style))[0] for _ in range(n)]


def measure_method(method, sizes, threads, channels, quick=False, repeats=None, max_call_s=None):
    """{size: entry} for one method over `sizes` until one fails; see the module docstring."""
    layer = build(method, channels)
    with torch.inference_mode():  # the compile, the thread pools
        layer(*random_maps(WARM_UP_SIDE, channels, seed=1))
    entries, previous, failed = {}, None, None
    for side in sizes:
        key = str(side)
        if failed is not None:
            entries[key] = {"error": f"not tried: {failed}"}
            continue
        why = memory_guard(method, side, channels, available_bytes())
        if why is None and max_call_s is not None:
            why = time_guard(side, previous, max_call_s)
        mem = {"error": f"skipped: {why}"} if why else peak_memory(method, side, threads, channels)
        if "error" not in mem and (why := memory_guard(method, side, channels, available_bytes())):
            mem = {"error": f"skipped: {why}"}  # less memory free now than for the probe
        if "error" in mem:
            entries[key] = {"error": mem["error"]}
            failed = f"{method} failed at {side} px"
            _progress(f"{method} {side} px: {mem['error']}; larger sizes not tried")
            continue
        content, style = random_maps(side, channels)
        try:
            warm, samples = time_forward(layer, content, style, quick, repeats)
        except (MemoryError, RuntimeError) as err:
            if not is_oom(err):
                raise
            entries[key] = {"error": f"{type(err).__name__}: {err}".splitlines()[0]}
            failed = f"{method} failed at {side} px"
            _progress(f"{method} {side} px: {entries[key]['error']}; larger sizes not tried")
            continue
        finally:
            del content, style
            gc.collect()
        entries[key] = {
            "seconds": statistics.median(samples),
            "peak_mib": mem["peak_mib"],
            "process_peak_mib": mem["process_peak_mib"],
            "warm_up_s": warm,
            "samples_s": samples,
            "map_side": side // STRIDE,
            "predicted_gib": predicted_bytes(method, side, channels)[1] / GIB,
        }
        previous = (side, entries[key]["seconds"])
        _progress(
            f"{method} {side} px: {entries[key]['seconds']:.3f} s (median of {len(samples)}), "
            f"peak {mem['peak_mib']:.1f} MiB"
        )
    return entries


def measure(sizes, threads, quick=False, repeats=None, max_call_s=None, command="") -> dict:
    import numba

    from stylelab.bench.attention_report import exponents, goals
    from stylelab.bench.record import machine_info, record_header, uptime, versions

    torch.set_num_threads(threads)
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    start = time.perf_counter()
    level = encoder_level()
    results = record_header(
        "attention", quick, command, machine_info(), versions("numba"),
        {"torch": threads, "numba": numba.get_num_threads()}, None,
    )  # fmt: skip
    results.update(level)
    results.update(heads=HEADS, region=REGION, methods=dict(DESCRIPTIONS))
    results["feature_maps"] = (
        f"content and style: seeded standard-normal (1, {level['C']}, S/{STRIDE}, S/{STRIDE}) "
        f"float32 maps, the size of {level['encoder']}'s {level['tap']} for an S x S image"
    )
    results["time_method"], results["memory_method"] = TIME_METHOD, MEMORY_METHOD
    avail = available_bytes()
    results["machine"]["memory_available_gib"] = avail / GIB if avail else None
    results["max_call_s"] = max_call_s
    per_method = {
        m: measure_method(m, sizes, threads, level["C"], quick, repeats, max_call_s)
        for m in METHODS
    }
    results["sizes"] = {str(s): {m: per_method[m][str(s)] for m in METHODS} for s in sizes}
    results["samples_s"] = {
        m: {k: e["samples_s"] for k, e in per_method[m].items() if "samples_s" in e}
        for m in METHODS
    }
    results["exponents"] = {m: exponents(results["sizes"], m) for m in METHODS}
    results["goals"] = goals(results)
    results["machine"]["load_average_after"] = list(os.getloadavg())
    results["machine"]["uptime_after"] = uptime()
    results["wall_s"] = time.perf_counter() - start
    return results


def run(args: argparse.Namespace) -> int:
    for path in (args.json, args.plot):
        if path is not None and path.exists() and not args.force:
            raise StylelabError(f"{path} exists; pass --force to overwrite it")
    sizes = parse_sizes(args.sizes, args.quick)
    threads = args.threads if args.threads is not None else (os.cpu_count() or 1)
    if threads < 1:
        raise StylelabError(f"--threads must be >= 1, got {threads}")
    if args.repeats is not None and args.repeats < 1:
        raise StylelabError(f"--repeats must be >= 1, got {args.repeats}")
    if args.max_call_s <= 0:
        raise StylelabError(f"--max-call-s must be > 0, got {args.max_call_s:g}")
    command = " ".join(
        ["stylelab bench attention --json", str(args.json)]
        + ([f"--plot {args.plot}"] if args.plot else [])
        + (["--quick"] if args.quick else [])
        + [f"--sizes {','.join(map(str, sizes))}", f"--threads {threads}"]
        + ([f"--repeats {args.repeats}"] if args.repeats else [])
        + [f"--max-call-s {args.max_call_s:g}"]
    )
    results = measure(sizes, threads, args.quick, args.repeats, args.max_call_s, command)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1) + "\n")
    from stylelab.bench.attention_report import figure, summary

    if args.plot is not None:
        figure(results, args.plot)
    for line in summary(results):
        print(line)
    return 0


if __name__ == "__main__":  # the child that peak_memory starts
    if len(sys.argv) != 6 or sys.argv[1] != "--child":
        sys.exit("usage: python -m stylelab.bench.attention --child METHOD SIDE THREADS C")
    print(json.dumps(_child(sys.argv[2:])))
