"""`stylelab bench attention`'s report: the goals, one line per method, and the figure."""

from __future__ import annotations

import textwrap
from pathlib import Path

from stylelab.bench.methods import fit_exponent

GOAL_SIDE = 1024  # goal 1: A2K's memory against dense all-to-all at this side
FASTER_FROM = 512  # goal 2: A2K faster than dense all-to-all from this side up
MEMORY_RATIO = 10.0
LINEAR_MAX = 1.2  # goal 3: the streamed peak memory's exponent against pixels, at most

GOALS = {
    "a2k_memory_10x_less_at_1024": (
        f"A2K uses >= {MEMORY_RATIO:g}x less peak memory than dense all-to-all at {GOAL_SIDE} px "
        "(or dense could not run there)"
    ),
    "a2k_faster_from_512": f"A2K is faster than dense all-to-all at every size >= {FASTER_FROM} px",
    "streamed_memory_linear": (
        f"the streamed all-to-all's peak memory grows linearly: fitted exponent against pixels "
        f"<= {LINEAR_MAX}"
    ),
}


def predicted_macs(method: str, side: int, channels: int, region: int = 8, stride: int = 8):
    """Multiply-adds of one forward of `method` (bench names) on an image of `side`, counted
    from the ops: eq. 15 read with the official code's fixed block side s (n = L / s² blocks):

        all-to-all  4 L C²  (q, k, v, out)  +  2 L² C          (scores, weighted sum)
        A2K         8 L C²  (6 projections, 2 fusions)  +  2 L n C  (DA)
                    +  n² r C = L n C  (PA step 1)  +  2 L r C  (PA step 3)

    with L = (side / stride)² positions. The streamed kernel does dense all-to-all's work.
    At a fixed s the n² terms still grow as L², with 1/s² of all-to-all's constant.
    """
    length, c = (side // stride) ** 2, channels
    if method.startswith("all_to_all"):
        return 4 * length * c * c + 2 * length * length * c
    r = region * region
    n = length // r
    return 8 * length * c * c + 3 * length * n * c + 2 * length * r * c


def exponents(sizes_res: dict, method: str) -> dict:
    """Least-squares slopes of log(seconds) and log(peak MiB) against log(pixels)."""
    done = [(int(k), row[method]) for k, row in sizes_res.items() if "seconds" in row[method]]
    return {
        key: fit_exponent([s for s, _ in done], [e[key] for _, e in done])
        for key in ("seconds", "peak_mib")
    }


def _goal(name: str, met: bool, detail: str) -> dict:
    return {"goal": GOALS[name], "met": bool(met), "detail": detail}


def _memory_goal(sizes: dict) -> dict:
    name = "a2k_memory_10x_less_at_1024"
    row = sizes.get(str(GOAL_SIDE))
    if row is None:
        return _goal(name, False, f"not evaluated: {GOAL_SIDE} px is not in this run")
    dense, a2k = row["all_to_all"], row["a2k"]
    if "error" in a2k:
        return _goal(name, False, f"A2K did not run at {GOAL_SIDE} px: {a2k['error']}")
    if "error" in dense:
        return _goal(
            name, True, f"dense could not run at {GOAL_SIDE} px ({dense['error']}); "
            f"A2K peaked at {a2k['peak_mib']:.1f} MiB",
        )  # fmt: skip
    ratio = dense["peak_mib"] / a2k["peak_mib"] if a2k["peak_mib"] > 0 else float("inf")
    return _goal(
        name, ratio >= MEMORY_RATIO, f"at {GOAL_SIDE} px dense {dense['peak_mib']:.1f} MiB, "
        f"A2K {a2k['peak_mib']:.1f} MiB: {ratio:.1f}x less",
    )  # fmt: skip


def _speed_goal(sizes: dict) -> dict:
    name = "a2k_faster_from_512"
    keys = [k for k in sizes if int(k) >= FASTER_FROM]
    if not keys:
        return _goal(name, False, f"not evaluated: no size >= {FASTER_FROM} px in this run")
    met, parts = True, []
    for key in keys:
        dense, a2k = sizes[key]["all_to_all"], sizes[key]["a2k"]
        if "error" in a2k:
            met = False
            parts.append(f"{key} px: A2K did not run ({a2k['error']})")
        elif "error" in dense:
            parts.append(f"{key} px: A2K {a2k['seconds']:.3f} s, dense could not run")
        else:
            met &= a2k["seconds"] < dense["seconds"]
            parts.append(
                f"{key} px: A2K {a2k['seconds']:.3f} s, dense {dense['seconds']:.3f} s "
                f"({dense['seconds'] / a2k['seconds']:.1f}x)"
            )
    return _goal(name, met, "; ".join(parts))


def _linear_goal(results: dict) -> dict:
    name = "streamed_memory_linear"
    exp = results["exponents"]["all_to_all_streamed"]["peak_mib"]
    ran = {
        k: row["all_to_all_streamed"]["peak_mib"]
        for k, row in results["sizes"].items()
        if "peak_mib" in row["all_to_all_streamed"]
    }
    points = ", ".join(f"{k} px {v:.1f} MiB" for k, v in ran.items())
    if exp is None:
        return _goal(name, False, f"not evaluated: fewer than 2 sizes measured ({points})")
    return _goal(name, exp <= LINEAR_MAX, f"exponent {exp:.2f} over {points}")


def goals(results: dict) -> dict:
    """The three goals, evaluated from this run's `sizes` and `exponents`."""
    sizes = results["sizes"]
    return {
        "a2k_memory_10x_less_at_1024": _memory_goal(sizes),
        "a2k_faster_from_512": _speed_goal(sizes),
        "streamed_memory_linear": _linear_goal(results),
    }


def _fmt(value, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def summary(results: dict) -> list[str]:
    lines = [f"C {results['C']} at stride {results['stride']} ({results['encoder']} "
             f"{results['tap']}), heads {results['heads']}, region {results['region']}"]  # fmt: skip
    for method in results["exponents"]:
        cells = []
        for key, row in results["sizes"].items():
            e = row[method]
            cells.append(
                f"{key} {e['error']}" if "error" in e
                else f"{key} {e['seconds']:.3f} s {e['peak_mib']:.1f} MiB"
            )  # fmt: skip
        exp = results["exponents"][method]
        lines.append(
            f"{method}: " + "; ".join(cells) + f" | exponents (vs pixels): seconds "
            f"{_fmt(exp['seconds'], '.2f')}, peak MiB {_fmt(exp['peak_mib'], '.2f')}"
        )
    for name, goal in results["goals"].items():
        lines.append(f"goal {name}: {'met' if goal['met'] else 'NOT met'}: {goal['detail']}")
    lines.append(f"threads {results['threads']['torch']}, wall {results['wall_s']:.0f} s")
    return lines


def figure(results: dict, path: Path) -> None:
    """Seconds and peak MiB against the image side, log-log, one line per method."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, NullLocator

    fig = Figure(figsize=(9.4, 5.0), dpi=100)  # at most 9.4 in at 100 dpi: the book's width
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2)
    sizes = [int(k) for k in results["sizes"]]
    panels = (("seconds", "seconds per forward"), ("peak_mib", "peak memory of the forward (MiB)"))
    for ax, (key, ylabel) in zip(axes, panels):
        for method, exp in results["exponents"].items():
            rows = {int(k): row[method] for k, row in results["sizes"].items()}
            xs = [s for s, e in rows.items() if e.get(key) and e[key] > 0]
            if not xs:
                continue
            label = f"{method} (∝ pixels$^{{{_fmt(exp[key], '.2f')}}}$)"
            failed = [s for s, e in rows.items() if "error" in e]
            if failed:
                label += f", not run from {min(failed)}"
            ax.plot(xs, [rows[x][key] for x in xs], marker="o", label=label)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(sizes, [str(s) for s in sizes])
        ax.xaxis.set_minor_locator(NullLocator())  # only the measured sides are ticked
        ax.set_xlabel(f"image side S (attention on the S/{results['stride']} map)", fontsize=9)
        ax.set_ylabel(ylabel, fontsize=9)
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.tick_params(which="both", labelsize=8)
        ax.grid(True, which="major", alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.16))  # clear
    threads = results["threads"]["torch"]
    title = (
        f"The attention transform alone (C = {results['C']}, stride {results['stride']}, "
        f"{results['heads']} heads, A2K region {results['region']}), fp32, on "
        f"{results['machine']['cpu']} with {threads} thread{'s' * (threads != 1)}"
        + (", quick mode" if results["quick"] else "")
        + f"; {results['date'][:10]}, load average before "
        f"{results['machine']['load_average_before'][0]:.1f}."
    )
    fig.suptitle(textwrap.fill(title, 120), fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
