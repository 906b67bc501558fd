"""Load, validate, resize and save images; the bundled sample photos.

Everything in stylelab works on one tensor layout: (1, 3, H, W), float32 RGB in
[0, 1]. `load_image` turns whatever the user has into that layout and refuses,
with a message that says what to do, what it cannot use:

    path | PIL.Image | np.ndarray | torch.Tensor  ->  load_image  ->  (1, 3, H, W) float32
                                                                   ->  to_pil / save_image
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError

from stylelab.core.errors import StylelabError

__all__ = [
    "MAX_PIXELS",
    "SAMPLE_CONTENT",
    "load_image",
    "resize_max_side",
    "sample_content",
    "save_image",
    "to_pil",
]

# 64 Mpx: about 0.8 GB as a float32 RGB tensor, before any network touches it.
MAX_PIXELS = 64 * 2**20

# Photos that ship inside scikit-image (no download); provenance in data/README.md.
SAMPLE_CONTENT = (
    "astronaut",
    "chelsea",
    "coffee",
    "rocket",
    "motorcycle_left",
    "hubble_deep_field",
)

# Float inputs may overshoot [0, 1] a little (a decoder's output); beyond this range
# they are on another scale (0..255, or ImageNet-normalised), which clamping would hide.
_FLOAT_RANGE = (-0.5, 1.5)


def load_image(src, max_side: int | None = None, min_side: int | None = None) -> torch.Tensor:
    """Any image -> (1, 3, H, W) float32 RGB in [0, 1].

    src: a path, a PIL image, an array (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) of
    uint8, uint16 or float in [0, 1], or a tensor (3, H, W) / (1, 3, H, W).
    Grayscale is repeated to RGB, transparency is composited on white, 16-bit is
    scaled by 65535, EXIF orientation is applied.
    max_side: shrink (never enlarge) so the longer side is at most this, keeping aspect.
    min_side: refuse images whose shorter side ends up below this.
    """
    if isinstance(src, (str, os.PathLike)):
        t = _load_file(Path(src), max_side)
    elif isinstance(src, Image.Image):
        _check_pixels(src.size, "the PIL image")
        t = _pil_to_tensor(_decoded(src, "the PIL image"), "the PIL image")
    elif isinstance(src, np.ndarray):
        t = _array_to_tensor(src)
    elif isinstance(src, torch.Tensor):
        t = _tensor_to_tensor(src)
    else:
        raise StylelabError(
            f"cannot load an image from a {type(src).__name__}; "
            "pass a file path, a PIL image, a numpy array or a torch tensor"
        )
    if max_side is not None:
        t = resize_max_side(t, max_side)
    if min_side is not None and min(t.shape[-2:]) < min_side:
        h, w = t.shape[-2:]
        shrunk = f" (after shrinking to max_side={max_side})" if max_side is not None else ""
        raise StylelabError(
            f"image is {h} x {w} pixels{shrunk}, but needs at least {min_side} pixels on its "
            f"shorter side; use a larger image or a larger --size"
        )
    return t


def resize_max_side(t: torch.Tensor, max_side: int) -> torch.Tensor:
    """Shrink (N, 3, H, W) so max(H, W) <= max_side, keeping aspect; antialiased.

    Never enlarges: upsampling invents no detail, and the caller can ask for it explicitly.
    """
    if int(max_side) < 1:
        raise StylelabError(f"max_side must be a positive number of pixels, got {max_side}")
    h, w = t.shape[-2:]
    scale = max_side / max(h, w)
    if scale >= 1:
        return t
    size = [max(1, round(h * scale)), max(1, round(w * scale))]
    # Bilinear with antialias is a positive kernel: values stay inside [0, 1].
    return _resize_bilinear_aa(t, size)


def _resize_bilinear_aa(t: torch.Tensor, size: list[int]) -> torch.Tensor:
    """(..., H, W) -> (..., *size), antialiased bilinear: torchvision's tensor `resize`.

    The same calls as `torchvision.transforms.functional.resize(t, size, BILINEAR,
    antialias=True)` (bit-identical), without importing torchvision: it pulls in
    torch._dynamo, ~1.5 s, more than a one-image stylize's network.
    """
    if list(t.shape[-2:]) == size:
        return t
    x = t.unsqueeze(0) if t.ndim < 4 else t
    dtype = x.dtype
    if dtype not in (torch.float32, torch.float64):
        x = x.to(torch.float32)
    x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
    if t.ndim < 4:
        x = x.squeeze(0)
    if dtype != x.dtype:
        if dtype in (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64):
            x = torch.round(x)  # integer images: round, then cast (torchvision's rule)
        x = x.to(dtype)
    return x


def to_pil(t: torch.Tensor) -> Image.Image:
    """(1, 3, H, W) or (3, H, W) tensor in [0, 1] -> PIL RGB image (values clamped, rounded)."""
    t = _tensor_to_tensor(t, clamp_only=True)
    # Round, not truncate (torchvision's to_pil_image truncates: 0.999 -> 254).
    arr = (t[0].permute(1, 2, 0) * 255).round().to(torch.uint8).cpu().numpy()  # (H, W, 3)
    return Image.fromarray(arr)  # uint8 (H, W, 3) -> mode "RGB"


def save_image(img, path, force: bool = False) -> Path:
    """Save a tensor (or PIL image) to `path`; format from the suffix. Returns the path.

    Refuses to overwrite an existing file unless force=True; creates parent folders.
    """
    path = Path(path)
    if path.is_dir():
        raise StylelabError(f"{path} is a directory; give a file name such as {path / 'out.png'}")
    if path.exists() and not force:
        raise StylelabError(
            f"{path} already exists; pass --force (force=True) to overwrite it, "
            "or choose another output path"
        )
    if not _known_suffix(path.suffix.lower()):
        raise StylelabError(
            f"cannot tell the image format from {path.name!r}; use a suffix like .png or .jpg"
        )
    im = img.convert("RGB") if isinstance(img, Image.Image) else to_pil(img)
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, quality=95) if path.suffix.lower() in (".jpg", ".jpeg") else im.save(path)
    return path


def _known_suffix(suffix: str) -> bool:
    """Whether PIL knows the image format of `suffix` (".png"), as Image.registered_extensions().

    The common formats first (Image.preinit: what open and save load anyway); all ~50
    plugins (Image.init, ~0.1 s of imports) only for a suffix outside them.
    """
    Image.preinit()
    return suffix in Image.EXTENSION or suffix in Image.registered_extensions()


def sample_content(name: str, max_side: int | None = None) -> torch.Tensor:
    """One of the photos bundled with scikit-image (offline), as (1, 3, H, W)."""
    import skimage.data  # imported on use: scikit-image is slow to import

    loaders = {
        "astronaut": skimage.data.astronaut,
        "chelsea": skimage.data.chelsea,
        "coffee": skimage.data.coffee,
        "rocket": skimage.data.rocket,
        "motorcycle_left": lambda: skimage.data.stereo_motorcycle()[0],
        "hubble_deep_field": skimage.data.hubble_deep_field,
    }
    if name not in loaders:
        raise StylelabError(
            f"unknown sample image {name!r}; choose one of {', '.join(SAMPLE_CONTENT)}"
        )
    return load_image(loaders[name](), max_side=max_side)


# --- files and PIL images -------------------------------------------------------------


def _check_pixels(size: tuple[int, int], name: str) -> None:
    w, h = size
    if w * h > MAX_PIXELS:
        raise StylelabError(
            f"{name} is {w} x {h} = {w * h / 2**20:.3g} Mpx, above the limit of "
            f"{MAX_PIXELS / 2**20:.3g} Mpx (stylelab.core.images.MAX_PIXELS) for decoding into memory; "
            "downscale it first (a JPEG also decodes smaller with a smaller --size / max_side)"
        )


def _load_file(path: Path, max_side: int | None) -> torch.Tensor:
    if not path.exists():
        raise StylelabError(f"image file not found: {path}; check the path and its spelling")
    if path.is_dir():
        raise StylelabError(f"{path} is a directory, not an image; pass an image file inside it")
    try:
        # Our own MAX_PIXELS check (below, on the header) replaces PIL's bomb warning;
        # PIL still raises DecompressionBombError beyond twice its own limit.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)
    except Image.DecompressionBombError as err:
        raise StylelabError(
            f"{path}: the header claims an image too large to decode ({err}); "
            f"stylelab decodes at most {MAX_PIXELS / 2**20:.3g} Mpx; downscale the file first"
        ) from None
    except (UnidentifiedImageError, OSError) as err:
        raise StylelabError(
            f"{path} is not an image PIL can read ({type(err).__name__}); "
            "pass a PNG, JPEG, GIF, TIFF, BMP or WebP file"
        ) from None
    with im:  # closes the file, also for multi-frame GIF/TIFF
        if max_side is not None:
            # JPEG only: decode at 1/2, 1/4 or 1/8 scale, keeping the longer side >= max_side.
            w, h = im.size
            im.draft("RGB", (max_side * w // max(w, h), max_side * h // max(w, h)))
        _check_pixels(im.size, str(path))
        return _pil_to_tensor(_decoded(im, str(path)), str(path))


def _decoded(im: Image.Image, name: str) -> Image.Image:
    try:
        im.load()  # Image.open is lazy: a truncated file only fails when decoded
    except (OSError, SyntaxError, ValueError) as err:
        raise StylelabError(
            f"{name} is truncated or corrupt ({err}); re-download or re-export the image"
        ) from None
    return im


def _pil_to_tensor(im: Image.Image, name: str) -> torch.Tensor:
    im = ImageOps.exif_transpose(im)  # phone photos store "rotate 90" as a tag, not pixels
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit grayscale (PNG/TIFF). "I" (int32) here almost always holds 16-bit data.
        arr = np.asarray(im, dtype=np.float32) / 65535.0
        return _array_to_tensor(np.clip(arr, 0.0, 1.0))
    if im.mode == "F":
        return _array_to_tensor(np.asarray(im, dtype=np.float32))
    if im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in im.info:
        im = im.convert("RGBA")
    try:
        im = im if im.mode in ("RGB", "RGBA") else im.convert("RGB")  # L, 1, P, CMYK, YCbCr...
    except (ValueError, OSError) as err:
        raise StylelabError(
            f"{name}: cannot convert PIL mode {im.mode!r} to RGB ({err}); "
            "re-save the image as an 8-bit RGB PNG or JPEG"
        ) from None
    return _array_to_tensor(np.asarray(im))


# --- arrays and tensors ---------------------------------------------------------------


def _array_to_tensor(arr: np.ndarray) -> torch.Tensor:
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4))):
        raise StylelabError(
            f"an image array must be (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); got {arr.shape}. "
            "For (3, H, W) data, transpose with arr.transpose(1, 2, 0)"
        )
    _check_pixels(arr.shape[1::-1], "the array")
    if arr.dtype == np.uint8:
        x = arr.astype(np.float32) / 255.0
    elif arr.dtype == np.uint16:
        x = arr.astype(np.float32) / 65535.0
    elif arr.dtype == np.bool_:
        x = arr.astype(np.float32)
    elif np.issubdtype(arr.dtype, np.floating):
        x = _check_float_range(torch.from_numpy(arr.astype(np.float32)), "array").numpy()
    else:
        raise StylelabError(
            f"unsupported array dtype {arr.dtype}; use uint8 (0..255), uint16 (0..65535) "
            "or float in [0, 1]"
        )
    if x.ndim == 2:
        x = np.repeat(x[:, :, None], 3, axis=2)
    elif x.shape[2] == 4:
        rgb, alpha = x[:, :, :3], x[:, :, 3:]
        x = rgb * alpha + (1.0 - alpha)  # composite on white
    t = torch.from_numpy(np.ascontiguousarray(x)).permute(2, 0, 1)  # (3, H, W)
    return t.unsqueeze(0).contiguous()  # (1, 3, H, W)


def _tensor_to_tensor(t: torch.Tensor, clamp_only: bool = False) -> torch.Tensor:
    if t.ndim == 3:
        t = t.unsqueeze(0)  # (3, H, W) -> (1, 3, H, W)
    if t.ndim != 4 or t.shape[0] != 1 or t.shape[1] != 3:
        hint = (
            "index one image with t[i:i+1]"
            if t.ndim == 4 and t.shape[0] > 1
            else ("repeat a gray channel with t.expand(-1, 3, -1, -1), drop alpha with t[:, :3]")
        )
        raise StylelabError(
            f"an image tensor must be (3, H, W) or (1, 3, H, W) RGB; got {tuple(t.shape)}; {hint}"
        )
    if t.dtype == torch.uint8:
        return t.float() / 255.0
    if not t.is_floating_point():
        raise StylelabError(f"unsupported tensor dtype {t.dtype}; use float in [0, 1] or uint8")
    t = t.detach().float()
    if clamp_only:
        _check_finite(t)
        return t.clamp(0.0, 1.0)
    return _check_float_range(t, "tensor")


def _check_finite(t: torch.Tensor) -> None:
    if not torch.isfinite(t).all():
        bad = (~torch.isfinite(t)).sum().item()
        raise StylelabError(
            f"the image contains {bad} NaN/Inf values; this usually means an optimisation "
            "diverged: lower the learning rate or check the inputs"
        )


def _check_float_range(t: torch.Tensor, what: str) -> torch.Tensor:
    _check_finite(t)
    lo, hi = t.min().item(), t.max().item()
    if lo < _FLOAT_RANGE[0] or hi > _FLOAT_RANGE[1]:
        raise StylelabError(
            f"float {what} values span [{lo:.3g}, {hi:.3g}], but images must be in [0, 1]; "
            "divide 0..255 data by 255, or undo a mean/std normalisation"
        )
    return t.clamp(0.0, 1.0).contiguous()
