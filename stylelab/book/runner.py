"""The book pipeline behind `stylelab book build|execute|check`.

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

"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from stylelab.book.html_check import scan_html
from stylelab.book.sources import notebook_problems, resolve_toc
from stylelab.core.errors import StylelabError

KERNEL_NAME = "stylelab"
# Seconds per notebook; quick mode must finish in ~2 min on 2 cores, so 10 min means stuck.
DEFAULT_TIMEOUT = {True: 600, False: 3600}
# Extra seconds for kernel start-up and saving before the child process is killed.
KILL_GRACE = 60
# papermill's atomic saves (`use_atomic_saves`) write here first, then rename over the notebook.
SAVING_SUFFIX = ".saving"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


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


def _between_cells(executed: Path) -> str:
    """Where a run stopped when no cell was running: after the last cell that completed."""
    import nbformat

    try:
        cells = [c for c in nbformat.read(executed, as_version=4).cells if not _plumbing(c)]
    except Exception:  # no notebook saved yet
        return "before the first cell"
    done = [
        i
        for i, c in enumerate(cells)
        if c.metadata.get("papermill", {}).get("status") == "completed"
    ]
    return f"between cells, after cell {done[-1]}" if done else "before the first cell"


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
        sys.executable, "-c", "from stylelab.book.runner import papermill_main; papermill_main()",
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
    where = report[0] if report else _between_cells(notebook)
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
