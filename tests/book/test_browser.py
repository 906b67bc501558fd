"""The built pages in headless Chromium, offline: sliders move, math renders, nothing external.

Chromium is Debian's (`/usr/bin/chromium`, `make test` installs it with apt-get),
driven by Playwright's Python package with `executable_path`, so no browser is
downloaded. Pages are served from a loopback http.server; every request that is
not to it is aborted and recorded, and the test fails on any.

Two books are checked:
- the demo book (tests/fixtures/slider_demo.ipynb, built here): the machinery works;
- the real book in `_build/html` (or $STYLELAB_BOOK_HTML), built by `make test`
  before this runs: every chapter page that has a frame slider. Without a built
  book this skips, unless STYLELAB_REQUIRE_BOOK=1 (set by `make test`): then it fails.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from pathlib import Path

import pytest
from conftest import ROOT

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("STYLELAB_CHROMIUM", "/usr/bin/chromium")
# The flags that keep Chromium quiet on a machine with no network (see README).
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
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


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(directory: Path):
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}/"


def check_page(browser, base: str, page_name: str) -> None:
    """Open the page offline, check math and errors, then move its first slider."""
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    external, errors = [], []

    def only_loopback(route):
        url = route.request.url
        if url.startswith((base, "data:", "blob:")):
            route.continue_()
        else:
            external.append(url)
            route.abort()

    page.route("**/*", only_loopback)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(base + page_name, wait_until="load")
    widget = page.locator(".stylelab-frame-slider").first
    widget.wait_for(timeout=30_000)
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
        pytest.fail(f"{page_name}: a click on the slider's track did not change the frame ({err})")
    after = (image.get_attribute("src"), readout.inner_text(), image.screenshot())
    assert after[1] != before[1], "the label beside the slider did not change"
    assert after[2] != before[2], "the frame shown did not change on screen"

    if page.locator(".math").count():
        # attached, not visible: the first formula may sit in a collapsed (hidden) cell
        page.wait_for_selector("mjx-container", state="attached", timeout=30_000)
        assert page.locator("mjx-merror").count() == 0, "MathJax could not typeset some math"
    page.close()
    assert external == [], f"{page_name} requested outside the machine: {external}"
    assert errors == [], f"{page_name} raised JavaScript errors: {errors}"


def test_demo_slider_moves_offline(browser, demo_book):
    server, base = serve(demo_book / "_build" / "html")
    try:
        check_page(browser, base, "slider_demo.html")
    finally:
        server.shutdown()


def book_pages_with_sliders(html_dir: Path) -> list[str]:
    return sorted(
        p.name for p in html_dir.glob("*.html") if "stylelab-frame-slider" in p.read_text()
    )


def test_book_sliders_move_offline(browser):
    from stylelab.book.sources import toc_files

    html_dir = Path(os.environ.get("STYLELAB_BOOK_HTML", ROOT / "_build" / "html"))
    if not (html_dir / "index.html").is_file():
        missing(f"the book is not built at {html_dir}: run `make test` or `stylelab book build`")
    pages = book_pages_with_sliders(html_dir)
    if "style_as_statistics" in toc_files(ROOT / "book"):
        # Chapter 1 is the one promised to have sliders; it must not lose them unnoticed.
        assert "style_as_statistics.html" in pages, "chapter 1's page has no frame slider"
    if not pages:
        pytest.skip("no chapter in the built book has a frame slider yet")
    server, base = serve(html_dir)
    try:
        for page_name in pages:
            check_page(browser, base, page_name)
    finally:
        server.shutdown()
