"""Chapter 3's harness: the reveal slider's frames, the scan-order figure's size, the CUDA
kernels in numba's simulator, and the chunked scan's cost table."""

from __future__ import annotations

import numpy as np
import pytest

from stylelab.book import scan_figures
from stylelab.core.errors import StylelabError

ORDERS = ["raster", "column", "s_scan"]


def pixels(height=8, width=6):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def panel(frame, index, zoom, height, width, ncols=3):
    """The image part of panel `index` of a frame, in its original pixels."""
    cell_w, cell_h = width * zoom, height * zoom + scan_figures.TITLE_PX
    x = (index % ncols) * (cell_w + scan_figures.GAP)
    y = (index // ncols) * (cell_h + scan_figures.GAP) + scan_figures.TITLE_PX
    return frame[y : y + height * zoom : zoom, x : x + width * zoom : zoom]


def test_frames_reveal_each_order_step_by_step():
    img = pixels()
    frames = scan_figures.reveal_frames(img, ORDERS, [0, 6, 48], panel=32)
    zoom = 4  # 32 px panels of an 8 px image
    assert len(frames) == 3 and all(f.shape == frames[0].shape for f in frames)
    assert frames[0].shape == (8 * zoom + scan_figures.TITLE_PX, 3 * 6 * zoom + 2 * 10, 3)
    for i, name in enumerate(ORDERS):
        assert (panel(frames[2], i, zoom, 8, 6) == img).all(), name  # every pixel visited
        assert not (panel(frames[0], i, zoom, 8, 6) == img).all(axis=-1).all(), name
    # after 6 steps the raster order has shown the first row and nothing else
    first = panel(frames[1], 0, zoom, 8, 6)
    assert (first[0] == img[0]).all() and not (first[1:] == img[1:]).all(axis=-1).any()


def test_frames_carry_titles_and_two_rows_when_needed():
    img = pixels()
    names = ORDERS + ["snake"]
    (frame,) = scan_figures.reveal_frames(img, names, [10], panel=32)
    assert frame.shape[0] == 2 * (32 + scan_figures.TITLE_PX) + scan_figures.GAP
    title = frame[: scan_figures.TITLE_PX, : 6 * 4]
    assert (title < 128).any()  # dark text on the white strip


def test_frames_refuse_anything_but_uint8_rgb():
    with pytest.raises(StylelabError, match="uint8"):
        scan_figures.reveal_frames(pixels().astype(float), ORDERS, [0])


def test_the_order_figure_fits_the_column():
    fig = scan_figures.visiting_order_figure(6, "caption")
    width_px = fig.get_size_inches()[0] * 100  # the book's inline figures: 100 dpi
    assert width_px <= 950
    assert [ax.get_title() for ax in fig.axes][:2] == ["raster", "column"]


def test_cuda_kernels_match_the_reference_in_the_simulator():
    rows = scan_figures.simulated_cuda_errors()
    assert [name for name, _ in rows] == ["wkv", "bi_wkv", "selective_scan"]
    assert all(err <= 1e-4 for _, err in rows), rows


def test_chunk_costs_name_each_run_and_the_work_it_builds():
    from stylelab.bench.sweeps import chunk_costs

    rows = chunk_costs(64, channels=2, state=2, chunks=(4, 8), seconds=0.01)
    assert [(r["scan"], r["chunk"], r["made"]) for r in rows] == [
        ("numba kernel", None, 0),
        ("torch loop", None, 3),
        ("torch chunked", 4, 4),
        ("torch chunked", 8, 8),
    ]
    assert all(r["seconds"] > 0 for r in rows)
