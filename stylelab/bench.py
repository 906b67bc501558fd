"""`stylelab bench SUITE --json PATH`: measured speed, written as JSON (and plots).

Performance is measured here, never asserted in tests. Each suite lives in its
own module (`bench_<suite>.py`) defining `add_arguments(parser)` and
`run(args) -> int`; this module only routes.
"""

from __future__ import annotations

import argparse
import importlib

SUITES = {
    "scans": ("stylelab.bench_scans", "selective scan and WKV: the three tiers over sequence length"),
    "adain": ("stylelab.bench_adain", "AdaIN stylization at 512 and 1024 against the peer package"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="suite", metavar="SUITE", required=True)
    for name, (module_name, help_text) in SUITES.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(module_name).add_arguments(p)


def run(args: argparse.Namespace) -> int:
    return importlib.import_module(SUITES[args.suite][0]).run(args)
