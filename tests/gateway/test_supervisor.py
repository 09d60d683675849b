"""The supervisor's overview: each agent's load, the live queue, and the cases past their deadlines."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.gateway.conftest import Gateway

REVIEW = {"reason": "other", "remedy": "return_refund",
          "materials": [{"code": "description", "text": "鞋子左右两只颜色不一样"}]}


def test_only_supervisors_see_the_overview(gw: Gateway) -> None:
    alice = gw.agent("alice")
    for headers, status in ((alice, 403), (gw.service, 403), (gw.api.buyer(), 403), ({}, 401)):
        response = gw.client.get("/api/v1/supervisor/overview", headers=headers)
        assert response.status_code == status
    assert gw.client.get("/api/v1/supervisor/overview", headers=alice).json() == {"detail": "只有主管可以查看"}


def test_the_overview_counts_claims_per_agent_the_live_queue_and_overdue_cases(gw: Gateway) -> None:
    alice, _ = gw.agent("alice", display_name="小艾"), gw.agent("bob", display_name="小博")
    boss = gw.agent("zhang", role="supervisor", display_name="张主管")
    claimed = gw.open_handoff("web:b_1001")
    gw.claim(claimed["handoff_id"], alice)
    gw.open_handoff("web:b_2002", buyer_id="b_2002")
    done = gw.open_handoff("web:b_3003", buyer_id="b_3003")
    gw.claim(done["handoff_id"], alice)
    gw.client.post(f"/api/v1/handoffs/{done['handoff_id']}/close", headers=alice)

    gw.api.order()
    review = gw.api.file(**REVIEW).json()  # the merchant's review: escalated when late, no penalty
    gw.api.order("2026111800000002")
    inspect = gw.api.file(order_id="2026111800000002", reason="no_reason", remedy="return_refund",
                          materials=[{"code": "intact_confirmation"}]).json()
    shipped = gw.api.materials(inspect["case_id"], [{"code": "return_tracking", "text": "SF1234567890123"}])
    assert shipped.status_code == 200
    inspect = gw.api.act(inspect["case_id"], "receive").json()  # inspection: a penalty per day late
    gw.api.order("2026111800000003")
    withdrawn = gw.api.file(order_id="2026111800000003", **REVIEW).json()
    assert gw.api.act(withdrawn["case_id"], "cancel", headers=gw.api.buyer()).status_code == 200
    assert (review["deadline"]["step"], inspect["deadline"]["step"]) == ("review", "inspect")
    inspect_due = datetime.fromisoformat(inspect["deadline"]["due_at"])

    before = gw.client.get("/api/v1/supervisor/overview", headers=boss)
    assert before.status_code == 200
    assert before.json()["overdue_cases"] == []

    gw.clock.now = inspect_due + timedelta(days=2)
    boss = gw.agent("zhang", role="supervisor", display_name="张主管")  # the old session has expired by now
    overview = gw.client.get("/api/v1/supervisor/overview", headers=boss).json()
    assert [(a["username"], a["display_name"], a["claimed"]) for a in overview["agents"]] == [
        ("alice", "小艾", 1), ("bob", "小博", 0), ("zhang", "张主管", 0)]
    assert overview["queue"] == {"open": 1, "claimed": 1}
    overdue = overview["overdue_cases"]  # most overdue first; the withdrawn (closed) case is not listed
    assert [(c["case_id"], c["status"], c["due_step"], c["days_late"]) for c in overdue] == [
        (review["case_id"], "pending_review", "review", 0),
        (inspect["case_id"], "received", "inspect", 2)]
    assert datetime.fromisoformat(overdue[1]["due_at"]) == inspect_due
