"""The `stylelab` command line.

Each subcommand lives in its own module, which defines
`add_arguments(parser)` and `run(args) -> int`. This file only routes, so the
modules stay independent and `stylelab --help` stays fast (nothing heavy is
imported until a subcommand runs). A `StylelabError` raised anywhere becomes
one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from stylelab.core.errors import StylelabError

# subcommand -> (module, one-line help)
COMMANDS = {
    "stylize": ("stylelab.cli.stylize", "stylize a content image with one or more style images"),
    "train": ("stylelab.cli.train", "train a model (resumable, with checkpoints)"),
    "evaluate": ("stylelab.cli.evaluate", "score every method on folders of contents and styles"),
    "ablate": ("stylelab.cli.ablate", "fine-tune a model's ablations and score them"),
    "text-space": ("stylelab.cli.text_space", "train the offline image tower of chapter 7"),
    "bench": ("stylelab.cli.bench", "measure speed and write JSON (and plots)"),
    "book": ("stylelab.cli.book", "execute the chapters and build the HTML book"),
    "encoders": ("stylelab.cli.encoders", "list encoders and where their weights come from"),
}


def _usage() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stylelab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        _usage().parse_args(argv)  # prints help, or the usage error, and exits
        return 2
    name = argv[0]
    module_name, help_text = COMMANDS[name]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"stylelab {name}", description=help_text)
    module.add_arguments(parser)
    args = parser.parse_args(argv[1:])
    try:
        return int(module.run(args) or 0)
    except StylelabError as err:
        print(f"stylelab {name}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"stylelab {name}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
