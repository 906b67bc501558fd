"""Scan the built HTML book: no error outputs, no stderr or tracebacks, nothing loaded from
outside (the book must render offline), widgets whose state was embedded and no progress bars.

What needs a browser to see (layout: clipped equations, code that scrolls sideways, shrunk
figures) is page_audit.py's, run by the browser test.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from stylelab.core.errors import StylelabError

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
        elif "stderr" in classes:
            # Warnings, log lines and progress bars are noise to a reader; a chapter that
            # means to show a message prints it to stdout or displays it.
            problems.append(f"stderr output: {text[:300]}")
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


# Progress bars (tqdm.auto in a notebook) are frozen at 100% in a static page: noise.
PROGRESS_MODELS = ("FloatProgressModel", "IntProgressModel")


def _widget_problems(soup) -> list[str]:
    """Widget views whose state is not embedded render as nothing in the static page."""
    views = soup.find_all("script", type="application/vnd.jupyter.widget-view+json")
    if not views:
        return []
    state_tag = soup.find("script", type="application/vnd.jupyter.widget-state+json")
    state = json.loads(state_tag.string).get("state", {}) if state_tag else {}
    missing = [json.loads(v.string)["model_id"] for v in views]
    missing = [m for m in missing if m not in state]
    problems = []
    if missing:
        problems.append(
            f"{len(missing)} widget(s) without embedded state (was the notebook run by papermill?)"
        )
    bars = [m for m in state.values() if m.get("model_name") in PROGRESS_MODELS]
    if bars:
        problems.append(f"{len(bars)} progress bar widget(s): pass progress=False in chapters")
    return problems


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
