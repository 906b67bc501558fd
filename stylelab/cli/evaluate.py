"""`stylelab evaluate --content DIR --style DIR --json OUT`: every method on every pair.

    stylelab evaluate --content photos/ --style paintings/ --json eval.json --plot eval.png
    stylelab evaluate --content photos/ --style paintings/ --methods adain --size 512 --json e.json

The protocol is `stylelab.metrics.evaluate`. Files in the folders that are not readable
images are skipped, listed on stderr and in the JSON (`"skipped"`). Existing output files
are never overwritten without --force.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from stylelab.core.errors import StylelabError

PLOT_SUFFIXES = (".png", ".pdf", ".svg")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--content", required=True, type=Path, help="folder of content images")
    parser.add_argument("--style", required=True, type=Path, help="folder of style images")
    parser.add_argument(
        "--methods", default=None,
        help="comma-separated methods (default: every image method `stylelab stylize` accepts); "
        "the baselines identity and color_transfer run when named",
    )  # fmt: skip
    parser.add_argument("--size", type=int, default=256, help="longest side of every input")
    parser.add_argument("--json", required=True, type=Path, help="where to write the report")
    parser.add_argument("--plot", type=Path, help="also draw the report (.png, .pdf or .svg)")
    parser.add_argument(
        "--temporal", type=int, default=30, metavar="FRAMES",
        help="frames of the synthetic video each method stylizes for its warping error "
        "(default 30; 0: skip)",
    )  # fmt: skip
    parser.add_argument("--gif-dir", type=Path, help="write each method's video as METHOD.gif")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (default cpu)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--force", action="store_true", help="overwrite --json / --plot")


def check_outputs(args: argparse.Namespace) -> None:
    """Before any work: refuse to overwrite, and a plot format matplotlib can write."""
    for flag, path in (("--json", args.json), ("--plot", args.plot)):
        if path is None:
            continue
        if path.is_dir():
            raise StylelabError(f"{flag} {path} is a folder; give a file name")
        if path.exists() and not args.force:
            raise StylelabError(f"{flag} {path} already exists; pass --force to overwrite it")
    if args.plot is not None and args.plot.suffix.lower() not in PLOT_SUFFIXES:
        raise StylelabError(f"--plot {args.plot}: use a {', '.join(PLOT_SUFFIXES)} file name")
    if args.gif_dir is not None and not args.force:
        from stylelab.training import zoo

        for name in methods_asked(args) or zoo.names():
            if (args.gif_dir / f"{name}.gif").exists():
                gif = args.gif_dir / f"{name}.gif"
                raise StylelabError(f"{gif} already exists; pass --force to overwrite it")


def methods_asked(args: argparse.Namespace) -> list[str] | None:
    return [m.strip() for m in args.methods.split(",") if m.strip()] if args.methods else None


def run(args: argparse.Namespace) -> int:
    import torch

    from stylelab.metrics.evaluate import evaluate
    from stylelab.metrics.report import markdown_table, plot

    check_outputs(args)
    if args.threads < 0:
        raise StylelabError(f"--threads {args.threads}: give 0 (default) or a positive number")
    if args.threads:
        torch.set_num_threads(args.threads)
    report = evaluate(
        args.content, args.style, methods_asked(args), args.size, args.device,
        temporal_frames=args.temporal, gif_dir=args.gif_dir, force=args.force,
    )  # fmt: skip
    report["command"] = "stylelab evaluate " + " ".join(sys.argv[2:])
    for line in report["skipped"]:
        print(f"stylelab evaluate: skipped {line}", file=sys.stderr)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1) + "\n")
    print(markdown_table(report))
    print(f"\n{report['note']}\nwrote {args.json}", end="")
    if args.plot is not None:
        print(f" and {plot(report, args.plot)}", end="")
    print()
    return 0
