"""output_motion: 0 for a method that paints each pixel by what is there, more for one that
does not, and a clear error where the windows do not fit."""

from __future__ import annotations

import pytest
import torch

from stylelab.core.errors import StylelabError
from stylelab.metrics.stability import output_motion, shifted_windows


def image():
    return torch.rand(1, 3, 80, 96, generator=torch.Generator().manual_seed(0))


def test_windows_are_the_same_content_moved():
    w0, w2 = shifted_windows(image(), 64, [2])
    torch.testing.assert_close(w0[..., 2:], w2[..., :-2])


def test_a_pointwise_method_does_not_move():
    moved = output_motion(lambda x: x.clamp(0.2, 0.8) ** 2, image(), 64, shifts=(1, 3), margin=4)
    assert moved == {1: 0.0, 3: 0.0}


def test_a_global_statistic_moves_and_is_measured_in_grey_levels():
    def global_contrast(x):  # every pixel depends on the window's mean: a window shift moves it
        return (x - x.mean()) * 2 + 0.5

    moved = output_motion(global_contrast, image(), 64, shifts=(4,), margin=4)
    img = image()
    w0, w4 = shifted_windows(img, 64, [4])
    expected = abs(float(w0.mean() - w4.mean())) * 2 * 255  # every pixel moves by the same
    assert moved[4] == pytest.approx(expected, rel=1e-4) and moved[4] > 0


def test_bad_windows_are_named():
    with pytest.raises(StylelabError, match="does not fit"):
        output_motion(lambda x: x, image(), 90)
    with pytest.raises(StylelabError, match="positive pixel counts"):
        output_motion(lambda x: x, image(), 64, shifts=(0,))
    with pytest.raises(StylelabError, match="margins"):
        output_motion(lambda x: x, image(), 40, shifts=(8,), margin=16)
