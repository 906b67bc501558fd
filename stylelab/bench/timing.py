"""The one way stylelab times code: `timed` for one call, `time_call` for a median.

Performance is measured, never asserted in tests: these feed `stylelab bench` JSON and the
chapters' timing plots.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(wall seconds of one fn() call, what it returned)."""
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def time_call(fn: Callable[[], Any], seconds: float, max_repeats: int = 15) -> dict:
    """Median wall time of fn() after a warm-up call; 3 to max_repeats repeats, about `seconds`.

    A call slower than `seconds` (the Python reference, the O(T²) definition at
    large T) is timed once, its warm-up being the measurement: those are pure loops or
    one big op, with nothing to compile (numba kernels are compiled before timing).
    Returns {"median_s", "min_s", "repeats", "warm_up"}.
    """
    first, _ = timed(fn)
    if first > seconds:
        return {"median_s": first, "min_s": first, "repeats": 1, "warm_up": False}
    repeats = max(3, min(max_repeats, int(seconds / max(first, 1e-9))))
    times = [timed(fn)[0] for _ in range(repeats)]
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "repeats": repeats,
        "warm_up": True,
    }


def time_guard(side: int, previous: tuple[int, float] | None, limit: float) -> str | None:
    """Why a size would take too long: the last size's (side, seconds) times the pixel ratio
    squared (the pessimistic reading: quadratic in pixels, as dense attention is), or None."""
    if previous is None:
        return None
    predicted = previous[1] * (side / previous[0]) ** 4
    if predicted <= limit:
        return None
    return (
        f"would take about {predicted:.0f} s per forward ({previous[1]:.1f} s at {previous[0]} "
        f"px, quadratic in pixels); over the --max-call-s limit of {limit:g} s"
    )
