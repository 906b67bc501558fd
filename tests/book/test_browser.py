"""The built pages in headless Chromium, offline: sliders move, math renders, nothing external,
and every chapter reads cleanly at 1280 px (stylelab.book.page_audit): no display equation
wider than its box, no code block that scrolls sideways, no wide figure shrunk below 60%, no
stderr or traceback block, no progress bar, no JavaScript or console error.

Chromium is Debian's (`/usr/bin/chromium`, `make test` installs it with apt-get),
driven by Playwright's Python package with `executable_path`, so no browser is
downloaded. Pages are served from a loopback http.server; every request that is
not to it is aborted and recorded, and the test fails on any.

Two books are checked:
- the demo book (tests/fixtures/slider_demo.ipynb, built here): the machinery works;
- the real book in `_build/html` (or $STYLELAB_BOOK_HTML), built by `make test`
  before this runs: every page in `book/_toc.yml` is audited, and every page with a frame
  slider has its slider moved. Without a built
  book this skips, unless STYLELAB_REQUIRE_BOOK=1 (set by `make test`): then it fails.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import ROOT

pytest.importorskip("bs4", reason="the book extra: pip install -e '.[book]'")
from stylelab.book.page_audit import (
    CHROMIUM_ARGS,
    COUNTS,
    audit_book,
    audit_page,
    open_offline,
    serve,
)

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("STYLELAB_CHROMIUM", "/usr/bin/chromium")
REQUIRE_BOOK = os.environ.get("STYLELAB_REQUIRE_BOOK") == "1"


def missing(reason: str):
    """Skip, or fail where `make test` promised the thing would be there."""
    if REQUIRE_BOOK:
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        missing(f"no Chromium at {CHROMIUM}: `apt-get install chromium` (make test does)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def move_slider(widget, page, page_name: str, number: int) -> None:
    """Click the far end of one slider's track: its frame and its label must change."""
    widget.scroll_into_view_if_needed(timeout=30_000)
    track = widget.locator(".noUi-base")
    image = widget.locator("img.widget-image")
    readout = widget.locator("code")
    before = (image.get_attribute("src"), readout.inner_text(), image.screenshot())

    # A click near the far end of the track (from where the handle starts: a chapter may
    # open a slider on its last frame) jumps the slider to the first or last frame.
    box = track.bounding_box()
    handle = widget.locator(".noUi-handle").first.bounding_box()
    handle_centre = handle["x"] + handle["width"] / 2 - box["x"]
    far_end = 0.01 if handle_centre > box["width"] / 2 else 0.99
    track.click(position={"x": box["width"] * far_end, "y": box["height"] / 2})
    try:
        page.wait_for_function(
            "([el, src]) => el.getAttribute('src') !== src",
            arg=[image.element_handle(), before[0]],
            timeout=10_000,
        )
    except Exception as err:  # playwright's TimeoutError; say what it means here
        pytest.fail(
            f"{page_name}, slider {number}: a click on the track did not change the frame ({err})"
        )
    after = (image.get_attribute("src"), readout.inner_text(), image.screenshot())
    assert after[1] != before[1], f"slider {number}: the label beside it did not change"
    assert after[2] != before[2], f"slider {number}: the frame shown did not change on screen"


def check_page(browser, base: str, page_name: str) -> int:
    """Open the page offline, check math and errors, move every slider; returns how many."""
    page, external, errors = open_offline(browser, base + page_name, base)
    sliders = page.locator(".stylelab-frame-slider")
    sliders.first.wait_for(timeout=30_000)
    count = sliders.count()
    for number in range(count):
        move_slider(sliders.nth(number), page, page_name, number + 1)

    if page.locator(".math").count():
        # attached, not visible: the first formula may sit in a collapsed (hidden) cell
        page.wait_for_selector("mjx-container", state="attached", timeout=30_000)
        assert page.locator("mjx-merror").count() == 0, "MathJax could not typeset some math"
    page.close()
    assert external == [], f"{page_name} requested outside the machine: {external}"
    assert errors == [], f"{page_name} raised JavaScript errors: {errors}"
    return count


def test_demo_slider_moves_offline(browser, demo_book):
    server, base = serve(demo_book / "_build" / "html")
    try:
        check_page(browser, base, "slider_demo.html")
    finally:
        server.shutdown()


# chapter -> the sliders its issue promised (attention: one over queries, one over block sizes)
PROMISED_SLIDERS = {
    "style_as_statistics": 1,
    "attention": 2,
    "scanning_an_image": 1,
    "rwkv_for_images": 1,
    "painting_from_words": 1,
}


def book_pages_with_sliders(html_dir: Path) -> list[str]:
    return sorted(
        p.name for p in html_dir.glob("*.html") if "stylelab-frame-slider" in p.read_text()
    )


def built_book() -> Path:
    html_dir = Path(os.environ.get("STYLELAB_BOOK_HTML", ROOT / "_build" / "html"))
    if not (html_dir / "index.html").is_file():
        missing(f"the book is not built at {html_dir}: run `make test` or `stylelab book build`")
    return html_dir


def test_book_sliders_move_offline(browser):
    from stylelab.book.sources import toc_files

    html_dir = built_book()
    pages = book_pages_with_sliders(html_dir)
    chapters = toc_files(ROOT / "book")
    promised = {k: n for k, n in PROMISED_SLIDERS.items() if k in chapters}
    for name in promised:  # chapters promised to have sliders must not lose them unnoticed
        assert f"{name}.html" in pages, f"{name}'s page has no frame slider"
    if not pages:
        pytest.skip("no chapter in the built book has a frame slider yet")
    server, base = serve(html_dir)
    try:
        for page_name in pages:
            moved = check_page(browser, base, page_name)
            least = promised.get(page_name.removesuffix(".html"), 1)
            assert moved >= least, f"{page_name}: {moved} slider(s) moved, {least} promised"
    finally:
        server.shutdown()


def test_every_page_reads_cleanly_at_1280px(browser):
    """Every page in _toc.yml, present and future: see stylelab.book.page_audit."""
    from stylelab.book.sources import toc_files

    html_dir = built_book()
    pages = [f"{name}.html" for name in toc_files(ROOT / "book")]
    absent = [p for p in pages if not (html_dir / p).is_file()]
    assert not absent, f"pages in _toc.yml missing from the built book: {absent}"
    report = audit_book(browser, html_dir, pages)
    problems = [
        f"{page}: {kind}: {item}"
        for page, found in report.items()
        for kind in (*COUNTS, "page_errors", "external")
        for item in found[kind]
    ]
    assert not problems, f"{len(problems)} problem(s) a reader would see:\n" + "\n".join(problems)


def test_the_audit_finds_each_kind_of_problem(browser, tmp_path):
    """Each detector of page_audit fires on a page built to have exactly one of each."""
    from PIL import Image

    Image.new("RGB", (1000, 50), "white").save(tmp_path / "wide.png")
    (tmp_path / "page.html").write_text(
        """<html><body><div style="width: 400px">
        <mjx-container display="true" style="display: block; width: 400px; overflow: hidden">
          <mjx-math style="display: inline-block; width: 700px">x</mjx-math></mjx-container>
        <pre style="overflow-x: auto">"""
        + "x = 1  # " + "a very long line " * 20
        + """</pre>
        <img src="wide.png" alt="a wide figure" style="width: 300px">
        <div class="output stderr"><pre>a warning</pre></div>
        <div class="widget-hprogress">100%</div>
        </div><script>undefined_function()</script></body></html>"""
    )  # fmt: skip
    server, base = serve(tmp_path)
    try:
        page, external, errors = open_offline(browser, base + "page.html", base)
        found = audit_page(page)
        page.close()
    finally:
        server.shutdown()
    assert {kind: len(found[kind]) for kind in COUNTS} == dict.fromkeys(COUNTS, 1)
    assert "1000 px shown at 300 px (30%): a wide figure" in found["shrunk_images"][0]
    assert len(errors) == 1 and "undefined_function" in errors[0]
    assert external == []
