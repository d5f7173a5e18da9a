"""Headless Chromium for the browser tests: Debian's own binary driven by Playwright.

Playwright never downloads a browser here; it launches /usr/bin/chromium. Every request a page
makes is recorded, and one to any host but the app's is refused and reported.
"""

import os
import shutil
import threading
from pathlib import Path
from urllib.parse import urlsplit

from werkzeug.serving import make_server

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ROOT = Path(__file__).resolve().parent.parent
# Screenshots of every run (gitignored); UPDATE_SCREENSHOTS=1 also refreshes the README's.
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
README_SHOTS = ROOT / "docs" / "screenshots"


def unavailable():
    """Why the browser tests cannot run here, or None."""
    if not os.access(CHROMIUM, os.X_OK):
        return f"browser tests skipped: no Chromium at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "browser tests skipped: playwright is not installed"
    return None


class LiveServer:
    """The app served by Werkzeug on a free loopback port, in a thread of the test process."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.host = urlsplit(self.url).netloc
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        """Stop serving."""
        self.server.shutdown()
        self.thread.join(timeout=10)


class Browser:
    """One Chromium with a fresh profile; `page()` gives a page that records its requests."""

    def __init__(self, host):
        from playwright.sync_api import sync_playwright

        self.host = host
        self.playwright = sync_playwright().start()
        # Playwright gives each launch a new, empty user-data-dir of its own and removes it.
        self.browser = self.playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=ARGS
        )
        self.requests = []
        self.outside = []

    def page(self, viewport=None):
        """A page in a new context (no cookies) whose requests are recorded."""
        context = self.browser.new_context(viewport=viewport or {"width": 1280, "height": 900})
        context.route("**/*", self._guard)
        return context.new_page()

    def _guard(self, route):
        url = route.request.url
        self.requests.append(url)
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob") or parts.netloc == self.host:
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def close(self):
        """Close the browser (its profile goes with it)."""
        self.browser.close()
        self.playwright.stop()


def screenshot(page, name):
    """Save a full-page PNG under test-artifacts/ (and docs/screenshots with UPDATE_SCREENSHOTS)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("UPDATE_SCREENSHOTS"):
        README_SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, README_SHOTS / f"{name}.png")
    return path
