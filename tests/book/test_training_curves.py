"""The training-curve figure and recipe lines the AdaIN chapter shows."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from stylelab.book.training_curves import (
    log_files,
    moving_average,
    plot_training_curves,
    run_summary,
    stage_line,
)
from stylelab.training.logs import Stage

CONFIG = {
    "size": 128, "batch": 4, "lr": 1e-3, "lr_decay": 5e-5, "style_weight": 10.0, "width": 0.25,
    "encoder": "mobilenetv2", "shift_average": True, "seed": 0,
}  # fmt: skip


def stages():
    first = [{"step": s, "lr": 1e-3, "content": 1.0, "style": 2.0, "seconds": 1.0} for s in (1, 2)]
    second = [
        {"step": s, "lr": 5e-4, "content": 0.5, "style": 1.0, "identity": 0.1, "seconds": 3.0}
        for s in (3, 4, 5)
    ]
    tuned = {**CONFIG, "lr": 5e-4, "identity_weight": 10.0}
    return [Stage(1, CONFIG, 0, first, "train a"), Stage(2, tuned, 2, second, "train b")]


def test_moving_average_averages_over_what_is_there_at_the_edges():
    np.testing.assert_allclose(moving_average([1, 2, 3, 4, 5], 3), [1.5, 2, 3, 4, 4.5])
    np.testing.assert_allclose(moving_average([1, 2, 3], 1), [1, 2, 3])
    np.testing.assert_allclose(moving_average([1, 2, 3], 10), [1.5, 2, 2.5])  # k capped at 3


def test_stage_lines_and_summary_say_what_each_stage_was():
    first, second = stages()
    assert stage_line(first) == (
        "* stage 1: steps 1 to 2, the paper's loss, crops of 128 px, batch 4, lr 0.001, "
        "from scratch: `train a`\n"
    )
    assert "steps 3 to 5, $\\lambda_{id}$ = 10," in stage_line(second)
    assert "from the previous stage's weights, Adam restarted: `train b`" in stage_line(second)
    summary = run_summary([first, second], {"data": "toy photos", "steps": 5})
    assert "lr decay 5e-05" in summary and "* data: toy photos\n" in summary
    # 2 x 1 s + 3 x 3 s = 11 s of step time, median 3 s
    assert "* log: 5 steps, 0.2 min of step time, median 3.00 s per step;" in summary
    assert summary.endswith("0.001 at the first logged step, 0.0005 at the last")
    assert log_files([first, second]) == "stage1/log.jsonl, log.jsonl"
    noted = run_summary([first, second], {"data": "d", "steps": 5, "train_minutes_note": "paused"})
    assert noted.endswith("at the last\n* time: paused")


def test_plot_draws_each_term_its_average_and_the_stage_marks():
    fig = plot_training_curves(stages(), shipped_step=5)
    ax, ax_lr = fig.axes
    labels = ax.get_legend().get_texts()
    names = [t.get_text() for t in labels]
    k = 5  # max(5, 5 steps // 40)
    assert f"content $\\mathcal{{L}}_c$, mean of {k} steps" in names
    assert "identity $\\mathcal{L}_{id}$" in names  # only in stage 2, drawn where it exists
    assert {"new stage", "shipped weights", "learning rate"} <= set(names)
    identity = [ln for ln in ax.lines if ln.get_label() == "identity $\\mathcal{L}_{id}$"][0]
    np.testing.assert_array_equal(identity.get_xdata(), [3, 4, 5])
    marks = [ln.get_xdata()[0] for ln in ax.lines if ln.get_linestyle() == ":"]
    assert marks == [2, 5]  # stage 2 starts after step 2; shipped weights at step 5
    np.testing.assert_allclose(ax_lr.lines[0].get_ydata(), [1e-3, 1e-3, 5e-4, 5e-4, 5e-4])
    plt.close(fig)


@pytest.mark.parametrize("k", [2, 4])
def test_moving_average_of_a_constant_is_the_constant(k):
    np.testing.assert_allclose(moving_average(np.full(7, 3.0), k), np.full(7, 3.0))
