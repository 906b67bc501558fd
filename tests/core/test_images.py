"""Loading, converting, resizing and saving images; every bad input gets a clear error."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from stylelab.core import images
from stylelab.core.errors import StylelabError
from stylelab.core.images import (
    SAMPLE_CONTENT,
    load_image,
    resize_max_side,
    sample_content,
    save_image,
    to_pil,
)


def check_image_tensor(t, h, w):
    assert t.shape == (1, 3, h, w) and t.dtype == torch.float32
    assert 0 <= t.min() and t.max() <= 1 and t.is_contiguous()


def png_header_only(path, w, h):
    """A PNG whose header claims w x h pixels, with almost no pixel data behind it."""

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)  # 8-bit RGB
    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)
    return path


# --- formats and modes ------------------------------------------------------------------


def test_rgb_png_round_trips_exactly(tmp_path):
    arr = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    Image.fromarray(arr).save(tmp_path / "a.png")
    t = load_image(tmp_path / "a.png")
    check_image_tensor(t, 20, 30)
    np.testing.assert_array_equal(np.asarray(to_pil(t)), arr)


def test_grayscale_png_becomes_three_equal_channels(tmp_path):
    arr = np.arange(0, 240, 2, dtype=np.uint8).reshape(10, 12)
    Image.fromarray(arr, mode="L").save(tmp_path / "g.png")
    t = load_image(str(tmp_path / "g.png"))
    check_image_tensor(t, 10, 12)
    assert torch.equal(t[0, 0], t[0, 1]) and torch.equal(t[0, 1], t[0, 2])
    assert torch.allclose(t[0, 0], torch.from_numpy(arr / 255).float())


def test_rgba_and_la_are_composited_on_white(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 255  # red
    rgba[:2, :, 3] = 255  # top half opaque, bottom half transparent
    rgba[2, :, 3] = 128  # one row half transparent
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "a.png")
    t = load_image(tmp_path / "a.png")
    assert torch.allclose(t[0, :, 0, 0], torch.tensor([1.0, 0, 0]))
    assert torch.allclose(t[0, :, 3, 0], torch.ones(3))  # transparent -> white
    assert torch.allclose(t[0, :, 2, 0], torch.tensor([1.0, 127 / 255, 127 / 255]), atol=1e-6)
    la = Image.fromarray(np.stack([np.zeros((4, 4)), rgba[..., 3]], -1).astype(np.uint8), "LA")
    t = load_image(la)
    assert torch.allclose(t[0, :, 0, 0], torch.zeros(3)) and torch.allclose(
        t[0, :, 3, 0], torch.ones(3)
    )


def test_palette_gif_with_and_without_transparency(tmp_path):
    im = Image.new("P", (6, 4))
    im.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    im.putpixel((5, 3), 1)
    im.save(tmp_path / "p.gif")
    t = load_image(tmp_path / "p.gif")
    assert torch.allclose(t[0, :, 0, 0], torch.tensor([1.0, 0, 0]))
    assert torch.allclose(t[0, :, 3, 5], torch.tensor([0, 0, 1.0]))
    im.save(tmp_path / "t.gif", transparency=1)  # blue is the transparent index
    t = load_image(tmp_path / "t.gif")
    assert torch.allclose(t[0, :, 3, 5], torch.ones(3))


def test_16_bit_png_keeps_its_precision(tmp_path):
    arr = (np.arange(48 * 64).reshape(48, 64) * 21).astype(np.uint16)  # up to 64491
    Image.fromarray(arr).save(tmp_path / "d.png")
    assert Image.open(tmp_path / "d.png").mode.startswith("I")
    t = load_image(tmp_path / "d.png")
    check_image_tensor(t, 48, 64)
    # Neighbouring values differ by 21/65535, well below one 8-bit step.
    np.testing.assert_allclose(t[0, 0].numpy(), arr / 65535, atol=1e-6)


def test_cmyk_jpeg_is_converted(tmp_path):
    Image.new("CMYK", (16, 8), (0, 255, 255, 0)).save(tmp_path / "c.jpg")  # pure red ink
    t = load_image(tmp_path / "c.jpg")
    check_image_tensor(t, 8, 16)
    assert torch.allclose(t[0, :, 4, 8], torch.tensor([1.0, 0, 0]), atol=0.05)  # JPEG: lossy


def test_exif_orientation_is_applied(tmp_path):
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:, :20] = 255  # left half white
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    Image.fromarray(arr).save(tmp_path / "r.jpg", exif=exif, quality=95)
    t = load_image(tmp_path / "r.jpg")
    check_image_tensor(t, 40, 20)  # portrait now
    assert t[0, :, :10].mean() > 0.9 and t[0, :, 30:].mean() < 0.1  # white half on top


@pytest.mark.parametrize(
    "arr",
    [
        np.full((5, 7), 128, np.uint8),
        np.full((5, 7, 1), 128, np.uint8),
        np.full((5, 7, 3), 128, np.uint8),
        np.full((5, 7, 3), 32896, np.uint16),  # 128 * 257
        np.full((5, 7, 3), 128 / 255, np.float64),
        np.full((5, 7, 3), 128 / 255, np.float16),
    ],
    ids=["HxW", "HxWx1", "HxWx3", "uint16", "float64", "float16"],
)
def test_arrays_of_all_layouts_and_dtypes(arr):
    t = load_image(arr)
    check_image_tensor(t, 5, 7)
    assert torch.allclose(t, torch.full_like(t, 128 / 255), atol=1e-3)  # float16: 3 digits


def test_rgba_array_and_tensors():
    rgba = np.zeros((3, 3, 4), np.float32)
    rgba[..., 3] = 0.25
    assert torch.allclose(load_image(rgba), torch.full((1, 3, 3, 3), 0.75))
    t = torch.rand(3, 6, 5)
    assert torch.equal(load_image(t), t[None])
    assert torch.equal(load_image(t[None]), t[None])
    u8 = torch.full((1, 3, 2, 2), 255, dtype=torch.uint8)
    assert torch.equal(load_image(u8), torch.ones(1, 3, 2, 2))
    # A network's output may overshoot [0, 1] a little: clamped, not refused.
    assert load_image(torch.full((3, 2, 2), 1.2)).max() == 1.0


# --- resizing ---------------------------------------------------------------------------


def test_max_side_keeps_aspect_antialiases_and_never_enlarges():
    stripes = torch.zeros(1, 3, 100, 300)
    stripes[..., ::2] = 1.0  # one-pixel stripes: a naive subsample would alias
    small = resize_max_side(stripes, 30)
    check_image_tensor(small, 10, 30)
    assert torch.allclose(small, torch.full_like(small, 0.5), atol=0.02)  # averaged, not aliased
    assert resize_max_side(stripes, 1000) is stripes
    assert load_image(stripes, max_side=60).shape == (1, 3, 20, 60)
    with pytest.raises(StylelabError, match="max_side"):
        resize_max_side(stripes, 0)


@pytest.mark.parametrize(
    ("shape", "dtype", "side"),
    [
        ((1, 3, 300, 451), torch.float32, 256),
        ((1, 3, 513, 512), torch.float32, 97),
        ((2, 3, 1000, 7), torch.float32, 128),
        ((3, 401, 299), torch.float32, 33),
        ((1, 3, 300, 200), torch.float64, 64),
        ((1, 3, 300, 200), torch.float16, 64),
        ((1, 3, 300, 200), torch.uint8, 64),
    ],
)
def test_resize_is_torchvisions_bit_for_bit(shape, dtype, side):
    """The resize replaced torchvision's (imported on every stylize just for this, ~1.5 s)."""
    tv = pytest.importorskip("torchvision.transforms.functional")
    g = torch.Generator().manual_seed(0)
    t = torch.rand(shape, generator=g)
    t = (t * 255).to(dtype) if dtype == torch.uint8 else t.to(dtype)
    got = resize_max_side(t, side)
    h, w = shape[-2:]
    size = [max(1, round(h * side / max(h, w))), max(1, round(w * side / max(h, w)))]
    want = tv.resize(t, size, interpolation=tv.InterpolationMode.BILINEAR, antialias=True)
    assert got.dtype == want.dtype and torch.equal(got, want)


def test_max_side_decodes_large_jpegs_at_reduced_scale(tmp_path, monkeypatch):
    Image.new("RGB", (800, 600), "orange").save(tmp_path / "big.jpg")
    monkeypatch.setattr(images, "MAX_PIXELS", 100_000)
    with pytest.raises(StylelabError, match="800 x 600 = 0.458 Mpx.*0.0954 Mpx.*--size"):
        load_image(tmp_path / "big.jpg")
    # With max_side the JPEG decoder works at 1/4 scale (200 x 150): under the limit.
    assert load_image(tmp_path / "big.jpg", max_side=200).shape == (1, 3, 150, 200)


# --- errors -----------------------------------------------------------------------------


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(StylelabError, match="not found.*nope.png.*check the path"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(StylelabError, match="is a directory"):
        load_image(tmp_path)


def test_text_file_named_jpg(tmp_path):
    (tmp_path / "notes.jpg").write_text("this is not a picture\n")
    with pytest.raises(StylelabError, match="notes.jpg is not an image.*PNG, JPEG"):
        load_image(tmp_path / "notes.jpg")


def test_truncated_jpeg_is_caught_on_decode(tmp_path):
    noise = np.random.default_rng(1).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "full.jpg")
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    Image.open(tmp_path / "cut.jpg")  # PIL opens it happily: only the header is read
    with pytest.raises(StylelabError, match="cut.jpg is truncated or corrupt.*re-download"):
        load_image(tmp_path / "cut.jpg")


def test_image_smaller_than_min_side(tmp_path):
    Image.new("RGB", (40, 24)).save(tmp_path / "tiny.png")
    with pytest.raises(StylelabError, match="24 x 40 pixels.*at least 32.*larger image"):
        load_image(tmp_path / "tiny.png", min_side=32)
    with pytest.raises(StylelabError, match="after shrinking to max_side=20"):
        load_image(np.zeros((64, 64), np.uint8), max_side=20, min_side=32)
    assert load_image(tmp_path / "tiny.png", min_side=24).shape == (1, 3, 24, 40)


def test_header_claiming_too_many_pixels_is_refused_before_decoding(tmp_path):
    # 10000 x 8000 = 76 Mpx: over our limit, under PIL's own bomb check (179 Mpx).
    path = png_header_only(tmp_path / "huge.png", 10_000, 8_000)
    with pytest.raises(StylelabError, match=r"10000 x 8000 = 76.3 Mpx.*limit of 64 Mpx.*--size"):
        load_image(path)
    # 30000^2 = 900 Mpx: PIL refuses to even open it; we say so in our words.
    path = png_header_only(tmp_path / "bomb.png", 30_000, 30_000)
    with pytest.raises(StylelabError, match="too large to decode.*64 Mpx"):
        load_image(path)


def test_pixel_limit_applies_to_arrays_too(monkeypatch):
    monkeypatch.setattr(images, "MAX_PIXELS", 99)
    with pytest.raises(StylelabError, match="MAX_PIXELS"):
        load_image(np.zeros((10, 10), np.uint8))


def test_nan_inf_and_out_of_range_values():
    t = torch.rand(1, 3, 4, 4)
    t[0, 1, 2, 2] = float("nan")
    with pytest.raises(StylelabError, match="1 NaN/Inf"):
        load_image(t)
    with pytest.raises(StylelabError, match="NaN/Inf"):
        to_pil(torch.full((3, 2, 2), float("inf")))
    with pytest.raises(StylelabError, match=r"\[0, 255\].*divide 0..255 data by 255"):
        load_image(np.linspace(0, 255, 12, dtype=np.float32).reshape(2, 2, 3))
    with pytest.raises(StylelabError, match="mean/std normalisation"):
        load_image(torch.randn(3, 8, 8) * 3)


@pytest.mark.parametrize(
    ("bad", "hint"),
    [
        (torch.rand(2, 3, 4, 4), r"t\[i:i\+1\]"),
        (torch.rand(1, 1, 4, 4), "expand"),
        (torch.rand(4, 4), "expand"),
        (torch.rand(1, 4, 4, 4), "drop alpha"),
    ],
)
def test_wrong_tensor_shapes(bad, hint):
    with pytest.raises(StylelabError, match=f"must be \\(3, H, W\\) or \\(1, 3, H, W\\).*{hint}"):
        load_image(bad)


def test_wrong_array_shapes_dtypes_and_types():
    with pytest.raises(StylelabError, match=r"got \(3, 8, 8\).*transpose"):
        load_image(np.zeros((3, 8, 8), np.uint8))
    with pytest.raises(StylelabError, match="dtype int32"):
        load_image(np.zeros((8, 8), np.int32))
    with pytest.raises(StylelabError, match="cannot load an image from a list"):
        load_image([[0, 1], [1, 0]])


# --- saving -----------------------------------------------------------------------------


def test_save_refuses_to_overwrite_without_force(tmp_path):
    t = torch.rand(1, 3, 8, 8)
    out = save_image(t, tmp_path / "new" / "dir" / "out.png")  # parents are created
    assert out.exists()
    before = out.read_bytes()
    with pytest.raises(StylelabError, match="already exists.*--force"):
        save_image(torch.zeros(1, 3, 8, 8), out)
    assert out.read_bytes() == before  # untouched
    save_image(torch.zeros(1, 3, 8, 8), out, force=True)
    assert load_image(out).max() == 0


def test_save_formats_and_bad_names(tmp_path):
    t = (
        torch.linspace(0, 1, 10)[:, None].expand(3, 10, 12)
        * torch.tensor([1.0, 0.5, 0.2])[:, None, None]
    )
    jpg = save_image(t, tmp_path / "a.jpg")
    assert load_image(jpg).shape == (1, 3, 10, 12)
    assert torch.allclose(load_image(jpg), t[None], atol=0.05)  # lossy (quality 95), smooth input
    save_image(to_pil(t), tmp_path / "b.png")  # PIL images are accepted too
    with pytest.raises(StylelabError, match="suffix like .png"):
        save_image(t, tmp_path / "c.unknown")
    with pytest.raises(StylelabError, match="is a directory"):
        save_image(t, tmp_path)


def test_to_pil_rounds_instead_of_truncating():
    t = torch.full((1, 3, 1, 1), 0.999)  # 254.7 -> 255 (truncation would give 254)
    assert np.asarray(to_pil(t))[0, 0, 0] == 255


# --- sample photos ----------------------------------------------------------------------


@pytest.mark.parametrize("name", SAMPLE_CONTENT)
def test_sample_content_loads_offline(name):
    t = sample_content(name, max_side=64)
    assert t.shape[:2] == (1, 3) and max(t.shape[-2:]) == 64
    check_image_tensor(t, *t.shape[-2:])
    assert t.std() > 0.05  # a photo, not a blank


def test_unknown_sample_lists_the_choices():
    with pytest.raises(StylelabError, match="unknown sample image 'lena'.*astronaut"):
        sample_content("lena")
