"""Browser tests: Debian's Chromium driven by Playwright against the real stack (gateway in the case
backend, Rasa server, action server). Screenshots land in var/artifacts/screenshots."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.support.stack import ROOT, Chat, Stack

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = ROOT / "var" / "artifacts" / "screenshots"
# Chromium as root, headless, and kept off the (closed) network: no background calls to Google.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: scripts/setup-browser.sh installs it")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def buyer(stack: Stack) -> Chat:
    """A buyer of their own (orders through the order feed API), so tests never see each other's cases."""
    buyer_id = f"b_{uuid.uuid4().hex[:10]}"
    return Chat(stack, sender=f"web:{buyer_id}", buyer_id=buyer_id)


def shot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path
