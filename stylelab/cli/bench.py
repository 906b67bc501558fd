"""`stylelab bench SUITE --json PATH`: measured speed, written as JSON (and plots).

Performance is measured here, never asserted in tests. Each suite is a module of
`stylelab.bench` defining `add_arguments(parser)` and `run(args) -> int`; this module
only routes, importing just the suite asked for.
"""

from __future__ import annotations

import argparse
import importlib

SUITES = {
    "scans": (
        "stylelab.bench.scans",
        "selective scan and WKV: the three tiers over sequence length",
    ),
    "adain": ("stylelab.bench.adain", "AdaIN stylization at 512 and 1024 against the peer package"),
    "methods": (
        "stylelab.bench.methods",
        "every image method end to end: time and peak memory over resolution",
    ),
    "attention": (
        "stylelab.bench.attention",
        "the attention transform alone: dense vs streamed all-to-all vs A2K over resolution",
    ),
    "ss2d": (
        "stylelab.bench.ss2d",
        "Mamba-ST's cross SS2D alone: numba vs the torch scans, forward and backward, over size",
    ),
    "rwkv": (
        "stylelab.bench.rwkv",
        "StyleRWKV's spatial mix alone: numba vs torch, S-scan vs raster, over size",
    ),
    "text": (
        "stylelab.bench.text",
        "StyleMamba vs CLIPstyler: steps and seconds to a directional-loss threshold",
    ),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    lines = [f"  {name:8s} {help_text}" for name, (_, help_text) in SUITES.items()]
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "suites:\n"
        + "\n".join(lines)
        + "\n\n`stylelab bench SUITE --help` lists a suite's options."
    )
    parser.add_argument("suite", choices=SUITES, help="what to measure")
    parser.add_argument("suite_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    module_name, help_text = SUITES[args.suite]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"stylelab bench {args.suite}", description=help_text)
    module.add_arguments(parser)
    return module.run(parser.parse_args(args.suite_args))
