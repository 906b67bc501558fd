"""The evaluation report as text and as a figure: one row or one bar per method."""

from __future__ import annotations

import textwrap
from pathlib import Path

COLUMNS = (
    ("content_loss", "content loss", "{:.3f}"),
    ("style_loss", "style loss", "{:.3f}"),
    ("lpips", "LPIPS", "{:.3f}"),
    ("ssim", "SSIM", "{:.3f}"),
    ("seconds_per_image", "s / image", "{:.3f}"),
    ("peak_mib", "peak MiB", "{:.0f}"),
    ("warping_error", "warping error", "{:.2e}"),
)


def markdown_table(report: dict) -> str:
    """A Markdown table: one row per method (a method that could not run says why)."""
    head = "| method | " + " | ".join(label for _, label, _ in COLUMNS) + " |"
    lines = [head, "|---|" + "---|" * len(COLUMNS)]
    for name, res in report["methods"].items():
        if "error" in res:
            lines.append(f"| {name} | not run: {res['error']} |" + " |" * (len(COLUMNS) - 1))
            continue
        cells = [fmt.format(res[key]) if res[key] is not None else "n/a" for key, _, fmt in COLUMNS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(report: dict, path: Path) -> Path:
    """Bars per metric, one per method that ran; 9.4 in wide at 100 dpi (the book's column)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ran = {m: r for m, r in report["methods"].items() if "error" not in r}
    keys = [(k, label) for k, label, _ in COLUMNS if any(r[k] is not None for r in ran.values())]
    names = list(ran)[::-1]  # barh draws bottom-up: the first method on top
    height = 1.4 + 0.3 * len(names)
    fig, axes = plt.subplots(
        1, len(keys), figsize=(9.4, height), layout="constrained", squeeze=False, sharey=True
    )
    for ax, (key, label) in zip(axes[0], keys):
        values = [ran[m][key] if ran[m][key] is not None else 0.0 for m in names]
        ax.barh(names, values, color="tab:blue")
        ax.set_title(label, fontsize=9)
        ax.tick_params(labelsize=8)
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 3))
    caption = (
        f"{report['pairs']} content x style pairs at {report['size']} px on {report['device']}; "
        f"losses on {report['encoder']}. {report['note']}"
    )
    fig.supxlabel(textwrap.fill(caption, 140), fontsize=8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
