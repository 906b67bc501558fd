"""Timings the chapters measure live, while the book builds: AdaIN against Gatys (chapter 2),
and the thread and best-of conventions chapters 2 and 3 share.

Unlike the `stylelab bench` suites (medians, JSON, a quiet machine), a chapter runs on
whatever machine builds the book, often a busy one. So every timing here runs on one
thread (the time then measures the work, not how a thread pool fares against other
programs) and keeps the fastest of its repeats (noise only ever adds time). One-off calls
go through `stylelab.bench.timing.timed`.

The AdaIN/Gatys comparison measures what fits in a chapter's time and extrapolates the rest
by pixel count, saying which is which (`SpeedComparison.how`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field

from stylelab.bench.timing import timed
from stylelab.core.errors import StylelabError


@contextmanager
def single_thread(numba: bool = False):
    """One torch thread (and one numba thread if `numba`) inside the block; restored after."""
    import torch

    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    if numba:
        import numba as nb

        saved_numba = nb.get_num_threads()
        nb.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(saved)
        if numba:
            nb.set_num_threads(saved_numba)


def best_of(fn: Callable[[], object], repeats: int) -> float:
    """Seconds of the fastest of `repeats` calls of fn(), after one warm-up call (the first
    call allocates, compiles or fills caches)."""
    fn()
    return min(timed(fn)[0] for _ in range(max(1, repeats)))


def square(img, side: int):
    """(1, 3, H, W) -> (1, 3, side, side): timing inputs of an exact size."""
    import torch.nn.functional as F

    return F.interpolate(img, size=(side, side), mode="bilinear", antialias=True).clamp(0, 1)


def time_adain(model, content, style, side: int, repeats: int) -> float:
    """Seconds per `model.stylize` of square content and style of `side` px (best of repeats)."""
    import torch

    device = next(model.parameters()).device
    c, s = square(content, side).to(device), square(style, side).to(device)

    def call():
        model.stylize(c, s)
        if device.type == "cuda":
            torch.cuda.synchronize()  # CUDA runs asynchronously: wait for the work

    return best_of(call, repeats)


def time_gatys(content, style, encoder, side: int, steps: int, seed: int = 0):
    """(set-up seconds, seconds per L-BFGS step) of a Gatys run at `side` px.

    A timestamp after every step (the optimiser's callback) gives the per-step time: the
    fastest step, the least disturbed one. The set-up is the time to the end of the first
    step less one step: computing the targets, building the optimiser.
    """
    from stylelab.losses.gatys import gatys_transfer

    if steps < 2:
        raise StylelabError(f"time_gatys needs at least 2 steps to time one, got {steps}")
    stamps = [time.perf_counter()]  # a clock inside the run: `timed` only sees its ends
    gatys_transfer(
        square(content, side),
        square(style, side),
        encoder,
        steps=steps,
        size=None,
        seed=seed,
        progress=False,
        callback=lambda *_: stamps.append(time.perf_counter()),
    )
    per_step = min(b - a for a, b in zip(stamps[1:], stamps[2:]))
    return stamps[1] - stamps[0] - per_step, per_step


def by_pixels(seconds: float, from_side: int, to_side: int) -> float:
    """Scale a time measured at `from_side` px to `to_side` px by pixel count."""
    return seconds * (to_side / from_side) ** 2


@dataclass
class SpeedComparison:
    """Seconds per image at each side, and how each number was obtained."""

    gatys_steps: int
    gatys_timed_steps: int
    adain_s: dict[int, float] = field(default_factory=dict)
    adain_how: dict[int, str] = field(default_factory=dict)
    gatys_s: dict[int, float] = field(default_factory=dict)
    gatys_how: dict[int, str] = field(default_factory=dict)
    gatys_measured: dict[int, tuple[float, float]] = field(default_factory=dict)  # set-up, step

    def table(self, sides: Iterable[int]) -> str:
        """Markdown: per side, both times, how each was obtained, and their ratio."""
        lines = [
            f"| side | AdaIN, s per image | how | Gatys ({self.gatys_steps} steps), s per image "
            "| how | Gatys / AdaIN |",
            "|---|---|---|---|---|---|",
        ]
        for side in sides:
            a, g = self.adain_s[side], self.gatys_s[side]
            lines.append(
                f"| {side} | {a:.3g} | {self.adain_how[side]} | {g:.3g} "
                f"| {self.gatys_how[side]} | {g / a:,.0f}x |"
            )
        return "\n".join(lines)

    def notes(self) -> list[str]:
        """Markdown lines: the measured Gatys numbers, and how well time follows pixels."""
        measured = "; ".join(
            f"{s} px: set-up {a:.2f} s, {b * 1000:.0f} ms per step"
            for s, (a, b) in self.gatys_measured.items()
        )
        lines = [f"Gatys, measured over {self.gatys_timed_steps} steps: {measured}."]
        if len(self.gatys_measured) > 1:
            (s0, (_, p0)), (s1, (_, p1)) = sorted(self.gatys_measured.items())[:2]
            lines.append(
                f"Per-step time {s1} px / {s0} px = {p1 / p0:.1f} (pixel ratio "
                f"{(s1 / s0) ** 2:.0f}): how well the pixel-count assumption holds here."
            )
        return lines


def adain_vs_gatys(
    model,
    content,
    style,
    sides: list[int],
    adain_max_side: int,
    adain_repeats: int,
    gatys_sides: list[int],
    gatys_timed_steps: int,
    gatys_steps: int,
    seed: int = 0,
) -> SpeedComparison:
    """Seconds per image for AdaIN (`model.stylize`) and a `gatys_steps` Gatys run with
    `model.encoder`, on one thread, at every side in `sides` (and `gatys_sides`).

    AdaIN is measured up to `adain_max_side` and extrapolated from the largest measured side
    beyond it. Gatys: set-up and per-step time are measured at `gatys_sides` over
    `gatys_timed_steps` steps; a run is set-up + gatys_steps x per-step, extrapolated by
    pixel count from the largest measured side to the others.
    """
    out = SpeedComparison(gatys_steps, gatys_timed_steps)
    with single_thread():
        for side in sides:
            if side <= adain_max_side:
                out.adain_s[side] = time_adain(model, content, style, side, adain_repeats)
                out.adain_how[side] = "measured"
        time_gatys(content, style, model.encoder, 64, 2, seed)  # warm-up: one-off set-up costs
        for side in gatys_sides:
            out.gatys_measured[side] = time_gatys(
                content, style, model.encoder, side, gatys_timed_steps, seed
            )
    ref = max(out.adain_s)
    for side in sides:
        if side not in out.adain_s:
            out.adain_s[side] = by_pixels(out.adain_s[ref], ref, side)
            out.adain_how[side] = f"extrapolated from {ref} px"
    g_ref = max(out.gatys_measured)
    for side in sorted(set(sides) | set(gatys_sides)):
        setup, per_step = out.gatys_measured.get(side, out.gatys_measured[g_ref])
        run = setup + gatys_steps * per_step
        if side in out.gatys_measured:
            out.gatys_s[side] = run
            out.gatys_how[side] = f"set-up and per-step measured, x {gatys_steps} steps"
        else:
            out.gatys_s[side] = by_pixels(run, g_ref, side)
            out.gatys_how[side] = f"extrapolated from {g_ref} px"
    return out
