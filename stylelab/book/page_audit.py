"""What a reader sees on a built page, measured in a real browser (Chromium at 1280 px).

`audit_page(page)` runs in a Playwright page that has loaded a chapter and counts what makes
a page hard to read:

    clipped_equations   display equations wider than the box they sit in
    scrolling_code      code blocks (input or output) that scroll sideways
    shrunk_images       images over 900 px wide shown at under 60% of their pixels
    stderr_blocks       stderr and traceback output blocks
    progress_widgets    progress bars (tqdm's notebook widget) left in the page

Each count comes with a short description of every offender, so a failing test says which
formula, cell or figure to fix. `page_weight` adds up the bytes a reader downloads.
`python -m stylelab.book.page_audit [HTML_DIR]` prints the table for every chapter (it needs
Playwright and Chromium, as the browser test does).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import re
import sys
import threading
from pathlib import Path

VIEWPORT = {"width": 1280, "height": 1000}
# The flags that keep Chromium quiet on a machine with no network (see README).
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
# An image this wide (natural pixels) must be shown at >= MIN_SHOWN of it, or its text is unreadable.
WIDE_IMAGE_PX = 900
MIN_SHOWN = 0.6
COUNTS = (
    "clipped_equations", "scrolling_code", "shrunk_images", "stderr_blocks", "progress_widgets",
)  # fmt: skip

# Hidden elements (a folded cell) have no layout and are not counted here: their source lines
# are held to the package's line length by tests/book/test_chapter_sources.py instead.
AUDIT_JS = """
([wideImagePx, minShown]) => {
  const visible = (el) => el.offsetParent !== null && el.getClientRects().length > 0;
  const text = (el) => (el.textContent || "").replace(/\\s+/g, " ").trim().slice(0, 80);
  const out = {clipped_equations: [], scrolling_code: [], shrunk_images: [],
               stderr_blocks: [], progress_widgets: []};
  for (const c of document.querySelectorAll('mjx-container[display="true"]')) {
    const math = c.querySelector("mjx-math");
    if (!visible(c) || !math) continue;
    const inner = math.getBoundingClientRect().width, box = c.getBoundingClientRect().width;
    if (inner > box + 1 || c.scrollWidth > c.clientWidth + 1)
      out.clipped_equations.push(`${Math.round(inner)} px in ${Math.round(box)} px: ` +
        text(c.querySelector("mjx-assistive-mml") || c));
  }
  for (const pre of document.querySelectorAll("pre")) {
    if (visible(pre) && pre.scrollWidth > pre.clientWidth + 1)
      out.scrolling_code.push(`${pre.scrollWidth} px in ${pre.clientWidth} px: ` +
        text(pre));
  }
  for (const img of document.querySelectorAll("img")) {
    if (!visible(img) || img.naturalWidth <= wideImagePx) continue;
    const shown = img.getBoundingClientRect().width;
    if (shown < minShown * img.naturalWidth)
      out.shrunk_images.push(`${img.naturalWidth} px shown at ${Math.round(shown)} px ` +
        `(${Math.round(100 * shown / img.naturalWidth)}%): ` +
        (img.getAttribute("alt") || img.getAttribute("src").slice(0, 60)));
  }
  const errs = document.querySelectorAll(
    ".output.stderr, .output.traceback, .output_error, .output-error, .cell_output .stderr");
  for (const el of errs) out.stderr_blocks.push(text(el));
  for (const el of document.querySelectorAll(".widget-hprogress, .widget-vprogress, progress"))
    out.progress_widgets.push(text(el.parentElement || el));
  return out;
}
"""


def audit_page(page) -> dict[str, list[str]]:
    """Offenders per kind (see the module docstring) on a loaded Playwright page."""
    # Widgets render after load; wait for the embedder to finish before measuring.
    page.wait_for_load_state("networkidle")
    if page.locator(".math").count():
        page.wait_for_selector("mjx-container", state="attached", timeout=30_000)
    return page.evaluate(AUDIT_JS, [WIDE_IMAGE_PX, MIN_SHOWN])


_SRC = re.compile(r"""<img[^>]*\ssrc="([^"]+)\"""")


def page_weight(html: Path) -> dict[str, int]:
    """Bytes of the page's HTML (embedded widget frames included) and of its image files."""
    text = html.read_text(encoding="utf-8")
    images = 0
    for src in set(_SRC.findall(text)):
        path = html.parent / src.split("?")[0]
        if not src.startswith("data:") and path.is_file():
            images += path.stat().st_size
    return {"html_bytes": len(text.encode()), "image_bytes": images}


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(directory: Path):
    """A loopback HTTP server for `directory` on a free port: (server, base URL)."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}/"


def open_offline(browser, url: str, base: str):
    """Open `url` at 1280 px with every request outside `base` aborted.

    Returns (page, external, errors): the lists fill with the aborted URLs and with the
    page's JavaScript errors and console errors as the page runs.
    """
    page = browser.new_page(viewport=VIEWPORT)
    external, errors = [], []

    def only_loopback(route):
        if route.request.url.startswith((base, "data:", "blob:")):
            route.continue_()
        else:
            external.append(route.request.url)
            route.abort()

    page.route("**/*", only_loopback)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    page.on(
        "console",
        lambda m: errors.append(f"console error: {m.text}") if m.type == "error" else None,
    )
    page.goto(url, wait_until="load")
    return page, external, errors


def audit_book(browser, html_dir: Path, pages: list[str]) -> dict[str, dict]:
    """{page: {kind: [offenders], "page_errors": [...], "external": [...], weights}}."""
    server, base = serve(html_dir)
    report = {}
    try:
        for name in pages:
            page, external, errors = open_offline(browser, base + name, base)
            found = audit_page(page)
            page.close()
            report[name] = {**found, "page_errors": errors, "external": external}
            report[name].update(page_weight(html_dir / name))
    finally:
        server.shutdown()
    return report


def format_table(report: dict[str, dict]) -> str:
    """One line per page: the counts, then the weights in KiB."""
    head = ["page", *COUNTS, "page_errors", "html_KiB", "images_KiB"]
    rows = [head]
    for name, r in report.items():
        rows.append(
            [name, *(str(len(r[k])) for k in (*COUNTS, "page_errors"))]
            + [f"{r['html_bytes'] / 1024:.0f}", f"{r['image_bytes'] / 1024:.0f}"]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in rows)


def main(argv: list[str] | None = None) -> int:
    from playwright.sync_api import sync_playwright

    from stylelab.book.sources import toc_files

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("html_dir", nargs="?", type=Path, default=Path("_build/html"))
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--json", type=Path, help="also write the offenders here")
    parser.add_argument("--book", type=Path, default=Path("book"), help="for the page list")
    args = parser.parse_args(argv)
    pages = [f"{name}.html" for name in toc_files(args.book)]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        report = audit_book(browser, args.html_dir, pages)
        browser.close()
    print(format_table(report))
    for name, r in report.items():
        for kind in (*COUNTS, "page_errors", "external"):
            for item in r[kind]:
                print(f"{name}: {kind}: {item}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
