"""`stylelab stylize CONTENT STYLE [STYLE ...] -o OUT`: stylize one image from the command line.

    stylelab stylize photo.jpg painting.jpg -o out.png --method adain --alpha 0.8
    stylelab stylize photo.jpg a.jpg b.jpg --mix 0.7,0.3 -o out.png --preserve-color
    stylelab stylize sample:chelsea style:PAINTER:7 -o out.png      # bundled inputs
    stylelab stylize sample:chelsea --text "a stained glass window" -o out.png   # chapter 7

CONTENT may be `sample:NAME` (a photo bundled with scikit-image, see
`images.SAMPLE_CONTENT`); a STYLE may be `style:PAINTER[:SEED]` (a painting of
the procedural zoo, `paintings.PAINTERS`). Every bad input exits with status 2 and
one line on stderr (a StylelabError), before any network is loaded.

With --text PROMPT there are no style images: a network is optimised for this content and
prompt (StyleMamba's fusion module by default, or CLIPstyler's U-Net), 256 px by default.
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
TEXT_METHODS = ("stylemamba", "clipstyler")  # --text: optimised per prompt (chapter 7)
SIZE_RANGE = (64, 4096)  # max side in pixels: the encoder needs 32+, 4096 still fits in memory


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("content", help="content image (a file, or sample:NAME)")
    parser.add_argument(
        "styles", nargs="*", metavar="STYLE", help="style image(s) (files, or style:PAINTER[:SEED])"
    )
    parser.add_argument(
        "--text", default=None, help="a style prompt instead of style images (chapter 7)"
    )
    parser.add_argument(
        "--steps", type=int, default=None, help="--text only: optimisation steps (default 100)"
    )
    parser.add_argument("--seed", type=int, default=0, help="--text only: random seed")
    parser.add_argument("-o", "--output", required=True, help="output image (.png, .jpg ...)")
    parser.add_argument(
        "--method",
        choices=METHODS + TEXT_METHODS,
        default=None,
        help="adain (default), or with --text: stylemamba (default) or clipstyler",
    )
    parser.add_argument(
        "--alpha", type=float, default=1.0, help="style strength in [0, 1] (default 1)"
    )
    parser.add_argument(
        "--mix", default=None, help="comma-separated weights, one per style (e.g. 0.7,0.3)"
    )
    parser.add_argument(
        "--size",
        type=int,
        default=None,
        help=f"longest side of content and styles, at most (default 512, 256 with --text; "
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


def _check_text_args(args) -> None:
    """--text or style images, never both; text methods only with --text."""
    if args.text is not None:
        if args.styles:
            raise StylelabError(
                "give either style images or --text PROMPT, not both "
                f"(got {len(args.styles)} style image(s) and --text {args.text!r})"
            )
        from stylelab.text.prompts import check_prompt

        check_prompt(args.text)  # an empty or blank prompt is an error here, before any work
        args.method = args.method or "stylemamba"
        if args.method not in TEXT_METHODS:
            raise StylelabError(
                f"--method {args.method} takes style images; with --text use "
                f"{' or '.join(TEXT_METHODS)}"
            )
        if args.steps is not None and args.steps < 1:
            raise StylelabError(f"--steps must be at least 1, got {args.steps}")
    else:
        if not args.styles:
            raise StylelabError("give at least one style image, or --text PROMPT")
        args.method = args.method or "adain"
        if args.method in TEXT_METHODS:
            raise StylelabError(f"--method {args.method} needs --text PROMPT")
        if args.steps is not None:
            raise StylelabError("--steps is for --text (the image methods take no steps)")
    if args.size is None:
        args.size = 256 if args.text is not None else 512


def _check_args(args) -> Path:
    _check_text_args(args)
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
    if args.text is not None:
        return _run_text(args, out, start)
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


def _run_text(args, out: Path, start: float) -> int:
    """Optimise per prompt (stylelab.text.optimise), with a progress bar."""
    import torch

    from stylelab.core import images
    from stylelab.text.optimise import stylize_text
    from stylelab.training import zoo

    content = _load_content(args.content, args.size)
    torch.manual_seed(args.seed)
    adain = zoo.load("adain") if args.method == "stylemamba" else None
    run = stylize_text(content, args.text, method=args.method, steps=args.steps, seed=args.seed,
                       adain=adain)  # fmt: skip
    images.save_image(run.image, out, force=args.force)
    h, w = run.image.shape[-2:]
    last = run.history[-1]
    print(
        f"wrote {out} ({w}x{h}, {args.method}, {run.steps} steps, text {args.text!r}) in "
        f"{time.perf_counter() - start:.1f} s; directional loss {run.history[0]['dir']:.3f} -> "
        f"{last['dir']:.3f}, content loss {last['content']:.3f}"
    )
    return 0
