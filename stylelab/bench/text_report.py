"""The convergence figure of `stylelab bench text`: directional loss against step."""

from __future__ import annotations

from pathlib import Path

COLOURS = {"stylemamba": "tab:orange", "clipstyler": "tab:blue"}
LABELS = {"stylemamba": "StyleMamba (fusion module)", "clipstyler": "CLIPstyler (U-Net)"}


def plot_convergence(result: dict, path: Path, ax=None):
    """Thin line per (photo, prompt), thick median per method, the threshold dashed."""
    import matplotlib.pyplot as plt
    import numpy as np

    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(7.5, 4.2), dpi=110)
    for method, colour in COLOURS.items():
        curves = [r["dir"] for r in result["runs"] if r["method"] == method]
        if not curves:
            continue
        steps = np.arange(1, len(curves[0]) + 1)
        for c in curves:
            ax.plot(steps, c, color=colour, alpha=0.25, lw=0.8)
        ax.plot(steps, np.median(np.array(curves), 0), color=colour, lw=2.4, label=LABELS[method])
    ax.axhline(result["threshold"], ls="--", color="0.3", lw=1)
    ax.text(1, result["threshold"] - 0.03, f"threshold {result['threshold']:g}", va="top",
            fontsize=9, color="0.3")  # fmt: skip
    ax.set_xlabel("optimisation step")
    ax.set_ylabel("global directional loss")
    quick = " (quick mode)" if result.get("quick") else ""
    ax.set_title(f"{len(result['prompts'])} prompts x {len(result['photos'])} held-out photos, "
                 f"{result['size']} px, offline space{quick}", fontsize=10)  # fmt: skip
    ax.legend(fontsize=9)
    ax.grid(alpha=0.3)
    if own:
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
    return ax
