"""`stylelab book build|execute|check`: execute the chapters, build the HTML book, scan it.

The pipeline, and why each step is there:

1. Check `book/_toc.yml`: every entry's file must exist (a missing chapter is an
   error, not a silently shorter book) and every chapter notebook must be clean
   (no outputs; one `parameters` cell of plain literals).
2. Copy `book/` to `_build/book-src/`: the sources are never written to.
3. Execute each chapter there with papermill, in a child process with a
   per-notebook timeout, on a kernel spec that points at *this* interpreter
   (written under `_build/jupyter/`, so a fresh clone needs no `jupyter kernelspec
   install`). Quick mode passes `QUICK=True`. A failure names the notebook, the
   cell (index in `book/<name>.ipynb`, its first line) and the error.
4. Build the HTML with `jupyter-book build` from the executed copies, with
   execution off (`book/_config.yml`), into `_build/html/`.
5. Scan the HTML for error outputs (tracebacks, error cells) and for assets
   loaded from outside (the book must render offline), and fail on any.

`python -m stylelab.book ...` works too.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from stylelab.errors import StylelabError

# Every chapter's `parameters` cell must set these (papermill overrides QUICK).
REQUIRED_PARAMETERS = ("QUICK", "SEED", "DEVICE")
KERNEL_NAME = "stylelab"
# Seconds per notebook; quick mode must finish in ~2 min on 2 cores, so 10 min means stuck.
DEFAULT_TIMEOUT = {True: 600, False: 3600}
# Extra seconds for kernel start-up and saving before the child process is killed.
KILL_GRACE = 60
# papermill's atomic saves (`use_atomic_saves`) write here first, then rename over the notebook.
SAVING_SUFFIX = ".saving"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def repo_root() -> Path:
    """The clone this package was installed from (editable install), found by its `book/`."""
    root = Path(__file__).resolve().parents[1]
    if not (root / "book" / "_toc.yml").is_file():
        raise StylelabError(
            f"no book/_toc.yml under {root}: run `stylelab book` from an editable install "
            "of a clone (`pip install -e .`), or pass --book and --output"
        )
    return root


# ---------------------------------------------------------------- table of contents


def _toc_files(entries: list) -> list[str]:
    files = []
    for entry in entries or []:
        if "file" in entry:
            files.append(entry["file"])
        for key in ("sections", "chapters", "parts"):
            files.extend(_toc_files(entry.get(key, [])))
    return files


def toc_files(book_dir: Path) -> list[str]:
    """File entries of `_toc.yml` (root first), as written there (no extension)."""
    import yaml

    toc_path = book_dir / "_toc.yml"
    if not toc_path.is_file():
        raise StylelabError(f"{toc_path} is missing; the book needs a table of contents")
    toc = yaml.safe_load(toc_path.read_text()) or {}
    if toc.get("format") != "jb-book" or "root" not in toc:
        raise StylelabError(
            f"{toc_path} must have `format: jb-book` and `root:` (Jupyter Book 1.x)"
        )
    return [toc["root"], *_toc_files(toc.get("chapters", [])), *_toc_files(toc.get("parts", []))]


def resolve_toc(book_dir: Path) -> list[Path]:
    """The source file of every `_toc.yml` entry; a StylelabError naming any that is missing."""
    found, missing = [], []
    for entry in toc_files(book_dir):
        candidates = [book_dir / entry] if Path(entry).suffix else []
        candidates += [book_dir / f"{entry}{ext}" for ext in (".ipynb", ".md")]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            missing.append(entry)
        else:
            found.append(path)
    if missing:
        names = ", ".join(f"{m!r} (no {book_dir / m}.ipynb or .md)" for m in missing)
        raise StylelabError(
            f"{book_dir / '_toc.yml'} lists {names}: add the chapter, or remove its entry"
        )
    return found


# ---------------------------------------------------------------- notebook hygiene


def parameters_problems(source: str) -> list[str]:
    """What is wrong with a `parameters` cell: each statement must be `NAME = literal`."""
    try:
        tree = ast.parse(source)
    except SyntaxError as err:
        return [f"parameters cell does not parse: {err}"]
    problems, names = [], {}
    for stmt in tree.body:
        line = ast.get_source_segment(source, stmt) or ""
        ok = (
            isinstance(stmt, ast.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)
        )
        if ok:
            try:
                names[stmt.targets[0].id] = ast.literal_eval(stmt.value)
            except ValueError:
                ok = False
        if not ok:
            problems.append(f"parameters cell: `{line}` is not `NAME = literal`")
    for name in REQUIRED_PARAMETERS:
        if name not in names:
            problems.append(f"parameters cell does not set {name}")
    if "QUICK" in names and names["QUICK"] is not False:
        problems.append("parameters cell must set QUICK = False (papermill sets True for CI)")
    return problems


def notebook_problems(path: Path) -> list[str]:
    """Why `path` is not a clean chapter: outputs, execution counts, parameters cell, tags."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    problems = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if cell.get("outputs"):
            problems.append(f"cell {i} has outputs: clear them before committing")
        if cell.get("execution_count") is not None:
            problems.append(f"cell {i} has an execution count: clear outputs before committing")
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    if len(params) != 1:
        problems.append(f"{len(params)} cells are tagged `parameters`; exactly one must be")
    else:
        if params[0].cell_type != "code":
            problems.append("the cell tagged `parameters` is not a code cell")
        if "hide-cell" not in params[0].metadata.get("tags", []):
            problems.append("the `parameters` cell must also be tagged `hide-cell`")
        problems += parameters_problems(params[0].source)
    if "widgets" in nb.metadata:
        problems.append("notebook metadata holds widget state: clear outputs before committing")
    return [f"{path.name}: {p}" for p in problems]


# ---------------------------------------------------------------- execution


@dataclass
class Result:
    name: str
    seconds: float
    error: str | None = None


def kernel_env(jupyter_dir: Path) -> dict[str, str]:
    """Environment whose Jupyter finds a `stylelab` kernel running this very interpreter."""
    spec_dir = jupyter_dir / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python (stylelab)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1))
    env = dict(os.environ)
    # JUPYTER_PATH comes first in Jupyter's search order, so this spec wins.
    env["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(jupyter_dir), env.get("JUPYTER_PATH")]))
    env.setdefault("PYTHONHASHSEED", "0")
    env.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    return env


def _first_line(source: str) -> str:
    lines = [ln for ln in source.splitlines() if ln.strip()]
    return lines[0].strip() if lines else "(empty cell)"


def _plumbing(cell) -> bool:
    """A cell papermill added: injected parameters, or the error banner at the top."""
    tags = cell.metadata.get("tags", [])
    return "injected-parameters" in tags or "papermill-error-cell-tag" in tags


def failure_report(executed: Path) -> tuple[str, str] | None:
    """(which cell, what went wrong) for the first failed or still running cell; None if none.

    The cell index is the one in the source notebook (papermill's own cells not counted),
    so it matches what the author sees in `book/<name>.ipynb`.
    """
    import nbformat

    nb = nbformat.read(executed, as_version=4)
    cells = [c for c in nb.cells if not _plumbing(c)]
    for i, cell in enumerate(cells):
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        status = cell.metadata.get("papermill", {}).get("status")
        if errors or status == "running":
            where = f"cell {i} (`{_first_line(cell.source)}`)"
            if not errors:
                return where, "was still running"
            err = errors[0]
            tail = ANSI.sub("", "\n".join(err.get("traceback", [])[-3:]))
            return where, f"raised {err['ename']}: {err['evalue']}\n{tail}"
    return None


def tag_injected_cells(executed: Path) -> None:
    """Hide papermill's injected-parameters cell in the page, like the `parameters` cell."""
    import nbformat

    nb = nbformat.read(executed, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "injected-parameters" in tags and "hide-cell" not in tags:
            tags.append("hide-cell")
    nbformat.write(nb, executed)


def use_atomic_saves() -> None:
    """Make papermill save notebooks by write-then-rename instead of truncate-then-write.

    papermill saves the output notebook as each cell starts and ends; a run killed for its
    total time (below) could land inside a save and leave an empty file, and then nobody can
    say which cell was running. After a rename the file is always the old or the new notebook.
    """
    import papermill.iorw

    def write(self, buf: str, path: str) -> None:
        with papermill.iorw.chdir(self._cwd):
            saving = f"{path}{SAVING_SUFFIX}"
            with open(saving, "w", encoding="utf-8") as f:
                f.write(buf)
            os.replace(saving, path)

    papermill.iorw.LocalHandler.write = write


def papermill_main() -> None:
    """papermill's command line, with atomic saves; `execute` runs it in a subprocess."""
    from papermill.cli import papermill

    use_atomic_saves()
    papermill()


def execute(notebook: Path, quick: bool, timeout: float, env: dict[str, str]) -> Result:
    """Run `notebook` in place (it is a copy under the build tree) with papermill."""
    name = notebook.name
    work = notebook.with_suffix(".running.ipynb")
    shutil.copy2(notebook, work)
    cmd = [
        sys.executable, "-c", "from stylelab.book import papermill_main; papermill_main()",
        str(work), str(notebook),
        "-y", json.dumps({"QUICK": quick}),
        "-k", KERNEL_NAME, "--cwd", str(notebook.parent),
        "--execution-timeout", str(int(timeout)),
        "--no-progress-bar", "--no-log-output",
    ]  # fmt: skip
    start = time.perf_counter()
    # A new session, so a timeout kills papermill and its kernel together.
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        log, _ = proc.communicate(timeout=timeout + KILL_GRACE)
    except subprocess.TimeoutExpired:
        # Cells each under the limit, but together over it: papermill saved the notebook
        # when the current cell started, so the report can still say which cell it was.
        os.killpg(proc.pid, 9)
        log, _ = proc.communicate()
    finally:
        work.unlink(missing_ok=True)
        Path(f"{notebook}{SAVING_SUFFIX}").unlink(missing_ok=True)  # a save cut off by the kill
    seconds = time.perf_counter() - start
    report = failure_report(notebook)
    if proc.returncode == 0 and report is None:
        tag_injected_cells(notebook)
        return Result(name, seconds)
    where = report[0] if report else "before the first cell"
    if "CellTimeoutError" in log:
        return Result(name, seconds, f"{name}: timed out ({timeout:.0f} s limit) in {where}")
    if proc.returncode < 0:  # killed above: every cell was under the limit, the sum was not
        total = f"over its {timeout + KILL_GRACE:.0f} s in total"
        return Result(name, seconds, f"{name}: {total}, killed in {where}")
    if report:
        return Result(name, seconds, f"{name}: {report[0]} {report[1]}")
    tail = "\n".join(log.strip().splitlines()[-15:])
    return Result(name, seconds, f"{name}: papermill failed (exit {proc.returncode}):\n{tail}")


# ---------------------------------------------------------------- HTML


def build_html(src_dir: Path, output: Path) -> Path:
    """`jupyter-book build` of `src_dir` into `output/_build/html`; returns that folder."""
    cmd = [
        sys.executable, "-c", "from jupyter_book.cli.main import main; main()",
        "build", str(src_dir), "--path-output", str(output), "--builder", "html", "--all",
    ]  # fmt: skip
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    warnings = [ln for ln in proc.stdout.splitlines() if "WARNING" in ln or "ERROR" in ln]
    for line in warnings:
        print(f"  sphinx: {line}")
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.strip().splitlines()[-25:])
        raise StylelabError(f"jupyter-book build failed (exit {proc.returncode}):\n{tail}")
    return output / "_build" / "html"


# Classes MyST-NB gives error outputs; "traceback" also matches ipythontb highlighting.
ERROR_CLASSES = ("traceback", "output_error", "output-error", "error")
EXTERNAL = re.compile(r"^(https?:)?//", re.IGNORECASE)


def _output_problems(soup) -> list[str]:
    problems = []
    for div in soup.select("div.output, div.cell_output > div"):
        classes = set(div.get("class", []))
        text = div.get_text(" ", strip=True)
        if classes & set(ERROR_CLASSES) or "Traceback (most recent call last)" in text:
            problems.append(f"error output: {text[:300]}")
        elif "stderr" in classes and re.search(r"\b\w*Error\b|Exception", text):
            problems.append(f"stderr output that reads like an error: {text[:300]}")
    return problems


def _asset_problems(soup) -> list[str]:
    problems, scripts = [], []
    for tag, attr in (("script", "src"), ("link", "href"), ("img", "src")):
        for node in soup.find_all(tag):
            url = node.get(attr) or ""
            if tag == "link" and "stylesheet" not in (node.get("rel") or []):
                continue
            if EXTERNAL.match(url):
                problems.append(f"loads <{tag}> from outside: {url} (vendor it into book/_vendor)")
            if tag == "script" and url:
                scripts.append(url.split("?")[0])
    # Jupyter Book adds every .js under book/_static/ to every page; see book/_config.yml.
    for url in sorted({u for u in scripts if scripts.count(u) > 1}):
        problems.append(f"loads {url} {scripts.count(url)} times (is there a book/_static/?)")
    return problems


def _widget_problems(soup) -> list[str]:
    """Widget views whose state is not embedded render as nothing in the static page."""
    views = soup.find_all("script", type="application/vnd.jupyter.widget-view+json")
    if not views:
        return []
    state_tag = soup.find("script", type="application/vnd.jupyter.widget-state+json")
    state = json.loads(state_tag.string).get("state", {}) if state_tag else {}
    missing = [json.loads(v.string)["model_id"] for v in views]
    missing = [m for m in missing if m not in state]
    if missing:
        return [
            f"{len(missing)} widget(s) without embedded state (was the notebook run by papermill?)"
        ]
    return []


def page_problems(page: Path) -> list[str]:
    """Error outputs, external or doubled assets, and widgets without state in one page."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
    return _output_problems(soup) + _asset_problems(soup) + _widget_problems(soup)


def scan_html(html_dir: Path) -> list[str]:
    """Problems in every page of the built book, each prefixed with its page."""
    if not (html_dir / "index.html").is_file():
        raise StylelabError(f"no built book at {html_dir}: run `stylelab book build` first")
    problems = []
    for page in sorted(html_dir.glob("*.html")):
        if page.name in ("genindex.html", "search.html"):
            continue
        problems += [f"{page.name}: {p}" for p in page_problems(page)]
    return problems


# ---------------------------------------------------------------- commands


def _print_results(results: list[Result]) -> None:
    print("\nnotebook timings:")
    for r in results:
        print(f"  {r.name:40s} {r.seconds:7.1f} s  {'FAILED' if r.error else 'ok'}")


def run_pipeline(
    book_dir: Path,
    output: Path,
    quick: bool = False,
    timeout: float | None = None,
    only: str | None = None,
    build: bool = True,
) -> int:
    """Check, copy, execute, build and scan; prints a report, returns the exit status."""
    timeout = timeout or DEFAULT_TIMEOUT[quick]
    sources = resolve_toc(book_dir)
    notebooks = [p for p in sources if p.suffix == ".ipynb"]
    problems = [p for nb in notebooks for p in notebook_problems(nb)]
    if problems:
        raise StylelabError("chapters are not clean:\n  " + "\n  ".join(problems))
    if only is not None:
        stem = Path(only).stem
        notebooks = [p for p in notebooks if p.stem == stem]
        if not notebooks:
            raise StylelabError(
                f"--only {only}: no notebook of that name in {book_dir / '_toc.yml'}"
            )

    build_dir = output / "_build"
    src_dir = build_dir / "book-src"
    shutil.rmtree(src_dir, ignore_errors=True)
    if build:  # no stale pages from an earlier build if this one fails
        shutil.rmtree(build_dir / "html", ignore_errors=True)
    shutil.copytree(
        book_dir, src_dir, ignore=shutil.ignore_patterns("_build", ".ipynb_checkpoints")
    )
    env = kernel_env(build_dir / "jupyter")

    mode = "quick" if quick else "full"
    print(f"executing {len(notebooks)} notebook(s) in {mode} mode (timeout {timeout:.0f} s each)")
    results = []
    for nb in notebooks:
        print(f"  {nb.name} ...", flush=True)
        result = execute(src_dir / nb.name, quick, timeout, env)
        print(
            f"  {nb.name}: {'FAILED' if result.error else 'ok'} in {result.seconds:.1f} s",
            flush=True,
        )
        results.append(result)
        if result.error:
            _print_results(results)
            print(f"\nFAILED: {result.error}", file=sys.stderr)
            print(f"executed notebook (full traceback): {src_dir / nb.name}", file=sys.stderr)
            return 1
    _print_results(results)
    if not build:
        print(f"executed notebooks: {src_dir}")
        return 0
    if only is not None:
        print(f"note: --only {only}: the other chapters are built without outputs")

    start = time.perf_counter()
    html_dir = build_html(src_dir, output)
    print(f"built the HTML in {time.perf_counter() - start:.1f} s")
    return check_html(html_dir)


def check_html(html_dir: Path) -> int:
    problems = scan_html(html_dir)
    if problems:
        print("FAILED: the built book has problems:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    print(f"HTML scan: no error outputs, no external assets\nbook: {html_dir / 'index.html'}")
    return 0


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


def run(args: argparse.Namespace) -> int:
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


def main(argv: list[str] | None = None) -> int:
    from stylelab.cli import main as cli_main

    return cli_main(["book", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
