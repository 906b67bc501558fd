"""The repository keeps its promises: clean chapters, a complete table of contents,
environment.yml in step with pyproject.toml, CI running `make test`, vendored JS intact."""

from __future__ import annotations

import hashlib
import re

import pytest
import yaml
from conftest import BOOK, ROOT

from stylelab.book import sources

CHAPTERS = sorted(BOOK.glob("*.ipynb"))
VENDOR = BOOK / "_vendor"
# 4.9 MB of scripts and MathJax fonts, plus the widget manager's three Font Awesome woff2 (0.17 MB).
MAX_VENDORED_BYTES = 5_200_000


def _name(requirement: str) -> str:
    """PEP 503 normalised project name of a requirement string."""
    name = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement).group(1)
    return re.sub(r"[-_.]+", "-", name).lower()


def _spec(requirement: str) -> str:
    return _name(requirement) + re.sub(r"\s+", "", requirement[len(_name(requirement)) :])


def pyproject_requirements() -> set[str]:
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from 3.11")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project.get("optional-dependencies", {})
    return {
        _spec(r)
        for r in project["dependencies"]
        + extras.get("book", [])
        + extras.get("dev", [])
        + extras.get("text", [])
    }


def environment_requirements() -> set[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    return {_spec(r) for r in pip if not r.startswith("-e")}


def test_environment_yml_lists_what_pyproject_lists():
    in_pyproject, in_env = pyproject_requirements(), environment_requirements()
    assert in_pyproject - in_env == set(), "in pyproject.toml, missing from environment.yml"
    assert in_env - in_pyproject == set(), "in environment.yml, missing from pyproject.toml"


def test_environment_yml_installs_the_package_and_python():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    plain = [d for d in env["dependencies"] if isinstance(d, str)]
    assert any(d.startswith("python") for d in plain) and "pip" in plain
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-e ." in pip


def test_toc_entries_exist():
    toc = sources.resolve_toc(BOOK)  # raises, naming the entry, if a file is missing
    assert toc[0].name == "intro.md"


def test_every_chapter_is_in_the_toc():
    listed = {p.resolve() for p in sources.resolve_toc(BOOK)}
    unlisted = [p.name for p in CHAPTERS if p.resolve() not in listed]
    assert unlisted == [], "chapters missing from book/_toc.yml (they would not be built)"


@pytest.mark.parametrize("notebook", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_is_committed_clean(notebook):
    assert sources.notebook_problems(notebook) == []


def test_ci_runs_make_test():
    run = ROOT / ".ci" / "run"
    lines = [ln.strip() for ln in run.read_text().splitlines()]
    assert lines[0] == "#!/usr/bin/env bash"
    assert "set -euo pipefail" in lines
    assert "make test" in lines
    assert run.stat().st_mode & 0o111, ".ci/run must be executable"


def test_makefile_has_the_two_commands():
    targets = re.findall(r"^([a-z]+):", (ROOT / "Makefile").read_text(), flags=re.MULTILINE)
    assert {"book", "test"} <= set(targets)
    readme = (ROOT / "README.md").read_text()
    assert "make book" in readme and "make test" in readme


def test_book_config_points_at_vendored_js():
    config = yaml.safe_load((BOOK / "_config.yml").read_text())
    assert config["execute"]["execute_notebooks"] == "off"
    sphinx = config["sphinx"]["config"]
    static = sphinx["html_static_path"]
    # _vendor/: third-party files (checked below); _theme/: the book's own stylesheet.
    assert static == ["_vendor", "_theme"]
    assert (BOOK / "_theme" / "stylelab.css").is_file()
    for script in [*sphinx["nb_ipywidgets_js"], sphinx["mathjax_path"]]:
        assert not re.match(r"^(https?:)?//", script), f"{script} is not vendored"
        assert (BOOK / static[0] / script).is_file(), f"{script} missing from book/_vendor"
    # Jupyter Book would add every .js under book/_static/ to every page.
    assert not (BOOK / "_static").exists()


def test_vendored_files_match_their_checksums_and_stay_small():
    entries = [ln.split(maxsplit=1) for ln in (VENDOR / "SHA256SUMS").read_text().splitlines()]
    total = 0
    for digest, name in entries:
        data = (VENDOR / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest, f"{name} differs from SHA256SUMS"
        total += len(data)
    listed = {name for _, name in entries}
    on_disk = {
        p.relative_to(VENDOR).as_posix()
        for p in VENDOR.rglob("*")
        if p.is_file() and p.name not in ("SHA256SUMS", "README.md")
    }
    assert on_disk == listed, "files in book/_vendor not made by scripts/vendor_js.sh"
    assert total < MAX_VENDORED_BYTES
