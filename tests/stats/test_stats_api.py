"""GET /api/v1/stats on SQLite and PostgreSQL: exact figures on known cases, who may read them, and
the Chinese refusals of bad ranges."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from backend.db.models import Conversation, ConversationMessage
from tests.stats.conftest import Shop, at, login
from tests.support import media
from tests.support.api import Api

STATS = "/api/v1/stats"


def get(api: Api, headers: dict[str, str], **params: str) -> Any:
    return api.client.get(STATS, params=params, headers=headers)


def counts(items: list[dict[str, Any]]) -> dict[str, int]:
    return {i["code"]: i["count"] for i in items if i["count"]}


def chat(api: Api, conversation_id: str, when: Any) -> None:
    """A conversation with one buyer message (the gateway's rows, written directly)."""
    with api.client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        assert isinstance(session, Session)
        session.add(Conversation(conversation_id=conversation_id, channel="web", buyer_id=conversation_id[4:],
                                 last_seq=1, bot_paused=False, created_at=when, updated_at=when))
        session.add(ConversationMessage(conversation_id=conversation_id, seq=1, author="buyer", text="退货运费谁出",
                                        buttons=[], attachments=[], created_at=when))
        session.commit()


def handoff(api: Api, when: Any, conversation_id: str, case_id: str | None = None) -> None:
    api.clock.now = when
    response = api.client.post("/api/v1/handoffs", headers=api.service, json={
        "conversation_id": conversation_id, "channel": "web", "reason": "requested", "summary": "买家要求人工",
        "case_id": case_id})
    assert response.status_code == 201, response.text


@pytest.fixture
def week(api: Api, shop: Shop) -> dict[str, dict[str, Any]]:
    """Seven cases around 16–20 November 2026, each step at a chosen local time:

    G  15th 23:30  seven-day return (the day before the range: never counted)
    A  17th 01:00  quality exchange, approved at once (16th in UTC, 17th in Shanghai)
    B  17th 10:00  review approved after 6 h, returned, inspected, refunded on the 18th, rated 5
    C  18th 09:00  review rejected after 48 h on the 20th (its 1-working-day deadline was the 19th)
    D  19th 09:00  seven-day return, withdrawn by the buyer 3 h later
    F  19th 10:00  damaged in transit, resent 5 h later, rated 2
    E  20th 08:00  review still waiting at 10:00
    """
    cases: dict[str, dict[str, Any]] = {}
    cases["G"] = shop.no_reason(at(15, 23, 30), "b_g")
    api.clock.now = at(17, 1)
    api.order()
    cases["A"] = api.case(api.complete_quality_case())
    assert cases["A"]["status"] == "awaiting_return"

    cases["B"] = b = shop.review(at(17, 10), "b_b")
    handoff(api, at(17, 11), "web:b_b", b["case_id"])
    shop.act(at(17, 16), b["case_id"], "approve")
    shop.ship_back(at(17, 18), b["case_id"], "b_b")
    shop.act(at(18, 10), b["case_id"], "receive")
    shop.act(at(18, 12), b["case_id"], "inspect_pass")
    refunded = shop.act(at(18, 14), b["case_id"], "refund")
    assert refunded["status"] == "completed"
    cases["B"] = shop.act(at(18, 15), b["case_id"], "rate", headers=api.buyer("b_b"), rating=5, reason="处理很快")

    cases["C"] = c = shop.review(at(18, 9), "b_c")
    chat(api, "web:b_chat", at(18, 20))
    cases["D"] = d = shop.no_reason(at(19, 9), "b_d")
    cases["D"] = shop.act(at(19, 12), d["case_id"], "cancel", headers=api.buyer("b_d"))

    api.clock.now = at(19, 10)
    photos = {code: api.upload(media.png(colour), buyer_id="b_f")  # not A's photo: no shared-evidence review
              for code, colour in (("package_photo", "green"), ("defect_photo", "navy"), ("waybill_photo", "gray"))}
    cases["F"] = f = shop.file(at(19, 10), "b_f", "damaged_in_transit", "resend",
                               [{"code": code, "upload_id": upload} for code, upload in photos.items()])
    assert f["status"] == "replacing"
    handoff(api, at(19, 10, 30), "web:b_asks")
    shop.act(at(19, 15), f["case_id"], "ship_replacement")
    cases["F"] = shop.act(at(19, 16), f["case_id"], "rate", headers=api.buyer("b_f"), rating=2)

    cases["C"] = shop.act(at(20, 9), c["case_id"], "reject", reason="凭证无法证明问题")
    cases["E"] = shop.review(at(20, 8), "b_e")
    api.clock.now = at(20, 10)
    return cases


def test_the_figures_of_a_known_week_are_exact(api: Api, boss: dict[str, str], week: dict[str, dict[str, Any]]) -> None:
    response = get(api, boss, **{"from": "2026-11-16", "to": "2026-11-20", "granularity": "day"})
    assert response.status_code == 200, response.text
    stats = response.json()
    assert stats["range"] == {"from": "2026-11-16", "to": "2026-11-20", "granularity": "day",
                              "timezone": "Asia/Shanghai",
                              "periods": ["2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19", "2026-11-20"]}

    volume = stats["volume"]
    assert volume["total"] == 6
    assert [(p["period"], p["total"], p["by_reason"]) for p in volume["series"]] == [
        ("2026-11-16", 0, {}),
        ("2026-11-17", 2, {"quality": 1, "other": 1}),
        ("2026-11-18", 1, {"other": 1}),
        ("2026-11-19", 2, {"no_reason": 1, "damaged_in_transit": 1}),
        ("2026-11-20", 1, {"other": 1}),
    ]
    assert counts(volume["by_reason"]) == {"quality": 1, "other": 3, "no_reason": 1, "damaged_in_transit": 1}
    assert counts(volume["by_remedy"]) == {"exchange": 1, "return_refund": 4, "resend": 1}
    assert counts(volume["by_status"]) == {"awaiting_return": 1, "completed": 2, "rejected": 1, "cancelled": 1,
                                           "pending_review": 1}
    assert {i["code"]: i["label"] for i in volume["by_reason"]}["quality"] == "质量问题"

    amount = week["B"]["refund_amount"]
    assert amount == "279.00"  # 299.00 less the whole order's 20.00 coupon
    assert stats["refunds"] == {
        "count": 1, "amount": amount, "average": amount,
        "series": [{"period": p, "count": int(p == "2026-11-18"), "amount": amount if p == "2026-11-18" else "0.00"}
                   for p in stats["range"]["periods"]]}

    # B 6 h, C 48 h; A, D and F were approved by the policy at once.
    assert stats["review_time"] == {
        "count": 2, "avg_hours": 27.0, "median_hours": 27.0, "p90_hours": 43.8, "max_hours": 48.0,
        "standard_hours": 24, "hard_hours": 48, "within_standard": 1, "within_standard_share": 0.5,
        "within_hard": 2, "within_hard_share": 1.0, "approved": 1, "rejected": 1, "auto_approved": 3}
    # Closed: D withdrawn after 3 h, F resent after 5 h, B completed after 28 h, C rejected after 48 h.
    assert stats["resolution_time"] == {"count": 4, "avg_hours": 21.0, "median_hours": 16.5, "p90_hours": 42.0,
                                        "max_hours": 48.0}
    # B's review, inspection and refund and F's resend on time; C's review a day late; E's not yet due.
    assert stats["sla"]["total"] == 5 and stats["sla"]["on_time"] == 4 and stats["sla"]["late"] == 1
    assert stats["sla"]["share"] == 0.8
    assert [(s["step"], s["label"], s["on_time"], s["late"]) for s in stats["sla"]["by_step"]] == [
        ("review", "审核申请", 1, 1), ("inspect", "验收退回商品", 1, 0), ("refund_after_receipt", "退款", 1, 0),
        ("send_replacement", "寄出换货商品", 1, 0)]
    assert stats["handoffs"] == {"handoffs": 2, "cases": 6, "cases_with_handoff": 1, "case_rate": 0.1667,
                                 "conversations": 3, "conversations_with_handoff": 2, "conversation_rate": 0.6667}
    assert stats["satisfaction"] == {"count": 2, "average": 3.5, "distribution": [
        {"rating": 1, "count": 0}, {"rating": 2, "count": 1}, {"rating": 3, "count": 0}, {"rating": 4, "count": 0},
        {"rating": 5, "count": 1}]}
    assert stats["alerts"] == []  # two reviews are too few to judge; E has waited 2 h
    assert stats["labels"]["steps"]["review"] == "审核申请"
    assert stats["generated_at"] == "2026-11-20T10:00:00+08:00"


def test_by_month_the_same_cases_fall_in_one_period_and_the_range_edges_hold(
        api: Api, boss: dict[str, str], week: dict[str, dict[str, Any]]) -> None:
    stats = get(api, boss, **{"from": "2026-10-01", "to": "2026-11-20", "granularity": "month"}).json()
    assert stats["range"]["periods"] == ["2026-10", "2026-11"]
    assert [(p["period"], p["total"]) for p in stats["volume"]["series"]] == [("2026-10", 0), ("2026-11", 7)]
    assert [(p["period"], p["count"], p["amount"]) for p in stats["refunds"]["series"]] == [
        ("2026-10", 0, "0.00"), ("2026-11", 1, "279.00")]

    # One local day: the 17th holds A (16th 17:00 UTC) and B, not G (15th 23:30 local).
    day = get(api, boss, **{"from": "2026-11-17", "to": "2026-11-17"}).json()
    assert day["volume"]["total"] == 2 and day["range"]["granularity"] == "day"
    assert counts(day["volume"]["by_reason"]) == {"quality": 1, "other": 1}
    assert get(api, boss, **{"from": "2026-11-15", "to": "2026-11-15"}).json()["volume"]["total"] == 1


def test_without_dates_the_last_30_days_up_to_today(api: Api, boss: dict[str, str]) -> None:
    stats = get(api, boss).json()
    assert (stats["range"]["from"], stats["range"]["to"]) == ("2026-10-22", "2026-11-20")
    assert len(stats["range"]["periods"]) == 30
    assert stats["volume"]["total"] == 0 and stats["refunds"]["amount"] == "0.00"
    assert stats["review_time"]["avg_hours"] is None and stats["satisfaction"]["average"] is None
    assert stats["sla"] == {"total": 0, "on_time": 0, "late": 0, "share": None, "by_step": []}
    only_from = get(api, boss, **{"from": "2026-11-01"}).json()["range"]
    assert (only_from["from"], only_from["to"]) == ("2026-11-01", "2026-11-20")
    only_to = get(api, boss, to="2026-11-10").json()["range"]
    assert (only_to["from"], only_to["to"]) == ("2026-10-12", "2026-11-10")


def test_only_a_logged_in_supervisor_may_read_the_figures(api: Api) -> None:
    agent = login(api, "xiaoli", "agent")
    boss = login(api, "zhang", "supervisor")
    for headers, status in (({}, 401), (api.service, 403), (api.buyer(), 403), (agent, 403), (boss, 200)):
        assert get(api, headers).status_code == status
    assert get(api, {}).json() == {"detail": "需要登录或提供服务令牌"}
    assert get(api, agent).json() == {"detail": "只有主管可以查看"}
    assert get(api, {"Cookie": "agent_session=forged"}).status_code == 401


@pytest.mark.parametrize(("params", "message"), [
    ({"from": "2026-11-20", "to": "2026-11-01"}, "开始日期不能晚于结束日期"),
    ({"from": "2025-11-19", "to": "2026-11-20"}, "统计区间最长366天，请缩小日期范围"),
    ({"from": "2026/11/01"}, "开始日期（from）格式不正确，请使用 YYYY-MM-DD，例如 2026-11-01"),
    ({"from": "2026-W45-1"}, "开始日期（from）格式不正确，请使用 YYYY-MM-DD，例如 2026-11-01"),
    ({"to": "2026-02-30"}, "结束日期（to）格式不正确，请使用 YYYY-MM-DD，例如 2026-11-01"),
    ({"granularity": "week"}, "统计粒度只能是 day（按日）或 month（按月）"),
    ({"from": "2026-11-21", "to": "2026-11-25"}, "开始日期不能晚于今天"),
])
def test_bad_ranges_are_refused_in_chinese(api: Api, boss: dict[str, str], params: dict[str, str],
                                           message: str) -> None:
    response = get(api, boss, **params)
    assert response.status_code == 422
    assert response.json() == {"detail": message}


def test_the_longest_range_allowed_is_366_days(api: Api, boss: dict[str, str]) -> None:
    response = get(api, boss, **{"from": "2025-11-20", "to": "2026-11-20", "granularity": "month"})
    assert response.status_code == 200
    assert len(response.json()["range"]["periods"]) == 13


def test_the_page_is_served_with_the_consoles_strict_headers(api: Api) -> None:
    page = api.client.get("/stats/")
    assert page.status_code == 200 and "售后数据统计" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert api.client.get("/stats/stats.js").status_code == 200
    assert api.client.get("/stats", follow_redirects=False).headers["location"] == "/stats/"
