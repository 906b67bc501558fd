"""The package keeps its shape: one folder per idea, dependencies pointing one way, small
modules, short notebook cells, and chapters that import the package rather than redefine it.

These read the source (ast, json); they run no model.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import BOOK, ROOT

PACKAGE = ROOT / "stylelab"
MAX_MODULE_LINES = 500
MAX_CELL_LINES = 40  # non-blank lines of one notebook code cell, hidden cells included

# Dependencies point one way: core -> encoders/kernels/... -> mechanisms -> training/bench
# -> cli/book. A mechanism never imports the tooling built on it.
TOOLING = (
    "stylelab.training", "stylelab.bench", "stylelab.metrics", "stylelab.cli", "stylelab.book",
)  # fmt: skip
MECHANISMS = (
    "stylelab.core",
    "stylelab.kernels",
    "stylelab.stats",
    "stylelab.scan_orders",
    "stylelab.encoders",
    "stylelab.paintings",
    "stylelab.nn",
    "stylelab.losses",
    "stylelab.adain",
    "stylelab.attention",
    "stylelab.ssm",
    "stylelab.rwkv",
    "stylelab.text",
)
# What the `book` extra installs: the package and its CLI must work without it.
BOOK_TOOLING = ("papermill", "nbformat", "jupyter_book", "bs4", "yaml", "ipywidgets", "ipykernel")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str) -> set[str]:
    """The stylelab modules `name` imports anywhere in its file (functions included).

    `from stylelab.x import y` counts as importing stylelab.x.y when that is a module,
    else stylelab.x. Parent packages that Python runs on the way are not counted: they
    are not what the code asked for, and a package's __init__ importing its own modules
    would otherwise look like a cycle with every one of them.
    """
    found = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("stylelab")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("stylelab"):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in MODULES else node.module)
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: imports_of(name) for name in MODULES}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None (depth-first search with colours)."""
    colour, stack = {}, []

    def visit(node):
        colour[node] = "grey"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if colour.get(nxt) == "grey":
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in colour and (cycle := visit(nxt)):
                return cycle
        colour[node] = "black"
        stack.pop()
        return None

    for start in sorted(graph):
        if start not in colour and (cycle := visit(start)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycles_even_inside_functions():
    cycle = find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def _within(name: str, packages) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


@pytest.mark.parametrize("name", [m for m in MODULES if _within(m, MECHANISMS)])
def test_mechanisms_never_import_the_tooling_built_on_them(name):
    upward = sorted(m for m in GRAPH[name] if _within(m, TOOLING))
    assert not upward, f"{name} imports {upward}"


@pytest.mark.parametrize("name", [m for m in MODULES if _within(m, ("stylelab.core",))])
def test_core_imports_only_core(name):
    outside = sorted(m for m in GRAPH[name] if not _within(m, ("stylelab.core",)))
    assert not outside, f"{name} imports {outside}"


def test_no_module_over_500_lines():
    long = {n: len(p.read_text().splitlines()) for n, p in MODULES.items()}
    over = {n: k for n, k in long.items() if k > MAX_MODULE_LINES}
    assert not over, f"modules over {MAX_MODULE_LINES} lines: {over}"


def test_the_package_root_holds_folders_not_a_flat_list():
    flat = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert flat == ["__init__.py", "__main__.py", "scan_orders.py", "stats.py"], flat


def _code_cells(notebook: Path):
    cells = json.loads(notebook.read_text())["cells"]
    for index, cell in enumerate(cells):
        if cell["cell_type"] == "code":
            yield index, "".join(cell["source"])


CHAPTERS = sorted(BOOK.glob("*.ipynb"))


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem)
def test_notebook_code_cells_stay_short(notebook):
    long = {
        index: n
        for index, source in _code_cells(notebook)
        if (n := sum(1 for line in source.splitlines() if line.strip())) > MAX_CELL_LINES
    }
    assert not long, f"cells over {MAX_CELL_LINES} non-blank lines (index: lines): {long}"


def _package_names() -> set[str]:
    """Every function and class the package defines at module level."""
    names = set()
    for path in MODULES.values():
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                names.add(node.name)
    return names


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem)
def test_chapters_do_not_redefine_the_package(notebook):
    package = _package_names()
    redefined = set()
    for _, source in _code_cells(notebook):
        try:
            tree = ast.parse(source)
        except SyntaxError:  # IPython magics: not ours to parse
            continue
        defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
        redefined |= defined & package
    assert not redefined, f"{notebook.name} redefines {sorted(redefined)}: import them instead"


def test_reference_loops_live_in_the_package_once():
    """The loops the chapters teach are defined once, in stylelab/kernels/*_reference.py."""
    wanted = {
        "gram_reference",
        "mean_std_reference",
        "adain_reference",
        "selective_scan_reference",
        "wkv_reference",
    }
    where: dict[str, list[str]] = {}
    for name, path in MODULES.items():
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and node.name in wanted:
                where.setdefault(node.name, []).append(name)
    assert set(where) == wanted, f"missing: {wanted - set(where)}"
    for loop, modules in where.items():
        assert len(modules) == 1 and modules[0].endswith("_reference"), (loop, modules)


def test_the_library_imports_none_of_the_book_tooling():
    code = (
        "import sys, stylelab, stylelab.adain, stylelab.ssm, stylelab.rwkv, stylelab.encoders, "
        "stylelab.losses, stylelab.paintings, stylelab.training.zoo, stylelab.cli; "
        f"print([m for m in {BOOK_TOOLING!r} if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout
