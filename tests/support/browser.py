"""Browser tests: Playwright (Python, sync API) driving the machine's own Chromium, headless.

No browser is ever downloaded: Playwright launches Debian's `chromium` package by `executable_path`
(`FULFILLSYNC_CHROMIUM`, else `chromium` on PATH, else /usr/bin/chromium). `make test` installs that package with
the machine's package manager when it is missing (the Makefile's `browser` target); `playwright install` is never
run. A test asking for `page` is skipped, with the reason, only when no Chromium executable exists; one that exists
but does not start fails the test.

Fixtures (registered for every test by `tests/conftest.py`):
- `browser`: one headless Chromium per test module (stopped after it, so Playwright's own event loop never
  outlives the module and meets pytest-asyncio's);
- `page`: a new page in a fresh browser context (its own cookies and storage) per test.
Each launch gets a fresh, empty profile: Playwright passes its own temporary `--user-data-dir`.

Playwright's sync API runs an event loop in the test's thread, so `asyncio.run` (e.g. `Store.act` of the simulated
stores) cannot be called there while a browser is open: `beside_playwright` runs such a call in another thread.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM_ARGS = (
    "--no-sandbox",  # the tests run as root here, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # no traffic but to the page under test: the machine's network is closed, and each refused connection costs
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
DEFAULT_TIMEOUT_MS = 15_000
T = TypeVar("T")


def chromium_executable() -> Path | None:
    """The Chromium the tests drive, or None when none is installed."""
    configured = os.environ.get("FULFILLSYNC_CHROMIUM")
    if configured:
        return Path(configured) if Path(configured).is_file() else None
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return Path(found)
    default = Path("/usr/bin/chromium")
    return default if default.is_file() else None


def beside_playwright(call: Callable[[], T]) -> T:
    """`call()` in a thread of its own (where `asyncio.run` works while Playwright's loop runs in this one); its
    result, or its exception raised here."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """A headless Chromium for the tests of one module; skips them when Chromium is not installed."""
    executable = chromium_executable()
    if executable is None:
        pytest.skip("no Chromium to drive: `make test` installs Debian's `chromium` package (apt-get) and could not "
                    "here; install it, or point FULFILLSYNC_CHROMIUM at a Chromium executable")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True, args=list(CHROMIUM_ARGS))
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page in a browser context of its own (cookies are not shared between tests); actions and waits time out
    after `DEFAULT_TIMEOUT_MS`."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()
