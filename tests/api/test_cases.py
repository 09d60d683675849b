"""Filing cases through the API: decisions, idempotency, duplicates, materials, progress, scoping."""

from __future__ import annotations

from tests.support.api import Api
from tests.support import media


def test_eligibility_lists_every_missing_material_at_once_and_writes_nothing(api: Api) -> None:
    api.order()
    response = api.client.post("/api/v1/eligibility", json=api.request(), headers=api.buyer())
    body = response.json()
    assert response.status_code == 200
    assert body["decision"] == "needs_materials"
    assert [(m["code"], m["label"], m["min_count"]) for m in body["missing_materials"]] == [
        ("description", "问题描述", 1), ("defect_photo", "问题部位照片", 1), ("defect_video", "故障视频", 1)]
    assert body["rules"][0]["id"] == "R-QUALITY-7" and body["rules"][0]["basis"]
    assert api.client.get("/api/v1/cases", headers=api.service).json()["total"] == 0


def test_a_complete_no_reason_return_is_approved_at_once_with_refund_and_deadline(api: Api) -> None:
    api.order(freight_insurance=True)
    response = api.file(reason="no_reason", remedy="return_refund",
                        materials=[{"code": "intact_confirmation"}])
    case = response.json()
    assert response.status_code == 201
    assert case["status"] == "awaiting_return"
    assert case["decision"]["decision"] == "eligible"
    assert case["decision"]["refund"]["amount"] == "279.00"  # 299 less the 20 coupon; buyer's choice: no shipping
    assert case["decision"]["return_shipping_paid_by"] == "insurance"
    assert case["deadline"]["step"] == "ship_return"
    assert case["deadline"]["due_at"] == "2026-11-25T23:59:59+08:00"  # 3 working days after Friday 20 Nov
    assert [e["action"] for e in case["events"]] == ["file", "proceed"]
    assert case["case_id"].startswith("AS") and len(case["case_id"]) == 14


def test_filing_with_the_same_idempotency_key_returns_the_same_case(api: Api) -> None:
    api.order()
    headers = {**api.buyer(), "Idempotency-Key": "chat-42-turn-7"}
    first = api.file(headers=headers)
    second = api.file(headers=headers)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["case_id"] == second.json()["case_id"]
    assert api.client.get("/api/v1/cases", headers=api.service).json()["total"] == 1


def test_reusing_an_idempotency_key_for_a_different_request_is_refused(api: Api) -> None:
    api.order()
    headers = {**api.buyer(), "Idempotency-Key": "k-1"}
    api.file(headers=headers)
    response = api.file(headers=headers, remedy="repair")
    assert response.status_code == 422
    assert "Idempotency-Key" in response.json()["detail"]


def test_a_second_request_for_an_item_with_an_open_case_returns_the_open_case(api: Api) -> None:
    api.order()
    first = api.file().json()
    response = api.file(remedy="repair")
    assert response.status_code == 409
    assert response.json()["case_id"] == first["case_id"]
    assert response.json()["decision"]["decision"] == "duplicate"
    decision = api.client.post("/api/v1/eligibility", json=api.request(), headers=api.buyer()).json()
    assert decision["decision"] == "duplicate" and decision["existing_case_id"] == first["case_id"]


def test_an_ineligible_request_is_refused_with_its_basis_and_not_filed(api: Api) -> None:
    api.order(delivered_days=10)
    response = api.file(reason="no_reason", remedy="return_refund")
    assert response.status_code == 422
    assert response.json()["decision"]["decision"] == "ineligible"
    assert response.json()["decision"]["rules"][0]["id"] == "R-7DAY-LATE"
    assert api.client.get("/api/v1/cases", headers=api.service).json()["total"] == 0


def test_filing_without_a_remedy_is_refused_with_the_allowed_ones(api: Api) -> None:
    api.order()
    response = api.file(remedy=None)
    assert response.status_code == 422
    assert response.json()["decision"]["allowed_remedies"] == ["return_refund", "exchange", "repair", "partial_refund"]


def test_materials_added_later_complete_the_case_and_are_never_asked_again(api: Api) -> None:
    api.order()
    case = api.file().json()
    assert case["status"] == "awaiting_materials"
    photo = api.upload()
    partial = api.materials(case["case_id"], [{"code": "defect_photo", "upload_id": photo}]).json()
    assert partial["status"] == "awaiting_materials"
    assert [m["code"] for m in partial["decision"]["missing_materials"]] == ["description", "defect_video"]
    api.clock.advance(days=6)  # d was fixed at filing: arriving on day 9 after delivery is not late
    done = api.materials(case["case_id"], [{"code": "description", "text": "鞋底开胶，走路进水"},
                                           {"code": "defect_video", "upload_id": api.upload(media.mp4(), name="a.mp4")}])
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "awaiting_return"
    assert done.json()["decision"]["rules"][0]["id"] == "R-QUALITY-7"


def test_a_video_cannot_stand_in_for_a_photo(api: Api) -> None:
    api.order()
    case = api.file().json()
    video = api.upload(media.mp4(), name="a.mp4")
    response = api.materials(case["case_id"], [{"code": "defect_photo", "upload_id": video}])
    assert response.status_code == 422
    assert response.json()["detail"] == "“问题部位照片”需要图片文件"
    assert api.case(case["case_id"])["materials"] == []


def test_evidence_already_on_another_buyers_case_sends_the_case_to_review(api: Api) -> None:
    api.order()
    api.order("2026111800000099", buyer_id="b_2002")
    shared = media.jpeg("green")
    other = api.client.post("/api/v1/cases", headers=api.buyer("b_2002"), json=api.request(
        order_id="2026111800000099", buyer_id="b_2002", materials=[
            {"code": "defect_photo", "upload_id": api.upload(shared, name="x.jpg", buyer_id="b_2002")}]))
    assert other.status_code == 201, other.text
    case = api.complete_quality_case()
    assert api.case(case)["status"] == "awaiting_return"  # own evidence, nobody else's: no review
    api.order("2026111800000077")
    mine = api.client.post("/api/v1/cases", headers=api.buyer(), json=api.request(
        order_id="2026111800000077", materials=[
            {"code": "description", "text": "鞋面破了一个洞"},
            {"code": "defect_photo", "upload_id": api.upload(shared, name="y.jpg")},
            {"code": "defect_video", "upload_id": api.upload(media.mp4(b"v2"), name="v.mp4")}]))
    assert mine.json()["status"] == "pending_review"
    assert "R-REVIEW-SHARED-EVIDENCE" in [r["id"] for r in mine.json()["decision"]["rules"]]


def test_progress_shows_stage_next_step_in_chinese_and_deadline(api: Api) -> None:
    api.order()
    case_id = api.complete_quality_case()
    progress = api.client.get(f"/api/v1/cases/{case_id}/progress", headers=api.buyer()).json()
    assert progress["status_label"] == "待寄回商品"
    assert [s["state"] for s in progress["stages"]] == ["done", "done", "current", "todo", "todo", "todo"]
    assert progress["next_step"]["party"] == "buyer"
    assert "寄回" in progress["next_step"]["text"] and "运费由商家承担" in progress["next_step"]["text"]
    assert progress["deadline"]["due_at"] == "2026-11-25T23:59:59+08:00"
    assert progress["return_address"]
    assert progress["overdue_penalty"] is None
    assert "cancel" in progress["buyer_actions"]


def test_merchant_lateness_accrues_half_a_percent_a_day_in_progress(api: Api) -> None:
    api.order()
    case_id = api.complete_quality_case()
    api.materials(case_id, [{"code": "return_tracking", "text": "SF1234567890123"}])
    assert api.act(case_id, "receive").status_code == 200  # Friday 20 Nov: inspect by Wed 25 Nov
    api.clock.advance(days=7)  # Friday 27 Nov: two days late
    progress = api.client.get(f"/api/v1/cases/{case_id}/progress", headers=api.buyer()).json()
    assert progress["deadline"]["overdue"] is True
    assert progress["overdue_penalty"] == {"days_late": 2, "amount": "2.79", "currency": "CNY", "rate_per_day": "0.005"}
    passed = api.act(case_id, "inspect_pass").json()
    assert passed["events"][-1]["data"]["penalty"] == "2.79"
    after = api.client.get(f"/api/v1/cases/{case_id}/progress", headers=api.buyer()).json()
    assert after["overdue_penalty"]["amount"] == "2.79"  # settled, still reported


def test_a_buyer_never_sees_or_changes_another_buyers_case(api: Api) -> None:
    api.order()
    case_id = api.file().json()["case_id"]
    other = api.buyer("b_2002")
    assert api.client.get(f"/api/v1/cases/{case_id}", headers=other).status_code == 404
    assert api.client.get(f"/api/v1/cases/{case_id}/progress", headers=other).status_code == 404
    assert api.act(case_id, "cancel", headers=other).status_code == 404
    assert api.materials(case_id, [{"code": "description", "text": "不是我的单子"}], buyer_id="b_2002").status_code == 404
    assert api.client.get("/api/v1/cases?buyer_id=b_1001", headers=other).json()["total"] == 0
    filed_for_other = api.client.post("/api/v1/cases", json=api.request(), headers=other)
    assert filed_for_other.status_code == 404
    assert api.case(case_id)["status"] == "awaiting_materials"


def test_case_list_filters_by_status_and_order_and_pages(api: Api) -> None:
    items = [{"item_id": str(n), "sku": f"S{n}", "title": f"商品{n}", "quantity": 1, "unit_price": "10.00"}
             for n in range(1, 4)]
    api.order(items=items, discount_total="0.00")
    for n in range(1, 4):
        assert api.file(item_id=str(n), reason="no_reason", remedy="return_refund").status_code == 201
    listing = api.client.get("/api/v1/cases?order_id=2026111812345678&status=awaiting_materials&limit=2",
                             headers=api.service).json()
    assert listing["total"] == 3 and len(listing["cases"]) == 2
    assert api.client.get("/api/v1/cases?status=completed", headers=api.service).json()["total"] == 0


def test_changing_the_remedy_before_approval_re_decides_the_case(api: Api) -> None:
    api.order()
    case_id = api.file().json()["case_id"]
    changed = api.act(case_id, "change_remedy", headers=api.buyer(), remedy="return_refund")
    assert changed.status_code == 200, changed.text
    assert changed.json()["remedy"] == "return_refund"
    assert changed.json()["status"] == "awaiting_materials"
    refused = api.act(case_id, "change_remedy", headers=api.buyer(), remedy="resend")
    assert refused.status_code == 422
    assert api.case(case_id)["remedy"] == "return_refund"
