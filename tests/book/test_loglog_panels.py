"""`figures.loglog_panels`: timings against length, one panel per op, one line per series."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from stylelab.book.figures import loglog_panels


def test_one_panel_per_op_one_line_per_series():
    panels = [
        ("scan", {"numba": {64: 1e-3, 256: 4e-3}, "torch": {64: 2e-3}}),
        ("wkv", {"numba": {64: 5e-4, 256: 2e-3, 1024: 8e-3}}),
    ]
    fig = loglog_panels(
        panels, "length", "seconds", caption="a caption", colours={"numba": "tab:blue"}
    )
    left, right = fig.axes
    assert [ax.get_title() for ax in fig.axes] == ["scan", "wkv"]
    assert left.get_xscale() == left.get_yscale() == "log"
    assert [ln.get_label() for ln in left.lines] == ["numba", "torch"]
    np.testing.assert_array_equal(left.lines[0].get_xdata(), [64, 256])
    np.testing.assert_array_equal(right.lines[0].get_ydata(), [5e-4, 2e-3, 8e-3])
    assert left.lines[0].get_color() == right.lines[0].get_color() == "tab:blue"
    assert left.get_xlabel() == "length" and right.get_ylabel() == "seconds"
    assert fig.get_supxlabel() == "a caption"
    plt.close(fig)
