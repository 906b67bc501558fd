"""`stylelab bench methods`: every image method of the zoo, end to end, over resolution.

    stylelab bench methods --json /tmp/methods.json --plot /tmp/methods.png --threads 2

For each method (`zoo.names()`) and each side S (ascending; default 256, 512, 1024, 2048),
one `model.stylize(content, style)` call (encoder + transform + decoder) on an S x S content
(the bundled astronaut photo, Lanczos-resized) and an S x S style (a procedural painting):

  peak memory  first, in a fresh subprocess (`python -m stylelab.bench.methods --child ...`),
               so one size does not pollute the next: it loads the model and the images, warms
               up at 64 px, releases what malloc keeps, resets the peak-RSS mark
               (/proc/self/clear_refs) and reads VmHWM after one call. peak_mib is VmHWM minus
               the RSS just before the call: the memory the call itself needed.
  time         then here: a warm-up call, and the median of 2 to 5 repeats (fewer at large
               sizes; --repeats fixes the count). All samples are kept.

A size that runs out of memory (MemoryError, a RuntimeError saying "out of memory" or "can't
allocate", or the child killed by the kernel) is recorded with its error, and the method's
larger sizes are skipped; so is a size whose predicted time per call (the previous size's,
times the pixel ratio squared) exceeds --max-call-s, before anything runs. A method whose
weights are missing is recorded with the reason.
The fitted exponents are the least-squares slopes of log(seconds) and log(peak MiB) against
log(pixels): about 1 for a method linear in pixels, about 2 for quadratic attention.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from stylelab.bench.sizes import parse_sizes as _parse_sizes
from stylelab.bench.timing import time_guard
from stylelab.core.errors import StylelabError

SIZES = (256, 512, 1024, 2048)
QUICK_SIZES = (64, 96)
MIN_SIZE = 64
WARM_UP_SIDE = 64  # the child's warm-up call (thread pools, lazy init) before the reset
SECONDS_PER_SIZE = 10.0  # the timed repeats of one size fill about this long...
MIN_REPEATS, MAX_REPEATS = 2, 5  # ...within these bounds
CHILD_TIMEOUT_S = 1800
MAX_CALL_S = 120.0  # default --max-call-s: all-to-all at 1024 px would take minutes per call
OOM_MARKERS = ("out of memory", "can't allocate")

MEMORY_METHOD = (
    "peak_mib: one stylize call in a fresh subprocess per method and size; after loading the "
    f"model and the images and one warm-up call at {WARM_UP_SIDE} px, freed heap is returned "
    "(malloc_trim), the peak-RSS mark is reset (/proc/self/clear_refs '5'), one call runs, "
    "and VmHWM minus the RSS just before the call is reported (the memory the call needed, "
    "its output included). process_peak_mib is VmHWM itself (interpreter, libraries, weights "
    "and images too). Where clear_refs is not writable, ru_maxrss is used instead."
)
TIME_METHOD = (
    "seconds: median of the timed calls after one warm-up call, in this process, under "
    "torch.inference_mode; repeats = clamp(10 s / warm-up, 2, 5) unless --repeats; "
    "samples_s keeps every timed call."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", type=Path, required=True, help="where to write the results")
    parser.add_argument("--plot", type=Path, help="also save a log-log plot (PNG)")
    parser.add_argument(
        "--sizes",
        default=None,
        help="image sides, comma-separated, ascending (default 256,512,1024,2048)",
    )
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: cores)")
    parser.add_argument(
        "--repeats", type=int, help="timed calls per size after the warm-up (default 2 to 5)"
    )
    parser.add_argument(
        "--max-call-s",
        type=float,
        default=MAX_CALL_S,
        help=f"skip a size whose predicted time per call exceeds this (default {MAX_CALL_S:g})",
    )
    parser.add_argument("--quick", action="store_true", help="sides 64,96, one repeat (tests)")
    parser.add_argument("--force", action="store_true", help="overwrite existing output files")


def parse_sizes(text: str | None, quick: bool = False) -> list[int]:
    """'256,512' -> [256, 512]; one-line StylelabError unless integers >= 64, ascending."""
    return _parse_sizes(text, QUICK_SIZES if quick else SIZES, MIN_SIZE)


def fit_exponent(sizes, values) -> float | None:
    """Least-squares slope of log(value) against log(pixels = side²); None below 2 points.

    Non-positive values (a peak below the measurement's resolution) are left out of the fit.
    """
    points = [(math.log(s * s), math.log(v)) for s, v in zip(sizes, values) if v and v > 0]
    if len(points) < 2:
        return None
    mx = statistics.fmean(x for x, _ in points)
    my = statistics.fmean(y for _, y in points)
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if sxx == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in points) / sxx


def is_oom(err: BaseException) -> bool:
    """MemoryError, or a RuntimeError whose message says the allocator gave up."""
    if isinstance(err, MemoryError):
        return True
    return isinstance(err, RuntimeError) and any(m in str(err).lower() for m in OOM_MARKERS)


def repeat_count(warm_s: float, quick: bool, repeats: int | None) -> int:
    if repeats is not None:
        return repeats
    if quick:
        return 1
    return max(MIN_REPEATS, min(MAX_REPEATS, int(SECONDS_PER_SIZE / max(warm_s, 1e-9))))


# ---------------------------------------------------------------------------------------------
# the images, and the child that measures one call's peak memory


def make_images(size: int, folder: Path) -> tuple[Path, Path]:
    """The content and style PNGs of side `size` (the same ones `bench adain` uses)."""
    from stylelab.bench.adain_paths import make_images as make

    return make(size, folder)


def load_pair(files: tuple[Path, Path]):
    from stylelab.core.images import load_image

    return load_image(files[0]).contiguous(), load_image(files[1]).contiguous()


def _child(argv: list[str]) -> dict:
    """In a fresh process: load one method, reset the peak-RSS mark, run one call, report."""
    import gc

    import torch

    from stylelab.core.memory import PeakMemory, malloc_trim
    from stylelab.training import zoo

    name, size, threads, folder = argv
    size = int(size)
    torch.set_num_threads(int(threads))
    try:
        model = zoo.load(name, device="cpu")
    except StylelabError as err:
        return {"error": str(err), "oom": False}
    content, style = load_pair(
        (Path(folder) / f"content_{size}.png", Path(folder) / f"style_{size}.png")
    )
    tiny = torch.rand(1, 3, WARM_UP_SIDE, WARM_UP_SIDE, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        model.stylize(tiny, tiny)
    gc.collect()
    malloc_trim()
    try:
        with PeakMemory() as peak, torch.inference_mode():
            model.stylize(content, style)
    except (MemoryError, RuntimeError) as err:
        if not is_oom(err):
            raise
        return {"error": f"{type(err).__name__}: {err}".splitlines()[0], "oom": True}
    return {"peak_mib": peak.mib, "process_peak_mib": peak.process_mib, "peak_reset": peak.exact}


def child_result(returncode: int, stdout: str, stderr: str) -> dict:
    """The child's JSON line, or {"error", "oom"} saying why there is none."""
    if returncode == 0:
        lines = stdout.strip().splitlines()
        if lines:
            return json.loads(lines[-1])
        return {"error": "the memory probe printed nothing", "oom": False}
    if returncode < 0:
        import signal

        try:
            signame = signal.Signals(-returncode).name
        except ValueError:
            signame = f"signal {-returncode}"
        killed = -returncode == signal.SIGKILL
        why = " (the kernel's out-of-memory killer, most likely)" if killed else ""
        return {"error": f"the memory probe was killed by {signame}{why}", "oom": killed}
    tail = stderr.strip().splitlines()[-1:] or ["no output"]
    oom = returncode == 137 or any(m in tail[0].lower() for m in OOM_MARKERS)
    return {"error": f"the memory probe exited with {returncode}: {tail[0]}", "oom": oom}


def peak_memory(name: str, size: int, threads: int, folder: Path) -> dict:
    """Peak memory of one `name` call at `size` in a fresh subprocess (see MEMORY_METHOD)."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    argv = [sys.executable, "-m", "stylelab.bench.methods", "--child"]
    try:
        done = subprocess.run(
            [*argv, name, str(size), str(threads), str(folder)],
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
    print(f"bench methods: {text}", file=sys.stderr, flush=True)


def time_call(model, content, style, quick: bool, repeats: int | None) -> tuple[float, list]:
    """(warm-up seconds, timed samples) of model.stylize(content, style)."""
    import torch

    from stylelab.bench.timing import timed

    with torch.inference_mode():
        warm, out = timed(lambda: model.stylize(content, style))
        del out
        n = repeat_count(warm, quick, repeats)
        return warm, [timed(lambda: model.stylize(content, style))[0] for _ in range(n)]


def measure_method(
    name, sizes, threads, images, quick=False, repeats=None, max_call_s=None
) -> dict:
    """One method over `sizes` (ascending) until it runs out of memory; see the docstring."""
    import gc

    from stylelab.training import zoo

    try:
        model = zoo.load(name, device="cpu")
    except StylelabError as err:
        _progress(f"{name}: skipped: {err}")
        return {"error": str(err)}
    res = {
        "description": zoo.ZOO.get(name, {}).get("description", type(model).__name__),
        "seconds": {},
        "samples_s": {},
        "warm_up_s": {},
        "peak_mib": {},
        "process_peak_mib": {},
        "errors": {},
    }
    for size in sizes:
        key = str(size)
        done = [int(k) for k in res["seconds"]]
        previous = (done[-1], res["seconds"][str(done[-1])]) if done else None
        why = time_guard(size, previous, max_call_s) if max_call_s is not None else None
        if why is not None:
            res["errors"][key] = why
            _progress(f"{name} {size}²: {why}; larger sizes skipped")
            break
        mem = peak_memory(name, size, threads, images(size)[0].parent)
        if "error" in mem:
            res["errors"][key] = mem["error"]
            _progress(f"{name} {size}²: {mem['error']}; larger sizes skipped")
            break
        content, style = load_pair(images(size))
        try:
            warm, samples = time_call(model, content, style, quick, repeats)
        except (MemoryError, RuntimeError) as err:
            if not is_oom(err):
                raise
            res["errors"][key] = f"{type(err).__name__}: {err}".splitlines()[0]
            _progress(f"{name} {size}²: {res['errors'][key]}; larger sizes skipped")
            break
        finally:
            del content, style
            gc.collect()
        res["seconds"][key] = statistics.median(samples)
        res["samples_s"][key], res["warm_up_s"][key] = samples, warm
        res["peak_mib"][key], res["process_peak_mib"][key] = (
            mem["peak_mib"],
            mem["process_peak_mib"],
        )
        _progress(
            f"{name} {size}²: {res['seconds'][key]:.3f} s (median of {len(samples)}), "
            f"peak {mem['peak_mib']:.0f} MiB over the baseline"
        )
    done = [int(k) for k in res["seconds"]]
    res["exponents"] = {
        "seconds": fit_exponent(done, [res["seconds"][str(s)] for s in done]),
        "peak_mib": fit_exponent(done, [res["peak_mib"][str(s)] for s in done]),
    }
    return res


def measure(sizes, threads, quick=False, repeats=None, command="", max_call_s=None) -> dict:
    import torch

    from stylelab.bench.record import machine_info, record_header, uptime, versions
    from stylelab.training import zoo

    torch.set_num_threads(threads)
    start = time.perf_counter()
    results = record_header(
        "methods", quick, command, machine_info(), versions(), {"torch": threads}, None
    )
    results["sizes"] = list(sizes)
    results["end_to_end"] = (
        "one model.stylize(content, style) call: both images encoded, the transform, the "
        "decoder; content and style both S x S, output S x S, fp32 on CPU"
    )
    from stylelab.bench.adain_paths import CONTENT, STYLE

    results["images"] = {
        "content": f"skimage.data {CONTENT} (512² native), Lanczos-resized to S², 8-bit",
        "style": f"stylelab.paintings.paint({STYLE!r}, size=S, seed=0), 8-bit",
    }
    results["time_method"], results["memory_method"] = TIME_METHOD, MEMORY_METHOD
    results["max_call_s"] = max_call_s
    results["methods"] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder, made = Path(tmp), {}

        def images(size):
            if size not in made:
                made[size] = make_images(size, folder)
            return made[size]

        for name in zoo.names():
            results["methods"][name] = measure_method(
                name, sizes, threads, images, quick, repeats, max_call_s
            )
    results["machine"]["load_average_after"] = list(os.getloadavg())
    results["machine"]["uptime_after"] = uptime()
    results["wall_s"] = time.perf_counter() - start
    return results


# ---------------------------------------------------------------------------------------------
# the command, the summary and the plot


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
    command = " ".join(
        ["stylelab bench methods --json", str(args.json)]
        + ([f"--plot {args.plot}"] if args.plot else [])
        + (["--quick"] if args.quick else [])
        + [f"--sizes {','.join(map(str, sizes))}", f"--threads {threads}"]
        + ([f"--repeats {args.repeats}"] if args.repeats else [])
        + [f"--max-call-s {args.max_call_s:g}"]
    )
    if args.max_call_s <= 0:
        raise StylelabError(f"--max-call-s must be positive, got {args.max_call_s}")
    results = measure(
        sizes, threads, args.quick, args.repeats, command=command, max_call_s=args.max_call_s
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1) + "\n")
    if args.plot is not None:
        figure(results, args.plot)
    for line in summary(results):
        print(line)
    return 0


def _fmt(value, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def summary(results: dict) -> list[str]:
    lines = []
    for name, res in results["methods"].items():
        if "error" in res:
            lines.append(f"{name}: not measured: {res['error']}")
            continue
        cells = [
            f"{k}² {res['seconds'][k]:.3f} s {_fmt(res['peak_mib'][k], '.0f')} MiB"
            for k in res["seconds"]
        ]
        cells += [f"{k}² {err}" for k, err in res["errors"].items()]
        exp = res["exponents"]
        lines.append(
            f"{name}: " + "; ".join(cells) + f" | exponents (vs pixels): seconds "
            f"{_fmt(exp['seconds'], '.2f')}, peak MiB {_fmt(exp['peak_mib'], '.2f')}"
        )
    lines.append(f"threads {results['threads']['torch']}, wall {results['wall_s']:.0f} s")
    return lines


def figure(results: dict, path: Path) -> None:
    """Seconds and peak MiB against the image side, log-log, one line per method."""
    import textwrap

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, NullLocator

    fig = Figure(figsize=(9.4, 4.2), dpi=100)  # at most 9.4 in at 100 dpi: the book's width
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2)
    sizes = results["sizes"]
    panels = (("seconds", "seconds per call"), ("peak_mib", "peak memory of the call (MiB)"))
    for ax, (key, ylabel) in zip(axes, panels):
        for name, res in results["methods"].items():
            if "error" in res or not res[key]:
                continue
            xs = [int(k) for k, v in res[key].items() if v and v > 0]
            ys = [res[key][str(x)] for x in xs]
            label = f"{name} (∝ pixels$^{{{_fmt(res['exponents'][key], '.2f')}}}$)"
            if res["errors"]:
                label += f", out of memory at {min(map(int, res['errors']))}"
            ax.plot(xs, ys, marker="o", label=label)
        if key == "seconds" and ax.lines:  # a guide: linear in pixels through the first point
            x0, y0 = ax.lines[0].get_xdata()[0], ax.lines[0].get_ydata()[0]
            ax.plot(sizes, [y0 * (s / x0) ** 2 for s in sizes], ":", color="grey", lw=1,
                    label="∝ pixels (guide)")  # fmt: skip
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(sizes, [str(s) for s in sizes])
        ax.xaxis.set_minor_locator(NullLocator())  # only the measured sides are ticked
        ax.set_xlabel("image side S (content, style and output S x S)", fontsize=9)
        ax.set_ylabel(ylabel, fontsize=9)
        for axis in (ax.xaxis, ax.yaxis):  # 0.5, 2, 300 rather than 5 x 10^-1
            axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        low, high = ax.get_ylim()
        if high < 10 * low:  # less than a decade: label the minor ticks too
            ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.tick_params(which="both", labelsize=8)
        ax.grid(True, which="major", alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
    skipped = [
        f"{n} ({r['error'].split(';')[0][:80]})"
        for n, r in results["methods"].items()
        if "error" in r
    ]
    caption = (
        f"End to end: one model.stylize(content, style) call (encoder + transform + decoder), "
        f"fp32, on {results['machine']['cpu']} with {results['threads']['torch']} torch "
        f"thread{'s' * (results['threads']['torch'] != 1)}"
        + (", quick mode" if results["quick"] else "")
        + f"; {results['date'][:10]}, load average before "
        f"{results['machine']['load_average_before'][0]:.1f} on "
        f"{results['machine']['logical_cpus']} logical CPUs."
        + (f" Not measured: {'; '.join(skipped)}." if skipped else "")
    )
    fig.suptitle(textwrap.fill(caption, 120), fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)


if __name__ == "__main__":  # the child that peak_memory starts
    if len(sys.argv) != 6 or sys.argv[1] != "--child":
        sys.exit("usage: python -m stylelab.bench.methods --child METHOD SIZE THREADS DIR")
    print(json.dumps(_child(sys.argv[2:])))
