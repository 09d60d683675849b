"""The supervisors' statistics page in real Chromium against the real stack, over the demo history
that `python -m backend.cli seed-history` loads (with its abnormal SKU, so a red or amber alert shows)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.stack import ROOT, Stack
from tests.web.conftest import SCREENSHOTS, shot

WAIT = 30_000
PASSWORD = "agent-demo-2026"  # the development accounts seed-demo creates


@pytest.fixture(scope="module")
def history(stack: Stack) -> Iterator[None]:
    """40 days of history up to now in the stack's database (replacing any earlier run)."""
    env = {**os.environ, **stack.env, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([str(ROOT / ".venv/bin/python"), "-m", "backend.cli", "seed-history", "--days", "40",
                           "--per-day", "8", "--seed", "7", "--replace"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    yield


def open_stats(browser: Browser, stack: Stack, width: int = 1440, height: int = 900) -> Page:
    page = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN").new_page()
    page.goto(f"{stack.backend_url}/stats/")
    return page


def log_in(page: Page, username: str) -> None:
    expect(page.locator("#login-view")).to_be_visible(timeout=WAIT)
    page.locator("#login-username").fill(username)
    page.locator("#login-password").fill(PASSWORD)
    page.locator("#login-submit").click()


def loaded(page: Page) -> None:
    expect(page.locator("#main")).to_have_attribute("aria-busy", "false", timeout=WAIT)


def test_a_supervisor_sees_the_charts_and_the_refund_rate_alert_and_switches_to_months(
        browser: Browser, stack: Stack, history: None) -> None:
    page = open_stats(browser, stack)
    log_in(page, "agent")
    loaded(page)
    expect(page.locator("#me-name")).to_contain_text("演示主管")

    alert = page.locator('.alert[data-kind="sku_refund_rate"]')
    expect(alert).to_have_count(1)
    expect(alert).to_contain_text("X1 无线蓝牙耳机")
    expect(alert).to_contain_text("EARBUDS-X1")
    assert alert.get_attribute("data-level") in ("warning", "critical")

    for tile in ("volume", "refund", "review", "resolution", "sla", "handoff", "rating"):
        expect(page.locator(f"#kpi-{tile}")).to_be_visible()
    expect(page.locator("#kpi-review")).to_contain_text("标准24h")
    bars = page.locator("#c-volume svg rect.seg-rect")
    assert bars.count() > 40  # 40 days, several reasons a day
    assert "件" in (page.locator("#c-volume svg rect.seg-rect title").first.text_content() or "")
    expect(page.locator("#c-volume-legend li").filter(has_text="质量问题")).to_have_count(1)
    expect(page.locator("#c-refund svg path")).to_have_count(2)  # the area and the line
    assert page.locator("#c-remedy svg circle.arc").count() >= 4
    assert page.locator("#c-status svg .hbar").count() >= 4
    assert page.locator("#c-sla svg .hbar").count() >= 3
    expect(page.locator("#c-rating svg rect.seg-rect")).to_have_count(5)
    page.screenshot(path=str(SCREENSHOTS / "stats-desktop.png"), full_page=True)
    shot(page, "stats-desktop-top")

    page.locator("#g-month").click()
    expect(page.locator("#g-month")).to_have_attribute("aria-checked", "true")
    loaded(page)
    expect(page.locator("#c-volume-sub")).to_contain_text("逐月")
    assert "granularity=month" in page.url
    months = page.locator("#c-volume svg .ax text").filter(has_text="月")
    assert 1 <= months.count() <= 3  # 40 days touch two or three months
    expect(page.locator(".alert")).not_to_have_count(0)  # alerts describe now, whatever the range
    page.screenshot(path=str(SCREENSHOTS / "stats-month.png"), full_page=True)

    page.locator(".chip[data-days='7']").click()
    loaded(page)
    expect(page.locator("#g-month")).to_have_attribute("aria-checked", "true")
    page.locator("#g-day").click()
    loaded(page)
    assert page.locator("#c-volume svg .hover-band").count() == 7


def test_the_page_asks_for_a_login_and_refuses_an_ordinary_agent(browser: Browser, stack: Stack) -> None:
    page = open_stats(browser, stack)
    expect(page.locator("#login-view")).to_be_visible(timeout=WAIT)
    expect(page.locator("#login-view a[href='/console/']")).to_be_visible()
    log_in(page, "kefu")
    expect(page.locator("#denied-view")).to_be_visible(timeout=WAIT)
    expect(page.locator("#denied-view")).to_contain_text("只有主管可以查看")
    expect(page.locator("#app-view")).to_be_hidden()


def test_the_page_fits_a_phone(browser: Browser, stack: Stack, history: None) -> None:
    page = open_stats(browser, stack, width=390, height=844)
    log_in(page, "agent")
    loaded(page)
    expect(page.locator(".alert").first).to_be_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
    page.screenshot(path=str(SCREENSHOTS / "stats-390px.png"), full_page=True)
