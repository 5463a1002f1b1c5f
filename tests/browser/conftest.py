"""Real-browser tests: Debian's chromium driven by Playwright, against pytest-django's live server.

`playwright install` cannot download browsers here, so the system chromium is passed as the
executable. When it is missing the tests skip with a loud reason, or fail on CI
(REQUIRE_SERVICES=1), where .ci/run installs it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import require_services

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        reason = f"BROWSER TESTS SKIPPED: no chromium at {CHROMIUM} (apt-get install chromium)"
        if require_services():
            pytest.fail(reason)
        pytest.skip(reason)
    # Playwright's sync API runs its own event loop; Django must allow ORM calls from the test.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.console_messages = []  # type: ignore[attr-defined]
    page.on("console", lambda msg: page.console_messages.append(msg))  # CSP reports land here
    yield page
    context.close()
