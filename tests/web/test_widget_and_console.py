"""A buyer in the web widget and an agent in the console, in real Chromium, against the real stack."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.support import media
from tests.support.stack import Chat, Stack
from tests.web.conftest import shot

CASE_ID = re.compile(r"AS[0-9]{10,14}")
XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'
WAIT = 30_000  # ms: a bot turn with actions and backend calls, on a loaded 2-core machine


def open_widget(browser: Browser, stack: Stack, buyer: Chat, width: int = 1280, height: int = 800) -> Page:
    page = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN").new_page()
    page.goto(f"{stack.backend_url}/shop/?buyer={buyer.buyer_id}&open=1")
    expect(page.locator(".asw-panel")).to_be_visible(timeout=WAIT)
    return page


def say(page: Page, text: str) -> None:
    page.locator(".asw-input").fill(text)
    page.locator(".asw-send").click()


def last_message(page: Page, author: str) -> str:
    return page.locator(f".asw-msg[data-author={author}]").last.inner_text()


def files(tmp: Path) -> list[str]:
    paths = []
    for name, data in (("sole-left.png", media.png("red", (320, 240))), ("sole-right.jpg", media.jpeg("blue", (320, 240)))):
        path = tmp / name
        path.write_bytes(data)
        paths.append(str(path))
    return paths


def test_a_buyer_files_a_quality_exchange_with_two_photos_and_sees_its_progress_card(
        browser: Browser, stack: Stack, buyer: Chat, tmp_path: Path) -> None:
    order = buyer.order()
    page = open_widget(browser, stack, buyer)

    say(page, f"订单{order}的鞋子开胶了，想换一双")
    confirm = page.locator(".asw-quick button").filter(has_text="确认").last
    expect(confirm).to_be_visible(timeout=WAIT)
    assert "换货" in last_message(page, "bot") or "换货" in page.locator(".asw-log").inner_text()
    confirm.click()

    slot = page.locator('.asw-slot[data-material="defect_photo"]').last
    expect(slot).to_be_visible(timeout=WAIT)
    case_id = CASE_ID.search(page.locator(".asw-log").inner_text()).group(0)  # type: ignore[union-attr]
    slot.locator("input.asw-file").set_input_files(files(tmp_path))
    expect(slot.locator(".asw-thumb")).to_have_count(2)
    page.locator('.asw-material-text[data-material="description"]').last.fill("鞋底整个开胶了，走路会进水")
    submit = page.locator(".asw-submit-materials").last
    expect(submit).to_be_enabled(timeout=WAIT)
    shot(page, "widget-materials-desktop")
    submit.click()

    expect(page.locator(".asw-msg[data-author=bot]").filter(has_text="凭证已齐全")).to_have_count(1, timeout=WAIT)
    case = buyer.api("GET", f"/cases/{case_id}").json()
    assert case["status"] == "awaiting_return" and case["remedy"] == "exchange"
    photos = [m for m in case["materials"] if m["code"] == "defect_photo"]
    assert len(photos) == 2 and all(m["upload_id"] for m in photos)
    assert any(m["code"] == "description" and "开胶" in (m.get("text") or "") for m in case["materials"])

    say(page, "我的售后到哪了")
    card = page.locator(".asw-card-progress").last
    expect(card).to_be_visible(timeout=WAIT)
    expect(card).to_contain_text(case_id)
    shot(page, "widget-progress-desktop")

    phone = open_widget(browser, stack, buyer, width=360, height=740)  # the same conversation, history reloaded
    expect(phone.locator(".asw-card-progress").last).to_contain_text(case_id, timeout=WAIT)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scrolling on a phone
    shot(phone, "widget-progress-360px")


def _pending_review_case(buyer: Chat) -> str:
    """A case a person must decide (a partial refund), filed with complete proofs through the API."""
    order = buyer.order()
    upload = buyer.api("POST", "/uploads", files={"file": ("crack.png", media.png("green"), "image/png")})
    body = {"order_id": order, "item_id": "1", "buyer_id": buyer.buyer_id, "reason": "quality",
            "remedy": "partial_refund", "materials": [{"code": "description", "text": "鞋面有一道明显的裂痕"},
                                                      {"code": "defect_photo", "upload_id": upload.json()["upload_id"]}]}
    case = buyer.api("POST", "/cases", json=body, headers={"Idempotency-Key": f"web-{order}"})
    assert case.status_code == 201 and case.json()["status"] == "pending_review", case.text
    return str(case.json()["case_id"])


def login(page: Page, stack: Stack, username: str = "kefu") -> None:
    page.goto(f"{stack.backend_url}/console/")
    page.locator("#login-username").fill(username)
    page.locator("#login-password").fill("agent-demo-2026")
    page.locator("#login-form button[type=submit]").click()


def test_a_buyer_asks_for_a_person_an_agent_claims_replies_approves_and_hands_back(
        browser: Browser, stack: Stack, buyer: Chat) -> None:
    case_id = _pending_review_case(buyer)
    widget = open_widget(browser, stack, buyer)
    say(widget, "我的售后到哪了")
    expect(widget.locator(".asw-card-progress").last).to_contain_text(case_id, timeout=WAIT)
    say(widget, "转人工")
    expect(widget.locator(".asw-agent-banner")).to_be_visible(timeout=WAIT)

    console = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN").new_page()
    login(console, stack)
    item = console.locator(".queue-item").filter(has_text=buyer.buyer_id or "")
    expect(item).to_have_count(1, timeout=WAIT)  # the queue updates live
    item.click()
    console.locator("#claim-btn").click()
    expect(console.locator("#case-panel")).to_contain_text(case_id, timeout=WAIT)
    expect(console.locator(".rule").first).to_be_visible()

    console.locator("#reply-input").fill("您好，我是客服小李，正在为您核实裂痕的情况。")
    console.locator("#reply-send").click()
    expect(widget.locator(".asw-msg[data-author=agent]").filter(has_text="客服小李")).to_have_count(1, timeout=WAIT)

    bot_lines = widget.locator(".asw-msg[data-author=bot]").count()
    say(widget, "好的，谢谢。" + XSS)
    expect(console.locator("#transcript .msg[data-author=buyer]").filter(has_text="onerror")).to_have_count(1, timeout=WAIT)
    assert widget.locator(".asw-msg[data-author=bot]").count() == bot_lines  # the bot stays silent
    assert widget.evaluate("window.__xss") is None and console.evaluate("window.__xss") is None
    shot(console, "console-handoff")

    before = console.locator("#case-status").inner_text()
    console.locator("button[data-action=approve]").click()  # a partial refund: the agent decides the amount
    console.locator("#action-amount").fill("30.5")
    console.locator("#action-submit").click()
    expect(console.locator("#case-status")).not_to_have_text(before, timeout=WAIT)
    case = buyer.api("GET", f"/cases/{case_id}").json()
    assert case["status"] != "pending_review"
    assert [(e["action"], e["actor_role"], e["actor_id"]) for e in case["events"] if e["action"] == "approve"] == [
        ("approve", "agent", "kefu")]
    assert case["refund_amount"] == "30.50"
    expect(console.locator("#case-status")).to_have_text(case["status_label"])
    console.once("dialog", lambda dialog: dialog.accept())
    console.locator("#handback-btn").click()
    expect(widget.locator(".asw-agent-banner")).to_be_hidden(timeout=WAIT)
    # The approval reaches the buyer as a status update with its progress card.
    expect(widget.locator(".asw-msg[data-author=system]").filter(has_text="有新进度")).to_have_count(1, timeout=WAIT)

    say(widget, "我的售后到哪了")  # the bot answers again, where it left off
    answer = widget.locator(".asw-msg[data-author=bot]").nth(bot_lines)
    expect(answer).to_contain_text(case_id, timeout=WAIT)
    expect(widget.locator(".asw-msg[data-author=bot] .asw-card-progress").last).to_contain_text(case_id)
    assert widget.evaluate("window.__xss") is None


def test_a_supervisor_sees_agents_load_and_overdue_cases(browser: Browser, stack: Stack) -> None:
    console = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN").new_page()
    login(console, stack, "agent")
    console.locator("#tab-supervisor").click()
    panel = console.locator("#supervisor-panel")
    expect(panel).to_contain_text("客服小李", timeout=WAIT)
    shot(console, "console-supervisor")


def test_the_console_refuses_writes_from_another_origin(stack: Stack) -> None:
    session = httpx.Client(base_url=stack.backend_url)
    assert session.post("/api/v1/auth/login", json={"username": "kefu", "password": "agent-demo-2026"}).status_code == 200
    forged = session.post("/api/v1/handoffs/1/claim", headers={"Origin": "https://evil.example"})
    assert forged.status_code == 403 and forged.json()["detail"] == "跨站请求被拒绝"


def test_the_widget_works_with_the_keyboard_alone_and_speaks_to_screen_readers(
        browser: Browser, stack: Stack, buyer: Chat) -> None:
    page = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN").new_page()
    page.goto(f"{stack.backend_url}/shop/?buyer={buyer.buyer_id}")
    launcher = page.locator(".asw-launcher")
    expect(launcher).to_have_attribute("aria-label", "打开售后客服", timeout=WAIT)
    launcher.focus()
    page.keyboard.press("Enter")
    panel = page.locator(".asw-panel")
    expect(panel).to_be_visible()
    assert panel.get_attribute("role") == "dialog" and panel.get_attribute("aria-label") == "售后客服"
    log = page.locator(".asw-log")
    assert log.get_attribute("role") == "log" and log.get_attribute("aria-live") == "polite"
    expect(page.locator(".asw-input")).to_be_focused()
    page.keyboard.type("七天无理由退货怎么算")
    page.keyboard.press("Enter")
    expect(page.locator(".asw-msg[data-author=bot]").filter(has_text="7天")).to_have_count(1, timeout=WAIT)
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(launcher).to_be_focused()


def test_a_visitor_who_is_not_logged_in_gets_policy_answers_but_no_case_actions(
        browser: Browser, stack: Stack) -> None:
    page = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN").new_page()
    page.goto(f"{stack.backend_url}/shop/?guest=1&open=1")
    expect(page.locator(".asw-panel")).to_be_visible(timeout=WAIT)
    say(page, "运费谁出？")
    expect(page.locator(".asw-msg[data-author=bot]")).to_have_count(1, timeout=WAIT)
    assert "运费" in last_message(page, "bot")
    say(page, "订单2026111812345678的鞋子开胶了，想换一双")  # the demo buyer's order: not this visitor's
    expect(page.locator(".asw-msg[data-author=bot]").filter(has_text="请先登录")).to_have_count(1, timeout=WAIT)
    page.wait_for_timeout(1000)  # anything else the bot says to this turn
    replies = page.locator(".asw-msg[data-author=bot]").all_inner_texts()[1:]
    assert "男士跑步鞋" not in "".join(replies), replies
