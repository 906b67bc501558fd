"""A shipped model's training, as the chapters show it: the recipe per stage, and the curves.

The logs come from `stylelab.training.logs.read_stages` (a run and the runs it was
fine-tuned from, on one step axis). Both functions read only what the trainer logs
(step, lr, seconds and one number per loss term), so any model's run can be shown.
"""

from __future__ import annotations

import numpy as np

from stylelab.training.logs import Stage, all_records

# loss key in the log -> (legend label, colour, whether the label names the averaging window);
# the chapters' notation for the AdaIN loss
LOSS_CURVES = {
    "content": ("content $\\mathcal{L}_c$", "tab:blue", True),
    "style": ("style $\\mathcal{L}_s$ (before $\\times\\lambda$)", "tab:red", True),
    "identity": ("identity $\\mathcal{L}_{id}$", "tab:green", False),
}


def moving_average(values, k: int) -> np.ndarray:
    """Mean over a window of k steps centred on each step; at the edges, over what is there."""
    values = np.asarray(values, dtype=float)
    k = max(1, min(k, len(values)))
    kernel = np.ones(k)
    # dividing by the window's own count keeps the edges unbiased (no zero padding pulled in)
    return np.convolve(values, kernel, "same") / np.convolve(np.ones_like(values), kernel, "same")


def stage_line(stage: Stage) -> str:
    """One Markdown bullet: the stage's steps, loss, crops, batch, lr, start and command."""
    config = stage.config
    loss = "the paper's loss"
    if config.get("identity_weight"):
        loss = f"$\\lambda_{{id}}$ = {config['identity_weight']:g}"
    how = (
        "from scratch" if stage.number == 1 else "from the previous stage's weights, Adam restarted"
    )
    return (
        f"* stage {stage.number}: steps {stage.start + 1:,} to {stage.last_step:,}, {loss}, "
        f"crops of {config['size']} px, batch {config['batch']}, lr {config['lr']:g}, "
        f"{how}: `{stage.command}`\n"
    )


def run_summary(stages: list[Stage], entry: dict) -> str:
    """Markdown: the recipe, one line per stage, the data, the log's length and time, the lr.

    `entry` is the model's manifest entry (`stylelab.core.weights.manifest_entry`): the
    data it was trained on and the step the shipped weights are from.
    """
    config = stages[-1].config
    log = all_records(stages)
    seconds = np.array([r["seconds"] for r in log])
    shift = config.get("shift_average")  # absent where a model has no shift option
    shift = "" if shift is None else f", shift averaging {'on' if shift else 'off'}"
    return (
        f"* recipe: Adam with lr decay {config['lr_decay']:g}, $\\lambda$ = "
        f"{config['style_weight']:g}, decoder width {config['width']:g}, encoder "
        f"{config['encoder']}{shift}, seed {config['seed']}\n"
        + "".join(stage_line(stage) for stage in stages)
        + f"* data: {entry['data']}\n"
        f"* log: {len(log):,} steps, {seconds.sum() / 60:.1f} min of step time, median "
        f"{np.median(seconds):.2f} s per step; the shipped weights are from step "
        f"{entry['steps']:,}\n"
        f"* learning rate: {log[0]['lr']:.3g} at the first logged step, "
        f"{log[-1]['lr']:.3g} at the last"
        + (f"\n* time: {entry['train_minutes_note']}" if entry.get("train_minutes_note") else "")
    )


def log_files(stages: list[Stage]) -> str:
    """'stage1/log.jsonl, ..., log.jsonl': where the curves were read, for a caption."""
    return ", ".join([f"stage{s.number}/log.jsonl" for s in stages[:-1]] + ["log.jsonl"])


def plot_training_curves(stages: list[Stage], shipped_step: int, curves: dict = LOSS_CURVES):
    """Loss terms per step (faint) and their moving averages (bold), log scale, with the
    learning rate on a second axis, a dotted line where each stage starts and one at the
    shipped weights. Returns the pyplot Figure (the caller captions and shows it).
    """
    import matplotlib.pyplot as plt

    log = all_records(stages)
    step = np.array([r["step"] for r in log])
    lr = np.array([r["lr"] for r in log])
    k = max(5, len(log) // 40)  # about 40 windows over the run
    fig, ax = plt.subplots(figsize=(8, 3.8), layout="constrained")
    for key, (name, colour, windowed) in curves.items():
        # a term may exist only in some stages (the identity term: fine-tuning only)
        at = np.array([r["step"] for r in log if key in r])
        if len(at) == 0:
            continue
        values = np.array([r[key] for r in log if key in r])
        ax.semilogy(at, values, color=colour, alpha=0.2, lw=0.8)
        label = f"{name}, mean of {k} steps" if windowed else name
        ax.semilogy(at, moving_average(values, k), color=colour, lw=2, label=label)
    for stage in stages[1:]:
        first = stage.number == 2
        ax.axvline(
            stage.start, color="tab:gray", ls=":", lw=1, label="new stage" if first else None
        )
        where = ax.get_xaxis_transform()  # x in steps, y in axes fractions: the top edge
        ax.text(stage.start, 1.0, f" stage {stage.number}", transform=where, fontsize=8, va="top")
    ax.axvline(shipped_step, color="k", ls=":", lw=1, label="shipped weights")
    ax.set_xlabel("training step")
    ax.set_ylabel("loss (per batch)")
    ax.grid(alpha=0.3)
    ax2 = ax.twinx()
    ax2.plot(step, lr, color="tab:gray", ls="--", lw=1.2, label="learning rate")
    ax2.set_ylabel("learning rate")
    ax2.set_ylim(0, lr.max() * 1.1)
    handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax.legend(handles=handles, fontsize=8, loc="lower left")
    return fig
