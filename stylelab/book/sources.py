"""The book's sources: the table of contents and the chapters' notebooks, checked before a run.

Every `_toc.yml` entry's file must exist (a missing chapter is an error, not a silently
shorter book), and every chapter must be clean: no outputs, one `parameters` cell of
plain literals that sets at least QUICK, SEED and DEVICE.
"""

from __future__ import annotations

import ast
from pathlib import Path

from stylelab.core.errors import StylelabError

# Every chapter's `parameters` cell must set these (papermill overrides QUICK).
REQUIRED_PARAMETERS = ("QUICK", "SEED", "DEVICE")


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
