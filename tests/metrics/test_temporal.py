"""The synthetic video's motion is exact, and the warping error ranks methods sensibly.

A smooth drawn image stands in for a photo (no files, a few ms per video); the real run with
the shipped AdaIN model lives outside the tests (it takes ~15 s on a CPU).
"""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from stylelab.core.errors import StylelabError
from stylelab.metrics.temporal import (
    Video,
    side_by_side,
    stylize_video,
    synthetic_video,
    warp_to_next,
    warping_error,
    write_gif,
)


def smooth_image(h: int = 96, w: int = 128) -> torch.Tensor:
    """(1, 3, h, w) in [0.1, 0.9]: slow sines, a few periods across the picture."""
    y, x = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    channels = [torch.sin(6 * x + 3 * y), torch.cos(5 * y - 2 * x), torch.sin(12 * x * y)]
    return (0.5 + 0.4 * torch.stack(channels))[None]


@pytest.fixture(scope="module")
def pan_zoom() -> Video:
    return synthetic_video(smooth_image(), frames=12, shift=(1.5, 1.0), zoom=1.01)


def test_frames_are_float_in_unit_range_with_one_map_each(pan_zoom):
    t, c, h, w = pan_zoom.frames.shape
    assert (t, c) == (12, 3) and pan_zoom.thetas.shape == (12, 2, 3)
    assert pan_zoom.frames.dtype == torch.float32
    assert 0 <= pan_zoom.frames.min() and pan_zoom.frames.max() <= 1


def test_a_whole_pixel_pan_is_a_moving_crop_of_the_source():
    image = smooth_image()  # (1, 3, 96, 128)
    video = synthetic_video(image, frames=10, shift=(2, 0), zoom=1)
    # the widest frame whose trajectory fits: 128 - 9 * 2 = 110 px, starting at column 0
    assert video.frames.shape[-2:] == (96, 110)
    for t in range(10):
        crop = image[0, :, :, 2 * t : 2 * t + 110]
        torch.testing.assert_close(video.frames[t], crop, atol=1e-6, rtol=0)


@pytest.mark.parametrize("shift", [(2, 0), (-3, 0), (0, 1), (2, -1)])
def test_the_motion_is_exact_for_a_whole_pixel_pan(shift):
    video = synthetic_video(smooth_image(), frames=5, shift=shift, zoom=1)
    for t in range(4):
        warped, mask = warp_to_next(video.frames[t], video, t)
        diff = (warped - video.frames[t + 1]).abs() * mask
        assert diff.max() < 1e-6, (t, float(diff.max()))
    assert warping_error(video.frames, video)["content_warping_error"] < 1e-12


def test_the_content_warps_onto_itself_with_pan_and_zoom(pan_zoom):
    """Frame t+1 and warped frame t both interpolate the same smooth source, at points that
    differ by under a pixel: bilinear error ~ h² |f''| / 8 ≈ 1e-4 here, so an MSE ~1e-8.
    1e-6 leaves a factor 100 of room and is still 1000x below the noisy method below."""
    content = warping_error(pan_zoom.frames, pan_zoom)
    assert content["warping_error"] == content["content_warping_error"]
    assert content["warping_error"] < 1e-6
    assert content["pairs"] == 11 and len(content["per_pair"]) == 11


def test_a_method_that_flickers_scores_far_worse_than_the_content(pan_zoom):
    noise = torch.randn(pan_zoom.frames.shape, generator=torch.Generator().manual_seed(0))
    noisy = warping_error(pan_zoom.frames + 0.05 * noise, pan_zoom)
    # independent noise: E ≈ 0.05² (frame t+1) + the variance of bilinearly interpolated
    # noise, between 0.25 and 1 times 0.05² depending on the sub-pixel offset (warped frame t)
    assert 1.2 * 0.05**2 < noisy["warping_error"] < 2.05 * 0.05**2
    assert noisy["warping_error"] > 1000 * noisy["content_warping_error"]


@pytest.mark.parametrize(
    "method",
    [
        lambda x: x**0.5,
        lambda x: torch.einsum("ij,njhw->nihw", torch.tensor([[0.5, 0.3, 0.2]] * 3), x),
    ],
    ids=["gamma", "grey-matrix"],
)
def test_a_per_pixel_method_is_as_stable_as_the_content(pan_zoom, method):
    """Pointwise maps commute with warping up to interpolation error (linear ones exactly):
    the error stays within the map's squared slope (≤ 1 / (4 * 0.1) = 2.5 for sqrt on
    [0.1, 0.9]) times the content's, plus second-order terms."""
    result = warping_error(method(pan_zoom.frames), pan_zoom)
    assert result["warping_error"] < 3 * result["content_warping_error"] + 1e-10
    whole_pixels = synthetic_video(smooth_image(), frames=4, shift=(2, 1), zoom=1)
    assert warping_error(method(whole_pixels.frames), whole_pixels)["warping_error"] < 1e-12


@pytest.mark.parametrize(
    "shift, rows, cols",
    [((2, 0), slice(None), slice(-2, None)), ((-3, 0), slice(None), slice(0, 3))]
    + [((0, 1), slice(-1, None), slice(None)), ((0, -2), slice(0, 2), slice(None))],
)
def test_the_mask_drops_the_strip_that_enters_the_view(shift, rows, cols):
    video = synthetic_video(smooth_image(), frames=3, shift=shift, zoom=1)
    warped, mask = warp_to_next(video.frames[0], video, 0)
    assert mask.shape == (1, 1, *video.frames.shape[-2:]) and mask.dtype == torch.bool
    expected = torch.ones_like(mask)
    expected[..., rows, cols] = False
    assert torch.equal(mask, expected)
    # there the warp can only repeat frame t's edge, which is not what frame t+1 shows
    assert (warped - video.frames[1]).abs()[..., rows, cols].max() > 1e-3


def test_the_mask_is_a_ring_when_zooming_out_and_full_when_zooming_in():
    out = synthetic_video(smooth_image(), frames=3, shift=(0, 0), zoom=0.9)
    _, mask = warp_to_next(out.frames[0], out, 0)
    assert not mask[..., 0, :].any() and not mask[..., -1, :].any()
    assert not mask[..., :, 0].any() and not mask[..., :, -1].any()
    h, w = mask.shape[-2:]
    assert mask[..., h // 2, w // 2] and 0.7 < mask.float().mean() < 0.95
    into = synthetic_video(smooth_image(), frames=3, shift=(0, 0), zoom=1.1)
    assert warp_to_next(into.frames[0], into, 0)[1].all()


def test_stylize_video_runs_each_frame_under_inference_mode(pan_zoom):
    seen = []

    def method(frame, style):
        seen.append((tuple(frame.shape), torch.is_inference_mode_enabled(), style))
        return 1 - frame

    out = stylize_video(method, pan_zoom, "style", progress=False)
    assert out.shape == pan_zoom.frames.shape
    torch.testing.assert_close(out, 1 - pan_zoom.frames)
    assert seen == [((1, 3, *pan_zoom.frames.shape[-2:]), True, "style")] * 12


def test_side_by_side_stacks_along_the_width(pan_zoom):
    both = side_by_side(pan_zoom, 1 - pan_zoom.frames)
    w = pan_zoom.frames.shape[-1]
    assert both.shape == (12, 3, pan_zoom.frames.shape[-2], 2 * w)
    torch.testing.assert_close(both[..., w:], 1 - pan_zoom.frames)


def test_write_gif_writes_every_frame_and_refuses_to_overwrite(tmp_path):
    video = synthetic_video(smooth_image(48, 64), frames=6, shift=(2, 1), zoom=1.02)
    path = write_gif(video, tmp_path / "clip.gif", fps=5)
    with Image.open(path) as gif:
        assert gif.n_frames == 6 and gif.size == (video.frames.shape[3], video.frames.shape[2])
        assert gif.info["loop"] == 0 and gif.info["duration"] == 200
    with pytest.raises(StylelabError, match="already exists; pass --force"):
        write_gif(video.frames, path)
    write_gif(video.frames[:3], path, force=True)
    with Image.open(path) as gif:
        assert gif.n_frames == 3


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"frames": 1}, "frames >= 2"),
        ({"zoom": 0}, "zoom must be a finite number > 0"),
        ({"zoom": -1.01}, "zoom must be a finite number > 0"),
        ({"shift": (1,)}, "shift must be two finite numbers"),
        ({"shift": (float("nan"), 0)}, "shift must be two finite numbers"),
        ({"shift": (20, 0), "size": (64, 96)}, "crop window leaves the source along x"),
        ({"shift": (0, 0), "zoom": 0.5}, "frame size must be whole pixels"),
        ({"size": (200, 64)}, "crop window leaves the source along y"),
    ],
)
def test_bad_video_arguments_say_what_to_change(kwargs, message):
    with pytest.raises(StylelabError, match=message):
        synthetic_video(smooth_image(), **{"frames": 10, **kwargs})


@pytest.mark.parametrize(
    "image", [torch.rand(96, 128), torch.rand(1, 4, 32, 32), torch.rand(2, 3, 32, 32)]
)
def test_bad_images_are_refused(image):
    with pytest.raises(StylelabError, match="image must"):
        synthetic_video(image, frames=3)


def test_bad_frames_and_methods_are_refused(pan_zoom, tmp_path):
    with pytest.raises(StylelabError, match=r"stylized frames must be \(12, 3"):
        warping_error(pan_zoom.frames[:-1], pan_zoom)
    with pytest.raises(StylelabError, match="has no next frame"):
        warp_to_next(pan_zoom.frames[11], pan_zoom, 11)
    with pytest.raises(StylelabError, match="frame_t must be"):
        warp_to_next(pan_zoom.frames[0, :, :-1], pan_zoom, 0)
    with pytest.raises(StylelabError, match="stylize must return"):
        stylize_video(lambda x, s: x[..., :-8, :-8], pan_zoom, None, progress=False)
    with pytest.raises(StylelabError, match="same T and H"):
        side_by_side(pan_zoom, pan_zoom.frames[:3])
    with pytest.raises(StylelabError, match="ending in .gif"):
        write_gif(pan_zoom, tmp_path / "clip.png")
