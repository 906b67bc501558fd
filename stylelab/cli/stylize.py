"""`stylelab stylize CONTENT STYLE [STYLE ...] -o OUT`: stylize one image from the command line.

    stylelab stylize photo.jpg painting.jpg -o out.png --method adain --alpha 0.8
    stylelab stylize photo.jpg a.jpg b.jpg --mix 0.7,0.3 -o out.png --preserve-color
    stylelab stylize sample:chelsea style:PAINTER:7 -o out.png      # bundled inputs

CONTENT may be `sample:NAME` (a photo bundled with scikit-image, see
`images.SAMPLE_CONTENT`); a STYLE may be `style:PAINTER[:SEED]` (a painting of
the procedural zoo, `paintings.PAINTERS`). Every bad input exits with status 2 and
one line on stderr (a StylelabError), before any network is loaded.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

from stylelab.core.errors import StylelabError

if TYPE_CHECKING:  # annotations only: torch is imported in run(), so --help needs no torch
    import torch

METHODS = (
    "adain",
    "a2k",
    "all_to_all",
    "mamba_st",
    "style_rwkv",
)  # zoo names; later chapters add theirs
SIZE_RANGE = (64, 4096)  # max side in pixels: the encoder needs 32+, 4096 still fits in memory


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("content", help="content image (a file, or sample:NAME)")
    parser.add_argument(
        "styles", nargs="+", metavar="STYLE", help="style image(s) (files, or style:PAINTER[:SEED])"
    )
    parser.add_argument("-o", "--output", required=True, help="output image (.png, .jpg ...)")
    parser.add_argument("--method", choices=METHODS, default="adain")
    parser.add_argument(
        "--alpha", type=float, default=1.0, help="style strength in [0, 1] (default 1)"
    )
    parser.add_argument(
        "--mix", default=None, help="comma-separated weights, one per style (e.g. 0.7,0.3)"
    )
    parser.add_argument(
        "--size",
        type=int,
        default=512,
        help=f"longest side of content and styles, at most (default 512; "
        f"{SIZE_RANGE[0]}..{SIZE_RANGE[1]})",
    )
    parser.add_argument(
        "--preserve-color",
        action="store_true",
        help="keep the content's colours (style recoloured first)",
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (default cpu)")
    parser.add_argument("--force", action="store_true", help="overwrite OUTPUT if it exists")


def parse_mix(text: str | None, n_styles: int) -> list[float] | None:
    """'0.7,0.3' -> [0.7, 0.3], checked against the number of styles (normalised later)."""
    if text is None:
        return None
    try:
        weights = [float(x) for x in text.split(",")]
    except ValueError:
        raise StylelabError(
            f"--mix {text!r} must be comma-separated numbers, e.g. 0.7,0.3"
        ) from None
    from stylelab.adain import normalize_weights

    normalize_weights(weights, n_styles)  # raises on count, sign, or a zero sum
    return weights


def _load_content(spec: str, size: int) -> torch.Tensor:
    from stylelab.core import images

    if spec.startswith("sample:"):
        return images.sample_content(spec.split(":", 1)[1], max_side=size)
    return images.load_image(_existing(spec, "content image"), max_side=size)


def _load_style(spec: str, size: int) -> torch.Tensor:
    from stylelab import paintings
    from stylelab.core import images

    if spec.startswith("style:"):
        parts = spec.split(":")
        painter = parts[1]
        if painter not in paintings.PAINTERS:
            raise StylelabError(
                f"unknown painter {painter!r} in {spec!r}; choose one of "
                f"{', '.join(paintings.PAINTERS)}"
            )
        try:
            seed = int(parts[2]) if len(parts) > 2 else 0
        except ValueError:
            raise StylelabError(
                f"{spec!r}: the seed after the painter must be an integer"
            ) from None
        return paintings.paint(painter, size=size, seed=seed).tensor()
    return images.load_image(_existing(spec, "style image"), max_side=size)


def _existing(path: str, what: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise StylelabError(f"{what} {path} does not exist; check the path")
    return p


def _check_args(args) -> Path:
    out = Path(args.output)
    if out.exists() and not args.force:
        raise StylelabError(f"{out} already exists; pass --force to overwrite it")
    lo, hi = SIZE_RANGE
    if not lo <= args.size <= hi:
        raise StylelabError(f"--size {args.size} is out of range; use {lo}..{hi} pixels")
    from stylelab.adain import check_alpha

    check_alpha(args.alpha)
    return out


def run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    out = _check_args(args)
    weights = parse_mix(args.mix, len(args.styles))
    content = _load_content(args.content, args.size)
    styles = [_load_style(s, args.size) for s in args.styles]
    import torch

    from stylelab.core import images
    from stylelab.core.devices import resolve_device
    from stylelab.training import zoo

    device = resolve_device(args.device)
    model = zoo.load(args.method, device=str(device))
    t0 = time.perf_counter()
    with torch.inference_mode():  # no autograd graph: less memory, same pixels
        result = model.stylize(
            content.to(device),
            [s.to(device) for s in styles],
            alpha=args.alpha,
            weights=weights,
            preserve_color=args.preserve_color,
        )
    network = time.perf_counter() - t0
    images.save_image(result, out, force=args.force)
    total = time.perf_counter() - start
    h, w = result.shape[-2:]
    print(
        f"wrote {out} ({w}x{h}, {args.method}, {len(styles)} style(s)) in {total:.2f} s "
        f"(network {network:.2f} s on {device})"
    )
    return 0
