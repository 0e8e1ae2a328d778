"""The built site in a real browser, offline: Debian's Chromium, headless, driven by Playwright.

The site is served from the book that tests/conftest.py's ``built_book`` fixture built (no
second build) by a stdlib HTTP server on 127.0.0.1, and every request to any other host is
aborted, so a script, style or font still fetched from a CDN fails the test. For each page in
_toc.yml: the page loads with no failed request and no JavaScript error; every piece of math is
typeset by MathJax; every widget is rendered once, and moving each of its sliders (with the
keyboard, as a reader would) changes the image it shows. A screenshot of each page is saved
under ``<build>/screenshots/`` for inspection.

Chromium is Debian's ``/usr/bin/chromium`` (``REGUTILS_CHROMIUM`` overrides the path); the
test never downloads a browser. Without Chromium the test is skipped, except under CI (``CI``
set), where it fails: .ci/run installs it.
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest
from test_book import toc_files

CHROMIUM = Path(os.environ.get("REGUTILS_CHROMIUM", "/usr/bin/chromium"))
# Headless as root needs --no-sandbox; the rest keeps Chromium from calling home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SERVED_HOST = "127.0.0.1"
# console.error messages that are not failures, each with the reason.
KNOWN_CONSOLE_ERRORS = {
    # pydata-sphinx-theme on a first visit, before a light/dark choice is stored; it then
    # uses "auto", which is what the page asks for
    "Got invalid theme mode: . Resetting to auto.",
}
TIMEOUT_MS = 30_000

pytestmark = [pytest.mark.slow, pytest.mark.book]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # one line per request would bury pytest's output
        pass


@pytest.fixture(scope="module")
def site(built_book):
    """Base URL of the built site, served on 127.0.0.1 from a background thread."""
    handler = functools.partial(_QuietHandler, directory=str(built_book / "html"))
    server = http.server.ThreadingHTTPServer((SERVED_HOST, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://{SERVED_HOST}:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.is_file():
        message = f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class PageLog:
    """What went wrong while a page loaded and was used."""

    def __init__(self):
        self.outside: list[str] = []  # requests to other hosts, aborted
        self.failed: list[str] = []
        self.errors: list[str] = []

    def route(self, route):
        url = urlparse(route.request.url)
        if url.scheme in ("http", "https", "ws", "wss") and url.hostname != SERVED_HOST:
            self.outside.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    def attach(self, page):
        page.on("requestfailed", lambda r: self.failed.append(f"{r.url}: {r.failure}"))
        page.on(
            "response",
            lambda r: r.status >= 400 and self.failed.append(f"{r.url}: HTTP {r.status}"),
        )
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        page.on(
            "console",
            lambda m: m.type == "error"
            and not m.text.startswith("Failed to load resource")  # in `failed` already
            and m.text not in KNOWN_CONSOLE_ERRORS
            and self.errors.append(f"console.error: {m.text}"),
        )

    def check(self, doc):
        assert not self.outside, f"{doc}: requests outside the site: {self.outside}"
        assert not self.failed, f"{doc}: failed requests: {self.failed}"
        assert not self.errors, f"{doc}: JavaScript errors: {self.errors}"


# The SHA-256 of the bytes of every visible <img> under `root`, in document order: two frames
# of a widget are different pictures even when the browser reuses an element or a blob: URL.
VISIBLE_IMAGES_JS = """
async (root) => {
  const hex = (buf) =>
    Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");
  const shown = Array.from(root.querySelectorAll("img")).filter(
    (img) => img.offsetParent !== null && img.getBoundingClientRect().width > 0);
  const out = [];
  for (const img of shown) {
    const bytes = await (await fetch(img.src)).arrayBuffer();
    out.push(hex(await crypto.subtle.digest("SHA-256", bytes)));
  }
  return out;
}
"""

MATH_TYPESET_JS = """
() => Array.from(document.querySelectorAll(".math"))
  .every((el) => el.querySelector("mjx-container"))
"""


def check_math(page, doc):
    n_math = page.locator(".math").count()
    if n_math == 0:
        return
    page.wait_for_function(MATH_TYPESET_JS, timeout=TIMEOUT_MS)
    assert page.locator("mjx-merror").count() == 0, f"{doc}: MathJax reports a TeX error"
    assert page.locator(".math mjx-container").count() >= n_math


def check_widgets(page, doc):
    # html-manager renders each embedded view into a .widget-subarea just before its
    # <script type="application/vnd.jupyter.widget-view+json"> tag; a manager loaded twice
    # renders each view twice
    tags = page.locator('script[type="application/vnd.jupyter.widget-view+json"]')
    n_views = tags.count()
    n_rendered = page.locator(".widget-subarea").count()
    assert n_rendered == n_views, f"{doc}: {n_views} widgets, rendered {n_rendered} times"
    for n in range(n_views):
        label = f"{doc}: widget {n + 1}"
        view = tags.nth(n).locator("xpath=preceding-sibling::*[1]")
        assert "widget-subarea" in (view.get_attribute("class") or ""), f"{label} not rendered"
        handles = view.locator(".noUi-handle")
        # every control in the book is a slider over precomputed frames; another kind of
        # control needs its own way of being moved here
        assert handles.count() >= 1, f"{label} has no slider"
        for k in range(handles.count()):
            handle = handles.nth(k)
            before = view.evaluate(VISIBLE_IMAGES_JS)
            assert before, f"{label}: no image is shown"
            at_end = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
            handle.focus()
            page.keyboard.press("ArrowLeft" if at_end else "ArrowRight")
            after = view.evaluate(VISIBLE_IMAGES_JS)
            for _ in range(50):  # the frame switches in the browser; give it up to 5 s
                if after != before:
                    break
                page.wait_for_timeout(100)
                after = view.evaluate(VISIBLE_IMAGES_JS)
            assert after != before, f"{label}: moving slider {k + 1} did not change the image"


@pytest.mark.parametrize("doc", toc_files())
def test_page_works_offline(doc, site, browser, built_book):
    log = PageLog()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.route("**/*", log.route)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    log.attach(page)
    try:
        page.goto(site + f"{doc}.html", wait_until="networkidle")
        log.check(doc)
        check_math(page, doc)
        check_widgets(page, doc)
        page.wait_for_load_state("networkidle")
    finally:
        shot = built_book / "screenshots" / f"{doc}.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot), full_page=True)
        context.close()
    log.check(doc)
