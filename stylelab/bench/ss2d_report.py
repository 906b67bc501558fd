"""`stylelab bench ss2d`'s report: the fits, the ratios, the goals, the summary and the figure."""

from __future__ import annotations

import textwrap
from pathlib import Path

from stylelab.bench.methods import fit_exponent

LINEAR_MAX = 1.1  # goal 1: numba forward time against tokens, fitted exponent at most
SPEEDUP_MIN = 10.0  # goal 2: numba forward + backward against the torch loop, at least

GOALS = {
    "linear_in_tokens": (
        f"SS2D's cost grows linearly in the number of tokens: the numba forward's fitted "
        f"exponent of time against tokens <= {LINEAR_MAX}"
    ),
    "numba_10x_torch_loop": (
        f"numba forward + backward >= {SPEEDUP_MIN:g}x faster than the torch loop, at the "
        "largest size both ran in this run"
    ),
}


def entries(results: dict, name: str) -> dict[int, dict]:
    """{side: entry} of the sizes where key `name` was measured."""
    rows = {int(s): row.get(name, {}) for s, row in results["sizes"].items()}
    return {s: e for s, e in rows.items() if "seconds" in e}


def fit(results: dict, name: str, field: str = "seconds") -> float | None:
    """Least-squares slope of log(field) against log(tokens); None below 2 sizes. Tokens are
    pixels / 64, so the slope against pixels (fit_exponent's) is the one against tokens."""
    done = entries(results, name)
    return fit_exponent(list(done), [e[field] for e in done.values()])


def ratios(results: dict, backend: str) -> dict:
    """{mode: {side: backend's seconds / numba's}} at the sizes both ran."""
    suffix = {"forward": "", "backward": "_backward"}
    found = {}
    for mode, end in suffix.items():
        numba, other = entries(results, "ss2d" + end), entries(results, f"ss2d_{backend}{end}")
        found[mode] = {
            str(s): other[s]["seconds"] / numba[s]["seconds"]
            for s in sorted(set(numba) & set(other))
            if numba[s]["seconds"] > 0
        }
    return found


def _goal(name: str, met: bool, detail: str) -> dict:
    return {"goal": GOALS[name], "met": bool(met), "detail": detail}


def _linear_goal(results: dict) -> dict:
    name = "linear_in_tokens"
    exp = results["fit"].get("ss2d")
    done = entries(results, "ss2d")
    points = ", ".join(f"{results['tokens'][str(s)]} tokens {e['seconds']:.4f} s"
                       for s, e in done.items())  # fmt: skip
    if exp is None:
        return _goal(name, False, f"not evaluated: fewer than 2 sizes measured ({points})")
    back = results["fit"].get("ss2d_backward")
    extra = "" if back is None else f"; forward + backward {back:.2f}"
    return _goal(name, exp <= LINEAR_MAX, f"exponent {exp:.2f} over {points}{extra}")


def _speedup_goal(results: dict) -> dict:
    name = "numba_10x_torch_loop"
    measured = results["ratios"].get("torch_loop_over_numba", {}).get("backward", {})
    if not measured:
        return _goal(name, False, "not evaluated: no size where both ran forward + backward")
    side = max(measured, key=int)
    numba = results["sizes"][side]["ss2d_backward"]["seconds"]
    loop = results["sizes"][side]["ss2d_torch_loop_backward"]["seconds"]
    return _goal(
        name, measured[side] >= SPEEDUP_MIN, f"at {side} px ({results['tokens'][side]} tokens) "
        f"numba {numba:.4f} s, torch loop {loop:.4f} s: {measured[side]:.1f}x",
    )  # fmt: skip


def headline(results: dict) -> str:
    """One sentence: numba at the largest size it ran, then each goal and whether it is met."""
    done = entries(results, "ss2d")
    goals = results["goals"]
    parts = [f"SS2D cross (ST-VSSM, d_model {results['d_model']}, d_state {results['d_state']})"]
    if done:
        side = max(done)
        back = results["sizes"][str(side)].get("ss2d_backward", {})
        parts.append(
            f"numba at {side} px ({results['tokens'][str(side)]} tokens): forward "
            f"{done[side]['seconds']:.3f} s"
            + (f", forward + backward {back['seconds']:.3f} s" if "seconds" in back else "")
        )
    exp = results["fit"].get("ss2d")
    met = "met" if goals["linear_in_tokens"]["met"] else "NOT met"
    parts.append(f"time ∝ tokens^{_fmt(exp, '.2f')} (goal <= {LINEAR_MAX}: {met})")
    speed = results["ratios"].get("torch_loop_over_numba", {}).get("backward", {})
    met = "met" if goals["numba_10x_torch_loop"]["met"] else "NOT met"
    if speed:
        side = max(speed, key=int)
        parts.append(
            f"forward + backward {speed[side]:.1f}x the torch loop at {side} px "
            f"(goal >= {SPEEDUP_MIN:g}x: {met})"
        )
    else:
        parts.append(f"no size where numba and the torch loop both ran (goal: {met})")
    return "; ".join(parts)


def finish(results: dict) -> None:
    """Add "fit", "fit_peak_mib", "ratios", "goals" and "headline" to a measured run."""
    names = list(results["keys"])
    results["fit"] = {n: fit(results, n) for n in names}
    results["fit_peak_mib"] = {n: fit(results, n, "peak_mib") for n in names}
    results["ratios"] = {
        f"{b}_over_numba": ratios(results, b) for b in results["backends"] if b != "numba"
    }
    results["goals"] = {"linear_in_tokens": _linear_goal(results)}
    results["goals"]["numba_10x_torch_loop"] = _speedup_goal(results)
    results["headline"] = headline(results)


# ---------------------------------------------------------------------------------------------
# the summary table


def _fmt(value, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def _cell(entry: dict) -> str:
    if "seconds" in entry:
        return f"{entry['seconds']:.3g} s {entry['peak_mib']:.0f} MiB"
    error = entry.get("error", "")
    return error.split(":")[0] if error else "-"  # "skipped", "not tried", ...


def summary(results: dict) -> list[str]:
    """A table: one row per key (seconds and peak MiB per size, the exponent), then every
    skipped size's reason, the goals and the headline."""
    sides = list(results["sizes"])
    lines = [f"{results['layer']}; batch 1; threads {results['threads']['torch']}"]
    head = [f"{s} px ({results['tokens'][s]} tok)" for s in sides]
    width = max(22, *(len(h) for h in head))
    lines.append(f"{'key':28s}" + "".join(f"{h:>{width}s}" for h in head) + "  exponent")
    for name in results["keys"]:
        cells = [_cell(results["sizes"][s].get(name, {})) for s in sides]
        lines.append(
            f"{name:28s}" + "".join(f"{c:>{width}s}" for c in cells)
            + f"  {_fmt(results['fit'][name], '.2f'):>8s}"
        )  # fmt: skip
    for s in sides:
        for name, entry in results["sizes"][s].items():
            if "error" in entry and not entry["error"].startswith("not tried"):
                lines.append(f"  {name} at {s} px: {entry['error']}")
    for name, goal in results["goals"].items():
        lines.append(f"goal {name}: {'met' if goal['met'] else 'NOT met'}: {goal['detail']}")
    lines.append(results["headline"])
    lines.append(f"wall {results['wall_s']:.0f} s")
    return lines


# ---------------------------------------------------------------------------------------------
# the figure


def _panel(ax, results: dict, mode: str) -> None:
    """One mode's seconds against tokens, a line per backend, and the dashed linear guide."""
    end = "_backward" if mode == "backward" else ""
    for i, backend in enumerate(results["backends"]):  # one colour per backend in both panels
        name = ("ss2d" if backend == "numba" else f"ss2d_{backend}") + end
        done = entries(results, name)
        if not done:
            continue
        xs = [results["tokens"][str(s)] for s in done]
        label = f"{backend} (∝ tokens$^{{{_fmt(results['fit'][name], '.2f')}}}$)"
        stopped = [int(s) for s, row in results["sizes"].items() if "error" in row.get(name, {})]
        if stopped:
            label += f", not run from {min(stopped)} px"
        ax.plot(xs, [e["seconds"] for e in done.values()], marker="o", color=f"C{i}", label=label)
    numba = entries(results, "ss2d" + end)
    if numba:  # through numba's largest size, where fixed costs matter least
        side = max(numba)
        x0, y0 = results["tokens"][str(side)], numba[side]["seconds"]
        xs = list(results["tokens"].values())
        ax.plot(xs, [y0 * x / x0 for x in xs], "--", color="grey", lw=1, label="∝ tokens")


def figure(results: dict, path: Path) -> None:
    """Seconds against tokens, log-log: forward (left), forward + backward (right)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, NullLocator

    fig = Figure(figsize=(9.4, 5.0), dpi=100)  # at most 9.4 in at 100 dpi: the book's width
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2)
    ticks = list(results["tokens"].values())
    labels = [f"{t}\n{s} px" for s, t in results["tokens"].items()]
    for ax, mode, title in zip(axes, ("forward", "backward"), ("forward", "forward + backward")):
        _panel(ax, results, mode)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(ticks, labels)
        ax.xaxis.set_minor_locator(NullLocator())  # only the measured sizes are ticked
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(f"tokens (image side S, S/{results['patch']} tokens a side)", fontsize=9)
        ax.set_ylabel("seconds per call", fontsize=9)
        ax.tick_params(which="both", labelsize=8)
        ax.grid(True, which="major", alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.24))  # clear
    threads = results["threads"]["torch"]
    title = (
        f"Cross SS2D (ST-VSSM: d_model {results['d_model']}, d_state {results['d_state']}, "
        f"batch 1), fp32, on {results['machine']['cpu']} with {threads} "
        f"thread{'s' * (threads != 1)}" + (", quick mode" if results["quick"] else "")
        + f"; {results['date'][:10]}, load average before "
        f"{results['machine']['load_average_before'][0]:.1f}."
    )  # fmt: skip
    fig.suptitle(textwrap.fill(title, 110), fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
