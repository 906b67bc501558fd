"""`stylelab book build|execute|check`: execute the chapters, build the HTML book, scan it.

Needs the `book` extra (`pip install "stylelab[book]"`); the pipeline is
`stylelab.book.runner`. `python -m stylelab.book ...` works too.
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

from stylelab.book.runner import check_html, run_pipeline
from stylelab.book.sources import notebook_problems, resolve_toc
from stylelab.core.errors import StylelabError
from stylelab.core.paths import repo_root


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action", choices=("build", "execute", "check"),
        help="build: execute the chapters and build the HTML; execute: only execute them; "
        "check: check the sources and scan an HTML book already built",
    )  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="run the chapters with QUICK=True")
    parser.add_argument(
        "--timeout", type=float, default=None,
        help="seconds per notebook (default: 600 quick, 3600 full)",
    )  # fmt: skip
    parser.add_argument("--only", metavar="NAME", help="execute only this chapter")
    parser.add_argument("--book", type=Path, help="book sources (default: <repo>/book)")
    parser.add_argument(
        "--output", type=Path,
        help="folder that gets _build/ (book-src/, html/); default: the repository root",
    )  # fmt: skip


# import name -> distribution, for what the `book` extra installs
BOOK_EXTRA = {
    "papermill": "papermill",
    "jupyter_book": "jupyter-book",
    "nbformat": "nbformat",
    "bs4": "beautifulsoup4",
    "yaml": "pyyaml",
    "ipykernel": "ipykernel",
    "ipywidgets": "ipywidgets",
}


def check_book_extra() -> None:
    """A clear error, not an ImportError deep in the pipeline, when the extra is missing."""
    missing = [dist for mod, dist in BOOK_EXTRA.items() if importlib.util.find_spec(mod) is None]
    if missing:
        raise StylelabError(
            f"building the book needs {', '.join(missing)}: install the book extra with "
            "`pip install 'stylelab[book]'` (or `pip install -e '.[book]'` in a clone)"
        )


def run(args: argparse.Namespace) -> int:
    check_book_extra()
    book_dir = (args.book or repo_root() / "book").resolve()
    output = (args.output or book_dir.parent).resolve()
    if args.timeout is not None and args.timeout <= 0:
        raise StylelabError(f"--timeout {args.timeout}: give a positive number of seconds")
    if args.action == "check":
        resolve_toc(book_dir)
        problems = [p for nb in book_dir.glob("*.ipynb") for p in notebook_problems(nb)]
        if problems:
            raise StylelabError("chapters are not clean:\n  " + "\n  ".join(problems))
        print(f"sources: {book_dir} is clean")
        return check_html(output / "_build" / "html")
    start = time.perf_counter()
    status = run_pipeline(
        book_dir, output, args.quick, args.timeout, args.only, build=args.action == "build"
    )
    print(f"total {time.perf_counter() - start:.1f} s")
    return status
