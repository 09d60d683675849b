"""Cases through their whole lifecycle over HTTP (policy.md §7, §8), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import chinese_calendar
import pytest

from tests.support.api import NOW, TZ, Api
from tests.support import media

RETURN_TRACKING = {"code": "return_tracking", "text": "SF1234567890123"}
PLATFORM = {"actor_role": "platform"}


# ---------------------------------------------------------------- helpers


def ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return response.json()


def progress(api: Api, case_id: str) -> dict[str, Any]:
    return ok(api.client.get(f"/api/v1/cases/{case_id}/progress", headers=api.buyer()))


def actions(case: dict[str, Any]) -> list[str]:
    return [e["action"] for e in case["events"]]


def working_day_end(start: date, n: int) -> str:
    """End of the n-th statutory working day after `start`, counted independently of the backend."""
    day, counted = start, 0
    while counted < n:
        day += timedelta(days=1)
        counted += chinese_calendar.is_workday(day)
    return f"{day.isoformat()}T23:59:59+08:00"


def calendar_day_end(start: date, n: int) -> str:
    return f"{(start + timedelta(days=n)).isoformat()}T23:59:59+08:00"


def shown(iso: str) -> str:
    """How progress texts show a due time: 11月30日 23:59."""
    day = date.fromisoformat(iso[:10])
    return f"{day.month}月{day.day}日 {iso[11:16]}"


def today(api: Api) -> date:
    return api.clock.now.astimezone(TZ).date()


def assert_chained(case: dict[str, Any]) -> None:
    """Every event starts where the previous one ended, and says who and when."""
    events = case["events"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["from_status"] is None
    for before, after in zip(events, events[1:]):
        assert after["from_status"] == before["to_status"]
        assert after["at"] >= before["at"]
    assert events[-1]["to_status"] == case["status"]
    assert all(e["actor_role"] and e["at"] for e in events)


def file_quality(api: Api, remedy: str, **overrides: Any) -> dict[str, Any]:
    """A complete quality request for the default (functional) item."""
    materials = [
        {"code": "description", "text": "鞋底开胶了，走路进水"},
        {"code": "defect_photo", "upload_id": api.upload()},
        {"code": "defect_video", "upload_id": api.upload(media.mp4(), name="clip.mp4")},
    ]
    response = api.file(remedy=remedy, materials=materials, **overrides)
    assert response.status_code == 201, response.text
    return response.json()


def file_for_review(api: Api) -> dict[str, Any]:
    """R-OTHER: allowed and complete, but a person must decide."""
    response = api.file(reason="other", remedy="return_refund",
                        materials=[{"code": "description", "text": "鞋子左右两只颜色不一样"}])
    assert response.status_code == 201, response.text
    case = response.json()
    assert case["status"] == "pending_review"
    return case


def ship_back_and_receive(api: Api, case_id: str) -> dict[str, Any]:
    returning = ok(api.materials(case_id, [RETURN_TRACKING]))
    assert returning["status"] == "returning"
    received = ok(api.act(case_id, "receive"))
    assert received["status"] == "received"
    return received


# ---------------------------------------------------------------- happy paths, one per remedy family


def test_a_return_refund_runs_from_filing_to_an_automatic_completion_with_progress_along_the_way(api: Api) -> None:
    api.order()
    filed = api.file(reason="no_reason", remedy="return_refund", materials=[{"code": "intact_confirmation"}])
    assert filed.status_code == 201, filed.text
    case = filed.json()
    case_id = case["case_id"]
    assert case["status"] == "awaiting_return"
    assert case["refund_amount"] == "279.00"
    ship_by = working_day_end(today(api), 3)
    assert case["deadline"]["step"] == "ship_return" and case["deadline"]["due_at"] == ship_by

    report = progress(api, case_id)
    assert [s["key"] for s in report["stages"]] == ["filed", "review", "return", "inspect", "refund", "done"]
    assert [s["state"] for s in report["stages"]] == ["done", "done", "current", "todo", "todo", "todo"]
    assert report["next_step"]["party"] == "buyer"
    assert report["next_step"]["text"].startswith(f"请在{shown(ship_by)}前把商品寄回：")
    assert "运费由您承担" in report["next_step"]["text"]  # no_reason without freight insurance
    assert [t["label"] for t in report["timeline"]] == ["提交售后申请", "进入处理"]
    assert [t["status"] for t in report["timeline"]] == ["approved", "awaiting_return"]
    assert set(report["buyer_actions"]) == {"ship_return", "cancel"}

    api.clock.advance(days=1)  # Saturday: the buyer ships it back
    assert ok(api.materials(case_id, [RETURN_TRACKING]))["status"] == "returning"
    report = progress(api, case_id)
    assert report["next_step"]["text"] == "退货正在寄回途中，商家收到后会尽快验收"
    assert [s["state"] for s in report["stages"]][2:4] == ["current", "todo"]
    assert report["buyer_actions"] == ["cancel"]

    api.clock.advance(days=2)  # Monday 23 Nov: the merchant receives it
    received_on = today(api)
    assert ok(api.act(case_id, "receive"))["status"] == "received"
    inspect_by = working_day_end(received_on, 3)
    report = progress(api, case_id)
    assert report["deadline"]["step"] == "inspect" and report["deadline"]["due_at"] == inspect_by
    assert report["next_step"] == {"party": "merchant", "text": f"商家已收到退货，将在{shown(inspect_by)}前完成验收"}
    assert [s["state"] for s in report["stages"]] == ["done", "done", "done", "current", "todo", "todo"]
    assert report["buyer_actions"] == []  # no cancelling once the item is received

    api.clock.advance(days=1)  # Tuesday: inspection passes; the refund clock runs from receipt (消法 §25)
    refunding = ok(api.act(case_id, "inspect_pass"))
    refund_by = calendar_day_end(received_on, 7)
    assert refunding["status"] == "refunding"
    assert refunding["deadline"]["step"] == "refund_after_receipt" and refunding["deadline"]["due_at"] == refund_by
    report = progress(api, case_id)
    assert report["next_step"]["text"] == f"退款279.00元将在{shown(refund_by)}前原路退回"
    assert [s["state"] for s in report["stages"]] == ["done", "done", "done", "done", "current", "todo"]

    done = ok(api.act(case_id, "refund"))
    assert done["status"] == "completed"
    assert actions(done) == ["file", "proceed", "ship_return", "receive", "inspect_pass", "refund", "complete"]
    assert [e["actor_role"] for e in done["events"]] == [
        "buyer", "system", "buyer", "merchant", "merchant", "merchant", "system"]
    assert done["events"][2]["data"]["tracking_number"] == "SF1234567890123"
    assert done["deadline"] is None
    assert_chained(done)

    report = progress(api, case_id)
    assert report["status_label"] == "已完成"
    assert [s["state"] for s in report["stages"]] == ["done"] * 6
    assert report["next_step"] == {"party": None, "text": "售后已完成，感谢您的耐心等待"}
    assert [t["label"] for t in report["timeline"]] == [
        "提交售后申请", "进入处理", "买家已寄回", "商家已收到退货", "验收通过", "退款已发放", "售后完成"]
    assert report["timeline"][-1]["status_label"] == "已完成"
    assert report["buyer_actions"] == ["rate"]  # only the satisfaction rating is left to the buyer


def test_an_exchange_is_sent_within_seven_working_days_of_the_inspection_and_completes(api: Api) -> None:
    api.order()
    case_id = api.complete_quality_case()
    ship_back_and_receive(api, case_id)
    api.clock.advance(days=1)
    passed_on = today(api)
    replacing = ok(api.act(case_id, "inspect_pass"))
    send_by = working_day_end(passed_on, api.client.app.state.policy.deadlines["send_replacement"].working_days)
    assert replacing["status"] == "replacing"
    assert replacing["deadline"]["step"] == "send_replacement" and replacing["deadline"]["due_at"] == send_by
    assert progress(api, case_id)["next_step"]["text"] == f"商家将在{shown(send_by)}前寄出更换的商品"

    done = ok(api.act(case_id, "ship_replacement"))
    assert done["status"] == "completed"
    assert actions(done) == ["file", "proceed", "ship_return", "receive", "inspect_pass", "ship_replacement"]
    assert done["refund_amount"] is None  # an exchange refunds nothing
    assert_chained(done)


def test_a_repair_goes_back_and_forth_and_completes_when_the_repaired_item_is_sent(api: Api) -> None:
    api.order()
    case = file_quality(api, "repair")
    assert case["status"] == "awaiting_return"
    assert case["decision"]["return_shipping_paid_by"] == "seller"
    ship_back_and_receive(api, case["case_id"])
    repairing = ok(api.act(case["case_id"], "inspect_pass"))
    assert repairing["status"] == "repairing"
    # First the merchant answers within 2 working days, then finishes within 7 (policy.md §7).
    assert repairing["deadline"]["step"] == "repair_first_reply"
    assert repairing["deadline"]["due_at"] == working_day_end(today(api), 2)
    assert progress(api, case["case_id"])["stages"][-2] == {"key": "repair", "label": "维修", "state": "current"}
    replied = ok(api.act(case["case_id"], "note", reason="已确认主板故障，预计5天修好"))
    assert replied["deadline"]["step"] == "repair_finish"
    assert replied["deadline"]["due_at"] == working_day_end(today(api), 7)

    done = ok(api.act(case["case_id"], "repair_done"))
    assert done["status"] == "completed"
    assert actions(done) == ["file", "proceed", "ship_return", "receive", "inspect_pass", "note", "repair_done"]
    assert_chained(done)


def test_an_unshipped_order_is_refunded_in_full_within_24_hours_without_any_return(api: Api) -> None:
    api.order(status="paid")
    filed = api.file(reason="no_reason", remedy="refund_only")
    assert filed.status_code == 201, filed.text
    case = filed.json()
    assert case["decision"]["rules"][0]["id"] == "R-UNSHIPPED"
    assert case["status"] == "refunding"
    assert case["refund_amount"] == "289.00"  # 279 paid for the item plus the 10 shipping fee: whole order, unshipped
    hours = api.client.app.state.policy.deadlines["refund_only_refund"].hours
    assert case["deadline"]["party"] == "platform"
    assert case["deadline"]["due_at"] == (NOW + timedelta(hours=hours)).isoformat()
    stages = progress(api, case["case_id"])["stages"]
    assert [s["key"] for s in stages] == ["filed", "review", "refund", "done"]  # no return legs

    done = ok(api.act(case["case_id"], "refund", **PLATFORM))
    assert done["status"] == "completed"
    assert actions(done) == ["file", "proceed", "refund", "complete"]
    assert done["events"][2]["actor_role"] == "platform"
    assert_chained(done)


def test_a_parcel_past_its_promised_date_is_resent_without_a_return(api: Api) -> None:
    api.order(status="shipped", promised_delivery_by=(NOW - timedelta(days=1)).isoformat(),
              last_logistics_event_at=(NOW - timedelta(hours=20)).isoformat())
    filed = api.file(reason="not_received", remedy="resend")
    assert filed.status_code == 201, filed.text
    case = filed.json()
    assert case["decision"]["rules"][0]["id"] == "R-TRANSIT-LATE"
    assert case["status"] == "replacing"
    assert case["deadline"]["step"] == "send_replacement"
    assert "补发" in progress(api, case["case_id"])["next_step"]["text"]

    done = ok(api.act(case["case_id"], "ship_replacement"))
    assert done["status"] == "completed"
    assert actions(done) == ["file", "proceed", "ship_replacement"]
    assert_chained(done)


def test_a_partial_refund_needs_an_amount_set_by_a_person_no_larger_than_the_item_paid(api: Api) -> None:
    api.order()
    case = file_quality(api, "partial_refund")
    case_id = case["case_id"]
    assert case["status"] == "pending_review"
    assert case["refund_amount"] is None
    events_before = len(case["events"])

    missing = api.act(case_id, "approve")
    assert missing.status_code == 422
    assert missing.json()["detail"] == "该处理方式需要填写退款/补偿金额"
    too_much = api.act(case_id, "approve", refund_amount="279.01")
    assert too_much.status_code == 422
    assert "279.00" in too_much.json()["detail"]
    unchanged = api.case(case_id)
    assert (unchanged["status"], len(unchanged["events"]), unchanged["refund_amount"]) == (
        "pending_review", events_before, None)

    approved = ok(api.act(case_id, "approve", refund_amount="50.00"))
    assert approved["status"] == "refunding"
    assert approved["refund_amount"] == "50.00"
    approve_event = approved["events"][-2]
    assert approve_event["action"] == "approve" and approve_event["data"]["refund_amount"] == "50.00"
    assert approve_event["actor_role"] == "merchant"
    assert progress(api, case_id)["next_step"]["text"].startswith("退款50.00元将在")

    done = ok(api.act(case_id, "refund"))
    assert done["status"] == "completed"
    assert actions(done) == ["file", "approve", "proceed", "refund", "complete"]
    assert_chained(done)


def test_the_full_paid_amount_is_an_acceptable_partial_refund(api: Api) -> None:
    api.order()
    case_id = file_quality(api, "partial_refund")["case_id"]
    approved = ok(api.act(case_id, "approve", refund_amount="279.00"))
    assert approved["refund_amount"] == "279.00"


# ---------------------------------------------------------------- rejection and dispute


def test_a_rejection_disputed_by_the_buyer_can_be_approved_by_the_platform(api: Api) -> None:
    api.order()
    case_id = file_for_review(api)["case_id"]
    rejected = ok(api.act(case_id, "reject", reason="照片看不出颜色差异"))
    assert rejected["status"] == "rejected"
    report = progress(api, case_id)
    assert report["next_step"]["text"] == "申请未通过：照片看不出颜色差异。如有异议，可申请平台介入"
    assert report["buyer_actions"] == ["dispute"]

    assert api.act(case_id, "dispute", reason="商家不理睬").status_code == 403  # the merchant cannot dispute
    disputed = ok(api.act(case_id, "dispute", headers=api.buyer(), reason="两只鞋颜色明显不同，请平台核实"))
    assert disputed["status"] == "disputed"
    assert disputed["events"][-1]["reason"] == "两只鞋颜色明显不同，请平台核实"
    assert progress(api, case_id)["next_step"]["party"] == "platform"

    assert api.act(case_id, "approve", headers=api.buyer()).status_code == 403
    assert api.act(case_id, "approve", headers=api.buyer(), **PLATFORM).status_code == 403  # a buyer cannot claim it

    approved = ok(api.act(case_id, "approve", **PLATFORM))
    assert approved["status"] == "awaiting_return"
    assert actions(approved) == ["file", "reject", "dispute", "approve", "proceed"]
    assert [e["actor_role"] for e in approved["events"]][1:4] == ["merchant", "buyer", "platform"]
    assert_chained(approved)


def test_a_platform_rejection_of_a_dispute_is_final(api: Api) -> None:
    api.order()
    case_id = file_for_review(api)["case_id"]
    ok(api.act(case_id, "reject", reason="不符合售后条件"))
    ok(api.act(case_id, "dispute", headers=api.buyer(), reason="我不同意"))
    final = ok(api.act(case_id, "reject", reason="经平台核实，维持原结论", **PLATFORM))
    assert final["status"] == "rejected"
    assert final["events"][-1]["actor_role"] == "platform"
    assert final["events"][-1]["reason"] == "经平台核实，维持原结论"

    again = api.act(case_id, "dispute", headers=api.buyer(), reason="还是不同意")
    assert again.status_code == 409
    assert "平台介入" in again.json()["detail"]
    after = api.case(case_id)
    assert after["status"] == "rejected" and len(after["events"]) == len(final["events"])
    assert progress(api, case_id)["buyer_actions"] == []
    # A closed case frees the item: the buyer may file again.
    assert api.file(reason="other", remedy="exchange",
                    materials=[{"code": "description", "text": "鞋子左右两只颜色不一样"}]).status_code == 201


def test_a_merchant_cannot_decide_the_dispute_against_its_own_rejection(api: Api) -> None:
    """policy.md §8: a dispute is handed to a platform agent."""
    api.order()
    case_id = file_for_review(api)["case_id"]
    ok(api.act(case_id, "reject", reason="不符合售后条件"))
    ok(api.act(case_id, "dispute", headers=api.buyer(), reason="我不同意"))
    response = api.act(case_id, "reject", reason="维持原结论")  # service token, acting as the merchant
    assert response.status_code == 403
    assert api.case(case_id)["status"] == "disputed"


def test_a_dispute_without_a_reason_is_refused(api: Api) -> None:
    api.order()
    case_id = file_for_review(api)["case_id"]
    ok(api.act(case_id, "reject", reason="不符合售后条件"))
    response = api.act(case_id, "dispute", headers=api.buyer())
    assert response.status_code == 422
    assert api.case(case_id)["status"] == "rejected"


# ---------------------------------------------------------------- cancelling


@pytest.mark.parametrize("shipped_back", [False, True], ids=["awaiting_return", "returning"])
def test_a_buyer_may_cancel_before_the_item_is_received(api: Api, shipped_back: bool) -> None:
    api.order()
    case_id = api.complete_quality_case()
    if shipped_back:
        ok(api.materials(case_id, [RETURN_TRACKING]))
    cancelled = ok(api.act(case_id, "cancel", headers=api.buyer()))
    assert cancelled["status"] == "cancelled"
    assert cancelled["events"][-1]["actor_role"] == "buyer"
    assert cancelled["deadline"] is None
    assert progress(api, case_id)["next_step"]["text"] == "您已撤销该售后申请"
    assert api.file(remedy="repair").status_code == 201  # the item is free for a new case


def test_a_buyer_cannot_cancel_after_the_merchant_received_the_item(api: Api) -> None:
    api.order()
    case_id = api.complete_quality_case()
    received = ship_back_and_receive(api, case_id)
    response = api.act(case_id, "cancel", headers=api.buyer())
    assert response.status_code == 409
    assert "商家已收货，待验收" in response.json()["detail"]
    after = api.case(case_id)
    assert after["status"] == "received"
    assert len(after["events"]) == len(received["events"])


# ---------------------------------------------------------------- bad requests


def test_an_unknown_action_is_refused_as_invalid_input(api: Api) -> None:
    api.order()
    case_id = api.complete_quality_case()
    response = api.act(case_id, "teleport")
    assert response.status_code == 422
    assert api.case(case_id)["status"] == "awaiting_return"


@pytest.mark.parametrize("action", ["file", "materials_complete", "proceed"])
def test_internal_steps_cannot_be_called_through_the_api(api: Api, action: str) -> None:
    api.order()
    case_id = api.complete_quality_case()
    before = api.case(case_id)
    response = api.act(case_id, action)
    assert response.status_code == 422, response.text
    assert "不能直接调用" in response.json()["detail"]
    assert api.case(case_id)["events"] == before["events"]


@pytest.mark.parametrize("action", ["timeout", "remind", "escalate", "flag_overdue"])
def test_scheduler_steps_are_forbidden_to_api_callers(api: Api, action: str) -> None:
    api.order()
    case_id = api.complete_quality_case()
    assert api.act(case_id, action).status_code == 403
    assert api.act(case_id, action, **PLATFORM).status_code == 403
    assert api.act(case_id, action, headers=api.buyer()).status_code == 403
    assert api.case(case_id)["status"] == "awaiting_return"


def test_a_wrong_status_answers_409_with_the_current_status_in_chinese(api: Api) -> None:
    api.order()
    case_id = api.complete_quality_case()
    response = api.act(case_id, "refund")
    assert response.status_code == 409
    assert response.json()["detail"] == "售后单当前状态为“待寄回商品”，不能执行“退款已发放”操作"


# ---------------------------------------------------------------- refund failure


def test_a_failed_refund_keeps_the_case_refunding_and_hands_it_to_an_agent(api: Api) -> None:
    api.order(status="paid")
    case_id = api.file(reason="no_reason", remedy="refund_only").json()["case_id"]
    before = api.case(case_id)
    assert before["status"] == "refunding"

    assert api.act(case_id, "refund_failed", **PLATFORM).status_code == 422  # the why is required
    assert api.act(case_id, "refund_failed", headers=api.buyer(), reason="x").status_code == 403
    failed = ok(api.act(case_id, "refund_failed", reason="原支付银行卡已注销", **PLATFORM))
    assert failed["status"] == "refunding"
    assert len(failed["events"]) == len(before["events"]) + 1
    event = failed["events"][-1]
    assert (event["action"], event["from_status"], event["to_status"]) == ("refund_failed", "refunding", "refunding")
    assert event["reason"] == "原支付银行卡已注销" and event["actor_role"] == "platform"
    assert event["data"]["handoff"] is True
    assert failed["deadline"] == before["deadline"]  # the refund is still owed by the same deadline
    assert progress(api, case_id)["timeline"][-1]["label"] == "退款失败，已转人工处理"

    done = ok(api.act(case_id, "refund", **PLATFORM))
    assert done["status"] == "completed"
    assert actions(done) == ["file", "proceed", "refund_failed", "refund", "complete"]


def test_a_late_first_reply_on_a_repair_settles_its_penalty_when_the_merchant_answers(api: Api) -> None:
    api.order()
    case = file_quality(api, "repair")
    ship_back_and_receive(api, case["case_id"])
    ok(api.act(case["case_id"], "inspect_pass"))  # Friday 20 Nov: first reply due Tuesday 24 Nov
    api.clock.advance(days=5)  # Wednesday 25 Nov: one day late
    replied = ok(api.act(case["case_id"], "note", reason="已收到，正在检测"))
    assert replied["events"][-1]["data"]["overdue_step"] == "repair_first_reply"
    assert replied["events"][-1]["data"]["days_late"] == 1
    assert replied["events"][-1]["data"]["penalty"] == "1.40"  # 0.5 % of 279.00, half-up
    penalty = progress(api, case["case_id"])["overdue_penalty"]
    assert penalty["amount"] == "1.40" and penalty["days_late"] == 0  # settled; the finish clock is on time
    again = ok(api.act(case["case_id"], "note", reason="配件已到"))
    assert "penalty" not in again["events"][-1]["data"]  # a later note on time adds nothing


def test_the_buyer_rates_a_completed_case_once_with_an_optional_comment(api: Api) -> None:
    api.order()
    case_id = api.complete_quality_case()  # an exchange, awaiting the return
    buyer = api.buyer()
    assert api.act(case_id, "rate", buyer, rating=5).status_code == 409  # not completed yet: nothing to rate
    ok(api.act(case_id, "ship_return", buyer, reason="SF1234567890123"))
    ok(api.act(case_id, "receive"))
    ok(api.act(case_id, "inspect_pass"))
    done = ok(api.act(case_id, "ship_replacement"))
    assert done["status"] == "completed"

    assert api.act(case_id, "rate", rating=5).status_code == 403  # the merchant cannot rate for the buyer
    assert api.act(case_id, "rate", buyer).status_code == 422  # a score is needed
    assert api.act(case_id, "rate", buyer, rating=6).status_code == 422
    assert api.act(case_id, "note", rating=5, reason="x").status_code == 422  # a score belongs to a rating only
    rated = ok(api.act(case_id, "rate", buyer, rating=4, reason="换货很快，客服耐心"))
    assert rated["status"] == "completed"
    event = rated["events"][-1]
    assert (event["action"], event["actor_role"], event["data"], event["reason"]) == (
        "rate", "buyer", {"rating": 4}, "换货很快，客服耐心")
    again = api.act(case_id, "rate", buyer, rating=1)
    assert again.status_code == 409 and again.json()["detail"] == "这个售后单已经评价过了，感谢您的反馈"
    assert [e["action"] for e in api.case(case_id)["events"]].count("rate") == 1
