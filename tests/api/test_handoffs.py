"""Handing a conversation to a person: one live handoff per conversation, an urgency-ordered queue."""

from __future__ import annotations

from tests.support.api import Api


def _handoff(api: Api, conversation: str = "web:b_1001", reason: str = "requested", **extra: object):  # type: ignore[no-untyped-def]
    body = {"conversation_id": conversation, "channel": "web", "reason": reason,
            "summary": "订单2026111812345678 鞋子开胶，买家要求换货，已提交照片", **extra}
    return api.client.post("/api/v1/handoffs", json=body, headers=api.buyer())


def test_a_handoff_is_created_once_per_conversation_until_it_is_closed(api: Api) -> None:
    first = _handoff(api)
    again = _handoff(api, reason="complaint")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["handoff_id"] == first.json()["handoff_id"]
    assert first.json()["buyer_id"] == "b_1001" and first.json()["status"] == "open"
    closed = api.client.post(f"/api/v1/handoffs/{first.json()['handoff_id']}/close", headers=api.service)
    assert closed.json()["status"] == "closed" and closed.json()["closed_at"]
    assert _handoff(api).status_code == 201  # a new one after hand-back


def test_the_queue_puts_complaints_first_then_reviews_then_the_rest_oldest_first(api: Api) -> None:
    _handoff(api, "web:a", "requested")
    api.clock.advance(minutes=1)
    _handoff(api, "web:b", "needs_review")
    api.clock.advance(minutes=1)
    _handoff(api, "web:c", "complaint")
    queue = api.client.get("/api/v1/handoffs?status=open", headers=api.service).json()
    assert [h["conversation_id"] for h in queue["handoffs"]] == ["web:c", "web:b", "web:a"]
    assert queue["total"] == 3


def test_buyers_cannot_read_the_queue_or_close_handoffs(api: Api) -> None:
    created = _handoff(api).json()
    assert api.client.get("/api/v1/handoffs", headers=api.buyer()).status_code == 403
    assert api.client.post(f"/api/v1/handoffs/{created['handoff_id']}/close", headers=api.buyer()).status_code == 403
    assert api.client.get(f"/api/v1/handoffs/{created['handoff_id']}", headers=api.buyer("b_2002")).status_code == 404


def test_a_handoff_naming_someone_elses_case_is_refused(api: Api) -> None:
    api.order("2026111800000099", buyer_id="b_2002")
    case = api.file(headers=api.buyer("b_2002"), order_id="2026111800000099", buyer_id="b_2002").json()
    response = _handoff(api, case_id=case["case_id"])
    assert response.status_code == 404
    assert api.client.get("/api/v1/handoffs", headers=api.service).json()["total"] == 0


def test_policy_vocabulary_and_answers_come_from_the_policy_file(api: Api) -> None:
    policy = api.client.app.state.policy  # type: ignore[attr-defined]
    vocab = api.client.get("/api/v1/policy/vocabulary", headers=api.buyer()).json()
    assert vocab["remedies"]["exchange"] == policy.remedies["exchange"].label
    answers = api.client.get("/api/v1/policy/answers", headers=api.buyer()).json()
    assert set(answers) == {"seven_day", "excluded_goods", "return_shipping_fee", "refund_time",
                            "intact_condition", "warranty_repair", "materials_needed"}
    assert f"{policy.rules['R-7DAY'].max_days}天内" in answers["seven_day"]
    assert f"{policy.deadlines['refund_only_refund'].hours}小时" in answers["refund_time"]
    assert "发票" in answers["materials_needed"] and "不需要发票" in answers["materials_needed"]
