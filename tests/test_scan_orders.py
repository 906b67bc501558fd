"""Scan orders: permutations, inverses, the SS2D cross scan and the S-scan of §5.4."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from stylelab import scan_orders as scanning
from stylelab.core.errors import StylelabError
from stylelab.scan_orders import (
    ORDERS,
    column,
    cross_merge,
    cross_scan,
    inverse,
    raster,
    s_scan,
    scan,
    scan_order,
    scan_picture,
    snake,
    unscan,
)

sides = st.integers(1, 12)
steps = st.integers(1, 3)


def distinct_image(h, w):
    """(2, 3, h, w) holding 0, 1, 2, ...: every pixel of every channel differs, so a pixel in
    the wrong place always shows, and a failure reads off which one. (Values drawn by
    hypothesis would be mostly one fill value, hiding misplaced pixels; the sizes are drawn.)"""
    return torch.arange(2 * 3 * h * w, dtype=torch.float32).view(2, 3, h, w)


@settings(max_examples=60, deadline=None)
@given(h=sides, w=sides, p=steps, name=st.sampled_from(ORDERS))
def test_every_order_is_a_permutation_with_an_inverse(h, w, p, name):
    perm = scan_order(name, h, w, step=p)
    assert perm.dtype == torch.long and perm.shape == (h * w,)
    assert torch.equal(perm.sort().values, torch.arange(h * w))
    inv = inverse(perm)
    assert torch.equal(perm[inv], torch.arange(h * w))
    assert torch.equal(inv[perm], torch.arange(h * w))


@settings(max_examples=60, deadline=None)
@given(h=sides, w=sides, p=steps, name=st.sampled_from(ORDERS))
def test_an_image_traversed_in_each_order(h, w, p, name):
    image = distinct_image(h, w)
    perm = scan_order(name, h, w, step=p)
    seq = scan(image, perm)  # (2, 3, L)
    # step i of the sequence is the pixel (r, c) = divmod(perm[i], W)
    for i in (0, h * w // 2, h * w - 1):
        r, c = divmod(int(perm[i]), w)
        assert torch.equal(seq[..., i], image[..., r, c])
    assert torch.equal(unscan(seq, perm), image.flatten(-2))
    picture = scan_picture(name, h, w, step=p)
    assert (picture == scan_picture(perm, h, w)).all()
    assert sorted(picture.ravel().tolist()) == list(range(h * w))
    r, c = divmod(int(perm[-1]), w)
    assert picture[r, c] == h * w - 1


@settings(max_examples=40, deadline=None)
@given(h=sides, w=sides)
def test_cross_merge_of_cross_scan_is_four_times_the_image(h, w):
    x = distinct_image(h, w)
    ys = cross_scan(x)
    assert ys.shape == (2, 4, 3, h * w) and ys.is_contiguous()
    assert torch.equal(cross_merge(ys, h, w), 4 * x.flatten(2))  # integers: exact
    # directions: row-major, column-major, and those reversed (VMamba's k = 0..3)
    assert torch.equal(ys[:, 0], x.flatten(2))
    assert torch.equal(ys[:, 1], x.transpose(2, 3).flatten(2))
    assert torch.equal(ys[:, 2], x.flatten(2).flip(-1))
    assert torch.equal(ys[:, 3], x.transpose(2, 3).flatten(2).flip(-1))


def test_cross_merge_sums_directions_not_averages():
    y = torch.zeros(1, 4, 1, 6)
    y[:, 1] = 1.0  # only the column direction has output
    torch.testing.assert_close(cross_merge(y, 2, 3), torch.ones(1, 1, 6))


@settings(max_examples=40, deadline=None)
@given(h=sides, w=sides)
def test_s_scan_step_one_is_raster_and_vertical_is_the_transpose(h, w):
    assert torch.equal(s_scan(h, w, step=1), raster(h, w))
    assert torch.equal(s_scan(h, w, step=1, vertical=True), column(h, w))
    # vertical = the horizontal scan of the transposed image, in original indices
    image = torch.arange(h * w).view(h, w)
    for p in (1, 2, 3):
        vertical = image.flatten()[s_scan(h, w, p, vertical=True)]
        assert torch.equal(vertical, image.t().flatten()[s_scan(w, h, p)])


@settings(max_examples=40, deadline=None)
@given(h=sides, w=sides, p=steps)
def test_s_scan_groups_are_the_strided_subgrids(h, w, p):
    perm = s_scan(h, w, p)
    grid = torch.arange(h * w).view(h, w)
    start = 0
    for dc in range(p):  # groups g0, g1, ... with the row offset fastest
        for dr in range(p):
            group = grid[dr::p, dc::p].flatten()
            assert torch.equal(perm[start : start + group.numel()], group)
            start += group.numel()
            # inside a group, sequence neighbours are p pixels apart on one row
            rows, cols = group // w, group % w
            same_row = rows[1:] == rows[:-1]
            assert torch.all((cols[1:] - cols[:-1])[same_row] == p)
    assert start == h * w


def test_s_scan_example_from_the_reference():
    # mechanisms.md §5.4: H=6, W=8, p=2, horizontal starts [0, 2, 4, 6, 16, 18, 20, 22, 32, 34, ...]
    perm = s_scan(6, 8, step=2).tolist()
    assert perm[:10] == [0, 2, 4, 6, 16, 18, 20, 22, 32, 34]
    assert perm[12:16] == [8, 10, 12, 14]  # g1: odd rows, even columns
    assert perm[24:28] == [1, 3, 5, 7]  # g2: even rows, odd columns
    assert perm[36:40] == [9, 11, 13, 15]  # g3: odd rows, odd columns
    assert perm[-1] == 47


def test_snake_alternates_direction():
    assert snake(3, 3).tolist() == [0, 1, 2, 5, 4, 3, 6, 7, 8]
    assert snake(2, 3, vertical=True).tolist() == [0, 3, 4, 1, 2, 5]
    picture = scan_picture("snake", 2, 2)
    assert picture.tolist() == [[0, 1], [3, 2]]


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(StylelabError, match="unknown scan order"):
        scan_order("spiral", 3, 3)
    with pytest.raises(StylelabError, match="positive integer"):
        raster(0, 3)
    with pytest.raises(StylelabError, match="positive integer"):
        s_scan(4, 4, step=0)
    with pytest.raises(StylelabError, match="not a permutation"):
        inverse(torch.tensor([0, 0, 1]))
    with pytest.raises(StylelabError, match="LongTensor"):
        scanning.reversed_order(torch.tensor([0.0, 1.0]))
    with pytest.raises(StylelabError, match="pixels"):
        scan(torch.randn(1, 1, 3, 3), raster(2, 2))
    with pytest.raises(StylelabError, match="B, C, H, W"):
        cross_scan(torch.randn(3, 3, 3))
    with pytest.raises(StylelabError, match="not a square"):
        cross_merge(torch.randn(1, 4, 1, 6))
