"""Confirming and filing a case, materials, progress, return tracking and cancelling."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.events import FollowupAction, SlotSet

from actions import texts
from actions.backend_client import BackendError
from actions.cases import (
    AttachMaterials,
    CancelCase,
    CancelRequest,
    CheckProgress,
    ConfirmCase,
    FileCase,
    SubmitTracking,
)

SHOES_ORDER = "2026111812345678"
SHOES_CASE = "AS261120460257"     # quality, return_refund; missing 问题描述 + 问题部位照片
JACKET_CASE = "AS261120623616"    # not_as_described; missing 问题描述 + 所收商品整体照片 + 吊牌/标签/规格照片
REQUEST = {"order_id": SHOES_ORDER, "item_id": "1", "reason": "quality", "remedy": "return_refund"}
RESET = [SlotSet("order_id", None), SlotSet("item_id", None), SlotSet("reason", None), SlotSet("remedy", None),
         SlotSet("product", None), SlotSet("stage", None)]
QUALITY_BASIS = "签收7日内出现质量问题，可选择退货、换货或维修（三包规定第九条）"
RETURN_STEP = ("请在11月25日 23:59前把商品寄回：浙江省杭州市余杭区文一西路 969 号 售后仓 收件人：售后组 电话：0571-00000000。"
               "运费由商家承担，寄出后请告诉我退货快递单号")
UP1, UP2 = "up_" + "1" * 32, "up_" + "2" * 32
CONFIRM_BUTTONS = [{"title": "确认提交", "payload": "/affirm"}, {"title": "先不提交", "payload": "/deny"}]
REMEDY_BUTTONS = [{"title": "退货退款", "payload": '/inform{"remedy": "return_refund"}'},
                  {"title": "换货", "payload": '/inform{"remedy": "exchange"}'},
                  {"title": "维修", "payload": '/inform{"remedy": "repair"}'},
                  {"title": "折价退款/补偿", "payload": '/inform{"remedy": "partial_refund"}'}]


def _photo(upload_id: str, material: str | None = None) -> dict[str, Any]:
    return {"upload_id": upload_id, "material": material}


# ================================================================ ConfirmCase


def test_the_summary_names_order_item_reason_remedy_refund_shipping_and_missing_materials(
        run: Any, said: Any, make_tracker: Any, backend: Any) -> None:
    events = run(ConfirmCase(), make_tracker(slots=REQUEST))

    assert events == [SlotSet("stage", "confirming")]
    assert said() == [("请确认您的售后申请：\n订单：2026111812345678\n商品：男士跑步鞋 黑色 42码\n问题：质量问题\n处理方式：退货退款"
                       "\n预计退款：289.00元\n退货运费：商家承担\n提交后还需要补充：问题描述、问题部位照片\n确认提交吗？",
                       CONFIRM_BUTTONS)]
    assert backend.calls_to("eligibility") == [({**REQUEST, "buyer_id": "b_1001"}, "b_1001")]


def test_the_summary_leaves_out_refund_and_materials_when_there_are_none(run: Any, said: Any, make_tracker: Any,
                                                                         backend: Any) -> None:
    backend.decision.update(decision="eligible", remedy="exchange", refund=None, missing_materials=[],
                            return_shipping_paid_by="insurance")

    run(ConfirmCase(), make_tracker(slots={**REQUEST, "remedy": "exchange"}))

    assert said() == [("请确认您的售后申请：\n订单：2026111812345678\n商品：男士跑步鞋 黑色 42码\n问题：质量问题\n处理方式：换货"
                       "\n退货运费：运费险赔付\n确认提交吗？", CONFIRM_BUTTONS)]


def test_the_summary_of_an_item_in_a_larger_order_names_that_item(run: Any, said: Any, make_tracker: Any) -> None:
    run(ConfirmCase(), make_tracker(slots={**REQUEST, "order_id": "2026111600000009", "item_id": "3"}))

    assert "\n商品：陶瓷马克杯 350ml\n" in said()[0][0]


def test_a_duplicate_request_tells_the_existing_case_id_and_remembers_it(run: Any, said: Any, make_tracker: Any,
                                                                         backend: Any, canned: Any) -> None:
    backend.decision = canned("decision_duplicate")

    events = run(ConfirmCase(), make_tracker(slots=REQUEST))

    assert events == [*RESET, SlotSet("case_id", SHOES_CASE)]
    [(text, buttons)] = said()
    assert SHOES_CASE in text and text.startswith("这件商品已经有一个进行中的售后单")
    assert buttons == []


def test_a_duplicate_request_names_the_existing_cases_status_in_chinese(run: Any, said: Any, make_tracker: Any,
                                                                        backend: Any, canned: Any) -> None:
    backend.decision = canned("decision_duplicate")  # existing_case_status: "awaiting_materials"

    run(ConfirmCase(), make_tracker(slots=REQUEST))

    [(text, _)] = said()
    assert "awaiting_materials" not in text
    assert "待补充凭证" in text


def test_an_ineligible_remedy_gives_the_basis_and_offers_the_allowed_remedies_as_buttons(
        run: Any, said: Any, make_tracker: Any, backend: Any, canned: Any) -> None:
    backend.decision = canned("decision_remedy_not_allowed")

    run(ConfirmCase(), make_tracker(slots={**REQUEST, "remedy": "resend"}))

    assert said() == [(f"抱歉，这次申请不符合售后政策：{QUALITY_BASIS}", []), (texts.ASK_REMEDY, REMEDY_BUTTONS)]


def test_an_ineligible_remedy_keeps_the_order_item_and_reason_the_offered_remedies_apply_to(
        run: Any, make_tracker: Any, backend: Any, canned: Any) -> None:
    backend.decision = canned("decision_remedy_not_allowed")

    events = run(ConfirmCase(), make_tracker(slots={**REQUEST, "remedy": "resend"}))

    # The buttons only carry a remedy (/inform{"remedy": …}): the rest of the request must survive
    # for them to complete it, instead of the form starting over at the order number.
    assert SlotSet("remedy", None) in events
    cleared = [e["name"] for e in events if e["name"] in ("order_id", "item_id", "reason") and e["value"] is None]
    assert cleared == []


@pytest.mark.parametrize("remedy", ["return_refund", None])
def test_an_ineligible_request_gives_the_basis_and_offers_a_person(remedy: str | None, run: Any, said: Any,
                                                                   make_tracker: Any, backend: Any,
                                                                   canned: Any) -> None:
    backend.decision = canned("decision_ineligible")
    basis = backend.decision["rules"][0]["basis"]

    events = run(ConfirmCase(), make_tracker(slots={**REQUEST, "remedy": remedy}))

    assert events == RESET
    assert said() == [(f"抱歉，这次申请不符合售后政策：{basis}", []), (texts.INELIGIBLE_OFFER_HUMAN, [])]


def test_the_summary_says_the_backend_is_down_politely_and_keeps_the_request(run: Any, said: Any,
                                                                             make_tracker: Any, backend: Any) -> None:
    backend.down("eligibility")

    assert run(ConfirmCase(), make_tracker(slots=REQUEST)) == []
    assert said() == [(texts.BACKEND_DOWN, [])]


def test_the_summary_repeats_the_backends_refusal_and_drops_the_request(run: Any, said: Any, make_tracker: Any,
                                                                        backend: Any, backend_error: Any) -> None:
    backend.fail("eligibility", backend_error("order_not_found"))

    assert run(ConfirmCase(), make_tracker(slots=REQUEST)) == RESET
    assert said() == [("未找到该订单，请核对订单号", [])]


# ================================================================ FileCase


def test_filing_sends_the_request_with_an_idempotency_key(run: Any, make_tracker: Any, backend: Any) -> None:
    run(FileCase(), make_tracker(text="确认", intent="affirm", slots=REQUEST))

    [(request, buyer, key)] = backend.calls_to("file_case")
    assert (request, buyer) == ({**REQUEST, "buyer_id": "b_1001"}, "b_1001")
    assert key.startswith("bot-")


def test_filing_the_same_request_in_the_same_conversation_twice_sends_the_same_key(
        run: Any, make_tracker: Any, backend: Any) -> None:
    for text in ("确认", "确认提交"):  # the buyer says yes again after a lost answer
        run(FileCase(), make_tracker(text=text, intent="affirm", slots=REQUEST))
    run(FileCase(), make_tracker(slots={**REQUEST, "remedy": "exchange"}))
    run(FileCase(), make_tracker(slots=REQUEST, sender_id="web:other"))

    first, again, other_remedy, other_conversation = [key for _, _, key in backend.calls_to("file_case")]
    assert first == again
    assert len({first, other_remedy, other_conversation}) == 3


def test_a_filed_case_lists_every_missing_material_in_one_message(run: Any, said: Any, make_tracker: Any) -> None:
    events = run(FileCase(), make_tracker(text="确认", intent="affirm", slots=REQUEST))

    assert events == [*RESET, SlotSet("case_id", SHOES_CASE), SlotSet("stage", "collecting_materials")]
    assert said() == [
        (f"已为您提交售后申请，售后单号 {SHOES_CASE}。", []),
        ("还需要您补充以下凭证（可一次全部发送）：\n· 问题描述：用至少5个字说明问题\n· 问题部位照片：清晰拍摄问题部位\n"
         "请在11月27日 23:59前上传；现在不方便的话，说“等会儿再传”也可以，随时回来补。", []),
    ]


def test_the_missing_materials_also_go_out_as_data_for_upload_slots(run: Any, dispatcher: Any,
                                                                     make_tracker: Any) -> None:
    run(FileCase(), make_tracker(text="确认", intent="affirm", slots=REQUEST))

    request = dispatcher.messages[1]["custom"]
    assert request["type"] == "materials_request"
    assert request["case_id"] == SHOES_CASE
    assert [(m["code"], m["label"], m["min_count"], m["have_count"]) for m in request["materials"]] == [
        ("description", "问题描述", 1, 0), ("defect_photo", "问题部位照片", 1, 0)]


def test_a_material_needed_more_than_once_says_how_many(run: Any, said: Any, make_tracker: Any,
                                                        backend: Any) -> None:
    backend.filed["decision"]["missing_materials"][1]["min_count"] = 3

    run(FileCase(), make_tracker(slots=REQUEST))

    assert "\n· 问题部位照片×3：清晰拍摄问题部位\n" in said()[1][0]


def test_a_filed_case_that_goes_to_review_says_when_the_answer_comes(run: Any, said: Any, make_tracker: Any,
                                                                     backend: Any) -> None:
    backend.filed.update(status="pending_review", status_label="审核中",
                         deadline={"step": "review", "label": "审核申请", "party": "merchant",
                                   "due_at": "2026-11-23T23:59:59+08:00", "estimated": False, "overdue": False})

    events = run(FileCase(), make_tracker(slots=REQUEST))

    assert events == [*RESET, SlotSet("case_id", SHOES_CASE), SlotSet("stage", None)]
    assert said() == [(f"已为您提交售后申请，售后单号 {SHOES_CASE}。", []),
                      ("您的申请需要客服人工审核，11月23日 23:59前会给您答复。", [])]


def test_a_filed_case_awaiting_the_return_gives_the_next_step(run: Any, said: Any, make_tracker: Any, backend: Any,
                                                              canned: Any) -> None:
    backend.filed = canned("case_awaiting_return")
    backend.progresses[SHOES_CASE] = canned("progress_awaiting_return")

    events = run(FileCase(), make_tracker(slots=REQUEST))

    assert events == [*RESET, SlotSet("case_id", SHOES_CASE), SlotSet("stage", "awaiting_return")]
    assert said() == [(f"已为您提交售后申请，售后单号 {SHOES_CASE}。", []), (f"下一步：{RETURN_STEP}", [])]


def test_a_refusal_to_file_shows_the_backends_message_and_remembers_the_existing_case(
        run: Any, said: Any, make_tracker: Any, backend: Any, backend_error: Any) -> None:
    backend.fail("file_case", backend_error("open_case_exists"))

    events = run(FileCase(), make_tracker(slots=REQUEST))

    assert events == [*RESET, SlotSet("case_id", SHOES_CASE)]
    assert said() == [("该商品已有进行中的售后单", [])]


def test_a_refusal_to_file_without_a_case_shows_the_backends_message(run: Any, said: Any, make_tracker: Any,
                                                                     backend: Any) -> None:
    backend.fail("file_case", BackendError(422, "该申请不符合售后政策：超过7天", {"detail": "该申请不符合售后政策：超过7天"}))

    assert run(FileCase(), make_tracker(slots=REQUEST)) == RESET
    assert said() == [("该申请不符合售后政策：超过7天", [])]


def test_filing_says_the_backend_is_down_politely_and_keeps_the_request(run: Any, said: Any, make_tracker: Any,
                                                                        backend: Any) -> None:
    backend.down("file_case")

    events = run(FileCase(), make_tracker(slots={**REQUEST, "stage": "confirming"}))

    assert said() == [(texts.BACKEND_DOWN, [])]
    assert [e for e in events if e["name"] in REQUEST] == []


def test_filing_while_the_backend_is_down_leaves_the_confirmation_open_for_a_second_yes(
        run: Any, make_tracker: Any, backend: Any) -> None:
    backend.down("file_case")

    events = run(FileCase(), make_tracker(slots={**REQUEST, "stage": "confirming"}))

    # texts.BACKEND_DOWN asks the buyer to send the message again; only stage=confirming lets the
    # rules file on that second yes (with the same idempotency key).
    assert SlotSet("stage", None) not in events


def test_a_filed_case_is_still_reported_when_its_next_step_cannot_be_looked_up(
        run: Any, said: Any, make_tracker: Any, backend: Any, canned: Any) -> None:
    backend.filed = canned("case_awaiting_return")
    backend.down("progress")

    events = run(FileCase(), make_tracker(slots=REQUEST))

    assert said()[0] == (f"已为您提交售后申请，售后单号 {SHOES_CASE}。", [])
    assert SlotSet("case_id", SHOES_CASE) in events


# ================================================================ CancelRequest


def test_a_no_at_the_summary_files_nothing_and_forgets_the_request(run: Any, said: Any, make_tracker: Any,
                                                                   backend: Any) -> None:
    events = run(CancelRequest(), make_tracker(text="先不提交", intent="deny", slots=REQUEST))

    assert events == RESET
    assert said() == [(texts.CANCELLED_REQUEST, [])]
    assert backend.calls == []


# ================================================================ AttachMaterials


@pytest.fixture
def collecting(make_tracker: Any, backend: Any, canned: Any) -> Any:
    """The buyer's message while the case `case` is collecting materials."""
    def build(case: str = "case_awaiting_materials", *, text: str = "", attachments: list[dict[str, Any]] | None = None,
              missing: list[str] | None = None, entities: list[dict[str, Any]] | None = None,
              intent: str = "inform") -> Any:
        body = canned(case)
        if missing is not None:
            labels = canned("vocabulary")["materials"]
            body["decision"]["missing_materials"] = [
                {"code": code, "label": labels[code], "min_count": 1, "have_count": 0, "hint": "…"} for code in missing]
        backend.cases[body["case_id"]] = body
        backend.progresses.setdefault(SHOES_CASE, canned("progress_awaiting_return"))  # for the default after_materials
        return make_tracker(text=text, entities=entities or [], intent=intent,
                            slots={"case_id": body["case_id"], "stage": "collecting_materials"},
                            metadata={"buyer_id": "b_1001", "attachments": attachments or []})
    return build


def _still_missing(canned: Any, case: str, *codes: str) -> dict[str, Any]:
    body = canned(case)
    body["decision"]["missing_materials"] = [m for m in body["decision"]["missing_materials"] if m["code"] in codes]
    return body


def test_untagged_photos_fill_the_outstanding_photo_materials_in_checklist_order(
        run: Any, said: Any, collecting: Any, backend: Any, canned: Any) -> None:
    backend.after_materials = _still_missing(canned, "case_not_as_described", "description")

    events = run(AttachMaterials(), collecting("case_not_as_described", attachments=[_photo(UP1), _photo(UP2)]))

    assert backend.calls_to("add_materials") == [(JACKET_CASE, [{"code": "item_photo", "upload_id": UP1},
                                                                {"code": "label_photo", "upload_id": UP2}], "b_1001")]
    assert events == [SlotSet("stage", "collecting_materials")]
    assert said() == [("已收到：所收商品整体照片、吊牌/标签/规格照片。", []), ("还差：问题描述。", [])]


@pytest.mark.parametrize("checklist", [["package_photo", "defect_photo", "waybill_photo"],  # damaged_in_transit
                                       ["contents_photo", "waybill_photo"]])                   # missing_item
def test_untagged_photos_follow_the_cases_checklist_not_a_fixed_order(checklist: list[str], run: Any,
                                                                      collecting: Any, backend: Any) -> None:
    uploads = [f"up_{i:032x}" for i in range(len(checklist))]

    run(AttachMaterials(), collecting(attachments=[_photo(u) for u in uploads], missing=checklist))

    assert backend.calls_to("add_materials")[0][1] == [{"code": code, "upload_id": u}
                                                       for code, u in zip(checklist, uploads)]


def test_a_tagged_attachment_keeps_its_material_and_untagged_ones_fill_the_rest(
        run: Any, collecting: Any, backend: Any, canned: Any) -> None:
    backend.after_materials = _still_missing(canned, "case_not_as_described", "description")

    run(AttachMaterials(), collecting("case_not_as_described", attachments=[_photo(UP1, "label_photo"), _photo(UP2)]))

    assert backend.calls_to("add_materials")[0][1] == [{"code": "label_photo", "upload_id": UP1},
                                                       {"code": "item_photo", "upload_id": UP2}]


def test_an_untagged_file_goes_to_the_video_when_only_a_video_is_missing(run: Any, collecting: Any,
                                                                         backend: Any) -> None:
    run(AttachMaterials(), collecting(attachments=[_photo(UP1)], missing=["defect_video"]))

    assert backend.calls_to("add_materials")[0][1] == [{"code": "defect_video", "upload_id": UP1}]


def test_a_typed_sentence_of_five_characters_or_more_becomes_the_missing_description(
        run: Any, collecting: Any, backend: Any) -> None:
    run(AttachMaterials(), collecting(text="鞋底开胶了，走路会进水", attachments=[_photo(UP1)]))

    assert backend.calls_to("add_materials")[0][1] == [{"code": "defect_photo", "upload_id": UP1},
                                                       {"code": "description", "text": "鞋底开胶了，走路会进水"}]


@pytest.mark.parametrize("text", ["开胶了", '/inform{"reason": "quality"}', "   好的   "])
def test_a_short_text_or_a_button_payload_is_not_taken_as_the_description(text: str, run: Any, collecting: Any,
                                                                           backend: Any) -> None:
    run(AttachMaterials(), collecting(text=text, attachments=[_photo(UP1)]))

    assert backend.calls_to("add_materials")[0][1] == [{"code": "defect_photo", "upload_id": UP1}]


def test_a_text_is_not_sent_as_a_description_when_none_is_missing(run: Any, collecting: Any, backend: Any) -> None:
    run(AttachMaterials(), collecting(text="这是外包装的照片", attachments=[_photo(UP1)], missing=["package_photo"]))

    assert backend.calls_to("add_materials")[0][1] == [{"code": "package_photo", "upload_id": UP1}]


def test_confirming_the_goods_are_intact_is_sent_as_the_confirmation(run: Any, collecting: Any, backend: Any) -> None:
    run(AttachMaterials(), collecting(text="确认完好", missing=["intact_confirmation"]))

    assert backend.calls_to("add_materials")[0][1] == [{"code": "intact_confirmation", "seal_intact": True}]


def test_saying_later_without_files_saves_nothing_and_gives_the_due_date(run: Any, said: Any, collecting: Any,
                                                                         backend: Any) -> None:
    events = run(AttachMaterials(), collecting(text="等会儿再传", missing=["defect_photo"]))

    assert events == [SlotSet("stage", "collecting_materials")]
    assert said() == [("没问题，您的申请已保存，请在11月27日 23:59前回来补充凭证即可。", [])]
    assert backend.calls_to("add_materials") == []


@pytest.mark.parametrize("text", ["等会儿再传", "我等会儿再传吧", "晚点再上传照片"])
def test_saying_later_is_not_taken_as_the_description_when_a_description_is_missing(
        text: str, run: Any, said: Any, collecting: Any, backend: Any) -> None:
    events = run(AttachMaterials(), collecting(text=text))  # the real quality case: description + photo missing

    assert backend.calls_to("add_materials") == []
    assert events == [SlotSet("stage", "collecting_materials")]
    assert said() == [("没问题，您的申请已保存，请在11月27日 23:59前回来补充凭证即可。", [])]


def test_complete_materials_are_thanked_for_and_the_next_step_is_given(run: Any, said: Any, collecting: Any,
                                                                       backend: Any, canned: Any) -> None:
    backend.progresses[SHOES_CASE] = canned("progress_awaiting_return")

    events = run(AttachMaterials(), collecting(text="鞋底开胶了，走路会进水", attachments=[_photo(UP1)]))

    assert events == [SlotSet("stage", "awaiting_return")]
    assert said() == [("已收到：问题部位照片、问题描述。", []), (texts.MATERIALS_COMPLETE, []),
                      (f"下一步：{RETURN_STEP}", [])]
    assert said()[1][0] == "凭证已齐全，谢谢！"


def test_complete_materials_that_go_to_review_say_when_the_answer_comes(run: Any, said: Any, collecting: Any,
                                                                        backend: Any, canned: Any) -> None:
    backend.after_materials = {**canned("case_awaiting_return"), "status": "pending_review", "status_label": "审核中",
                               "deadline": {"step": "review", "label": "审核申请", "party": "merchant",
                                            "due_at": "2026-11-23T23:59:59+08:00", "estimated": False,
                                            "overdue": False}}

    events = run(AttachMaterials(), collecting(text="鞋底开胶了，走路会进水", attachments=[_photo(UP1)]))

    assert events == [SlotSet("stage", None)]
    assert said()[1:] == [(texts.MATERIALS_COMPLETE, []), ("您的申请需要客服人工审核，11月23日 23:59前会给您答复。", [])]


def test_complete_materials_are_still_acknowledged_when_the_next_step_cannot_be_looked_up(
        run: Any, said: Any, collecting: Any, backend: Any) -> None:
    tracker = collecting(text="鞋底开胶了，走路会进水", attachments=[_photo(UP1)])
    backend.down("progress")

    events = run(AttachMaterials(), tracker)

    assert said()[:2] == [("已收到：问题部位照片、问题描述。", []), (texts.MATERIALS_COMPLETE, [])]
    assert SlotSet("stage", "collecting_materials") not in events


def test_complete_materials_are_still_acknowledged_when_the_labels_cannot_be_fetched(
        run: Any, said: Any, collecting: Any, backend: Any) -> None:
    tracker = collecting(text="鞋底开胶了，走路会进水", attachments=[_photo(UP1)])
    backend.down("vocabulary")  # the materials were stored; only the labels for the answer are missing

    run(AttachMaterials(), tracker)

    assert (texts.MATERIALS_COMPLETE, []) in said()


def test_a_refused_material_shows_the_backends_message_and_keeps_collecting(
        run: Any, said: Any, collecting: Any, backend: Any, canned: Any) -> None:
    backend.fail("add_materials", BackendError(422, "凭证文件不存在或已失效，请重新上传"))

    events = run(AttachMaterials(), collecting(attachments=[_photo(UP1)]))

    assert events == [SlotSet("stage", "collecting_materials")]
    assert said() == [("凭证文件不存在或已失效，请重新上传", [])]


@pytest.mark.parametrize("method", ["case", "add_materials"])
def test_materials_say_the_backend_is_down_politely_and_keep_collecting(method: str, run: Any, said: Any,
                                                                        collecting: Any, backend: Any) -> None:
    tracker = collecting(attachments=[_photo(UP1)])
    backend.down(method)

    assert run(AttachMaterials(), tracker) == [SlotSet("stage", "collecting_materials")]
    assert said() == [(texts.BACKEND_DOWN, [])]


def test_files_without_a_remembered_case_only_leave_the_materials_stage(run: Any, said: Any, make_tracker: Any,
                                                                        backend: Any) -> None:
    tracker = make_tracker(text="照片", slots={"stage": "collecting_materials"},
                           metadata={"attachments": [_photo(UP1)]})

    assert run(AttachMaterials(), tracker) == [SlotSet("stage", None)]
    assert said() == []
    assert backend.calls == []


def test_another_order_number_while_collecting_starts_a_new_request(run: Any, said: Any, collecting: Any,
                                                                    backend: Any) -> None:
    tracker = collecting(text="还有订单2026111600000009的夹克也有问题",
                         entities=[{"entity": "order_id", "value": "2026111600000009"}])

    events = run(AttachMaterials(), tracker)

    assert events == [SlotSet("stage", None), SlotSet("order_id", "2026111600000009"),
                      FollowupAction("aftersales_form")]
    assert said() == []
    assert backend.calls_to("add_materials") == []


def test_another_remedy_while_collecting_changes_the_remedy_of_the_case(run: Any, said: Any, collecting: Any,
                                                                       backend: Any) -> None:
    tracker = collecting(text="还是换货吧", entities=[{"entity": "remedy", "value": "exchange"}])

    events = run(AttachMaterials(), tracker)

    assert backend.calls_to("transition") == [(SHOES_CASE, "change_remedy", "b_1001", {"remedy": "exchange"})]
    assert backend.calls_to("add_materials") == []
    assert events == [SlotSet("stage", "collecting_materials")]
    assert said() == [
        ("已为您把处理方式改为“换货”。", []),
        ("还需要您补充以下凭证（可一次全部发送）：\n· 问题描述：用至少5个字说明问题\n· 问题部位照片：清晰拍摄问题部位\n"
         "请在11月27日 23:59前上传；现在不方便的话，说“等会儿再传”也可以，随时回来补。", []),
    ]


def test_the_same_remedy_or_files_with_a_remedy_are_taken_as_materials(run: Any, collecting: Any,
                                                                       backend: Any) -> None:
    run(AttachMaterials(), collecting(text="退货退款，鞋底开胶了", entities=[{"entity": "remedy", "value": "return_refund"}]))
    run(AttachMaterials(), collecting(text="换货", attachments=[_photo(UP1)],
                                      entities=[{"entity": "remedy", "value": "exchange"}]))

    assert backend.calls_to("transition") == []
    assert [materials for _, materials, _ in backend.calls_to("add_materials")] == [
        [{"code": "description", "text": "退货退款，鞋底开胶了"}], [{"code": "defect_photo", "upload_id": UP1}]]


def test_a_remedy_change_is_still_confirmed_when_its_next_step_cannot_be_looked_up(
        run: Any, said: Any, collecting: Any, backend: Any, canned: Any) -> None:
    tracker = collecting(text="还是换货吧", entities=[{"entity": "remedy", "value": "exchange"}])
    backend.after_transition["change_remedy"] = {**canned("case_awaiting_return"), "remedy": "exchange"}
    backend.down("progress")

    events = run(AttachMaterials(), tracker)

    # The change is stored: say so, and keep the stage the case is in; no false "busy" message.
    assert said() == [("已为您把处理方式改为“换货”。", [])]
    assert events == [SlotSet("stage", "awaiting_return")]


def test_a_refused_remedy_change_shows_the_backends_message_and_keeps_collecting(run: Any, said: Any,
                                                                                 collecting: Any,
                                                                                 backend: Any) -> None:
    tracker = collecting(text="改成仅退款", entities=[{"entity": "remedy", "value": "refund_only"}])
    backend.fail("transition", BackendError(422, "该处理方式不可选：签收7日内出现质量问题，可选择退货、换货或维修（三包规定第九条）"))

    assert run(AttachMaterials(), tracker) == [SlotSet("stage", "collecting_materials")]
    assert said() == [("该处理方式不可选：签收7日内出现质量问题，可选择退货、换货或维修（三包规定第九条）", [])]


def test_a_remedy_change_says_the_backend_is_down_politely(run: Any, said: Any, collecting: Any,
                                                          backend: Any) -> None:
    tracker = collecting(text="还是换货吧", entities=[{"entity": "remedy", "value": "exchange"}])
    backend.down("transition")

    assert run(AttachMaterials(), tracker) == [SlotSet("stage", "collecting_materials")]
    assert said() == [(texts.BACKEND_DOWN, [])]


def test_a_description_that_mentions_tomorrow_is_still_taken_as_the_description(run: Any, collecting: Any,
                                                                                backend: Any) -> None:
    text = "鞋底开胶了，明天还要穿去上班"

    run(AttachMaterials(), collecting(text=text, attachments=[_photo(UP1)]))

    assert backend.calls_to("add_materials")[0][1] == [{"code": "defect_photo", "upload_id": UP1},
                                                       {"code": "description", "text": text}]


# ================================================================ CheckProgress


def test_a_buyer_with_several_open_cases_is_asked_which_one(run: Any, said: Any, make_tracker: Any,
                                                             backend: Any) -> None:
    events = run(CheckProgress(), make_tracker(text="我的售后到哪了", intent="check_progress"))

    assert events == []
    assert said() == [(texts.ASK_WHICH_CASE, [
        {"title": f"{JACKET_CASE} 防风夹克 藏青 M码（待补充凭证）", "payload": f'/check_progress{{"case_id": "{JACKET_CASE}"}}'},
        {"title": f"{SHOES_CASE} 男士跑步鞋 黑色 42码（待补充凭证）", "payload": f'/check_progress{{"case_id": "{SHOES_CASE}"}}'},
    ])]
    assert backend.calls_to("progress") == []


def test_the_only_open_case_is_reported_with_status_next_step_and_deadline(run: Any, dispatcher: Any, said: Any,
                                                                          make_tracker: Any, backend: Any,
                                                                          canned: Any) -> None:
    backend.open_case_list = backend.open_case_list[1:]
    backend.progresses[SHOES_CASE] = canned("progress_awaiting_materials")

    events = run(CheckProgress(), make_tracker(text="我的售后到哪了", intent="check_progress"))

    assert events == [SlotSet("case_id", SHOES_CASE)]
    assert said() == [(f"售后单 {SHOES_CASE}：待补充凭证\n请在11月27日 23:59前补充：问题描述、问题部位照片\n截止时间：11月27日 23:59",
                       [])]
    assert dispatcher.messages[0]["custom"] == {"type": "progress_card",
                                                "progress": canned("progress_awaiting_materials")}


def test_a_late_merchant_is_reported_with_the_overdue_compensation(run: Any, said: Any, make_tracker: Any,
                                                                   backend: Any, canned: Any) -> None:
    backend.open_case_list = backend.open_case_list[1:]
    backend.progresses[SHOES_CASE] = canned("progress_overdue")

    run(CheckProgress(), make_tracker(text="退款怎么还没到", intent="check_progress"))

    assert said() == [(f"售后单 {SHOES_CASE}：商家已收货，待验收\n商家已收到退货，将在11月25日 23:59前完成验收"
                       "\n截止时间：11月25日 23:59\n商家已超时5天，您可获得逾期补偿 6.98 元。", [])]


def test_an_estimated_deadline_is_marked_and_a_missing_one_is_left_out(run: Any, said: Any, make_tracker: Any,
                                                                       backend: Any, canned: Any) -> None:
    estimated = canned("progress_awaiting_materials")
    estimated["deadline"]["estimated"] = True
    backend.progresses = {SHOES_CASE: estimated, JACKET_CASE: {**canned("progress_awaiting_materials"),
                                                               "case_id": JACKET_CASE, "deadline": None}}

    run(CheckProgress(), make_tracker(text=f"查一下{SHOES_CASE}", intent="check_progress"))
    run(CheckProgress(), make_tracker(text=f"查一下{JACKET_CASE}", intent="check_progress"))

    assert [text.split("\n")[2:] for text, _ in said()] == [["截止时间：11月27日 23:59（预计）"], []]


def test_a_completed_case_is_reported_and_the_buyer_is_asked_for_a_rating(run: Any, said: Any, make_tracker: Any,
                                                                          backend: Any, canned: Any) -> None:
    backend.progresses[SHOES_CASE] = {**canned("progress_awaiting_materials"), "status": "completed",
                                      "status_label": "已完成", "deadline": None, "missing_materials": [],
                                      "next_step": {"party": None, "text": "售后已完成，感谢您的耐心等待"}}

    events = run(CheckProgress(), make_tracker(text=f"{SHOES_CASE}好了吗", intent="check_progress"))

    assert events == [SlotSet("case_id", SHOES_CASE)]
    assert said() == [(f"售后单 {SHOES_CASE}：已完成\n售后已完成，感谢您的耐心等待", []), (texts.ASK_RATING, [
        {"title": "5分 非常满意", "payload": '/rate_service{"rating": "5"}'},
        {"title": "4分 满意", "payload": '/rate_service{"rating": "4"}'},
        {"title": "3分 一般", "payload": '/rate_service{"rating": "3"}'},
        {"title": "2分 不满意", "payload": '/rate_service{"rating": "2"}'},
        {"title": "1分 很不满意", "payload": '/rate_service{"rating": "1"}'},
    ])]


def test_a_case_id_typed_in_the_message_is_the_one_reported(run: Any, make_tracker: Any, backend: Any,
                                                            canned: Any) -> None:
    backend.progresses[JACKET_CASE] = {**canned("progress_awaiting_materials"), "case_id": JACKET_CASE}

    events = run(CheckProgress(), make_tracker(text=f"{JACKET_CASE}到哪一步了", intent="check_progress"))

    assert events == [SlotSet("case_id", JACKET_CASE)]
    assert backend.calls_to("progress") == [(JACKET_CASE, "b_1001")]
    assert backend.calls_to("open_cases") == []


def test_a_case_id_from_a_button_entity_is_the_one_reported(run: Any, make_tracker: Any, backend: Any,
                                                            canned: Any) -> None:
    backend.progresses[JACKET_CASE] = {**canned("progress_awaiting_materials"), "case_id": JACKET_CASE}
    tracker = make_tracker(text=f'/check_progress{{"case_id": "{JACKET_CASE}"}}', intent="check_progress",
                           entities=[{"entity": "case_id", "value": JACKET_CASE}])

    assert run(CheckProgress(), tracker) == [SlotSet("case_id", JACKET_CASE)]


def test_an_unknown_case_id_gets_a_chinese_not_found_message(run: Any, said: Any, make_tracker: Any) -> None:
    events = run(CheckProgress(), make_tracker(text="AS2611209999999 怎么样了", intent="check_progress"))

    assert events == []
    assert said() == [(texts.CASE_NOT_FOUND, [])]


def test_a_buyer_without_open_cases_is_told_so(run: Any, said: Any, make_tracker: Any, backend: Any) -> None:
    backend.open_case_list = []

    assert run(CheckProgress(), make_tracker(text="我的售后", intent="check_progress")) == []
    assert said() == [(texts.NO_OPEN_CASE, [])]


def test_without_a_verified_buyer_progress_asks_to_sign_in_and_reads_nothing(run: Any, said: Any, make_tracker: Any,
                                                                              backend: Any) -> None:
    assert run(CheckProgress(), make_tracker(buyer=None, text=f"{SHOES_CASE}进度")) == []
    assert said() == [(texts.VERIFY_FIRST, [])]
    assert backend.calls == []


@pytest.mark.parametrize("method", ["open_cases", "progress"])
def test_progress_says_the_backend_is_down_politely(method: str, run: Any, said: Any, make_tracker: Any,
                                                    backend: Any) -> None:
    backend.open_case_list = backend.open_case_list[1:]
    backend.down(method)

    assert run(CheckProgress(), make_tracker(text="进度", intent="check_progress")) == []
    assert said() == [(texts.BACKEND_DOWN, [])]


# ================================================================ SubmitTracking


def _waiting(backend: Any, *case_ids: str) -> None:
    backend.open_case_list = [{**backend.open_case_list[1], "case_id": cid, "status": "awaiting_return",
                               "status_label": "待寄回商品"} for cid in case_ids]


def test_a_tracking_number_is_added_to_the_remembered_case(run: Any, said: Any, make_tracker: Any,
                                                           backend: Any) -> None:
    tracker = make_tracker(text="SF1234567890123", intent="submit_tracking",
                           slots={"case_id": SHOES_CASE, "tracking_number": "SF1234567890123",
                                  "stage": "awaiting_return"})

    events = run(SubmitTracking(), tracker)

    assert backend.calls_to("add_materials") == [(SHOES_CASE, [{"code": "return_tracking", "text": "SF1234567890123"}],
                                                  "b_1001")]
    assert events == [SlotSet("tracking_number", None), SlotSet("stage", None), SlotSet("case_id", SHOES_CASE)]
    assert said() == [("已记录退货快递单号 SF1234567890123，商家收到后会尽快验收。", [])]


def test_a_tracking_number_goes_to_the_one_case_awaiting_the_return(run: Any, make_tracker: Any,
                                                                    backend: Any) -> None:
    backend.open_case_list[0]["status"] = "awaiting_return"

    events = run(SubmitTracking(), make_tracker(slots={"tracking_number": "YT9876543210"}))

    assert backend.calls_to("add_materials")[0][0] == JACKET_CASE
    assert events[-1] == SlotSet("case_id", JACKET_CASE)


def test_a_tracking_number_without_a_case_awaiting_return_asks_which_case(run: Any, said: Any, make_tracker: Any,
                                                                          backend: Any) -> None:
    assert run(SubmitTracking(), make_tracker(slots={"tracking_number": "SF1234567890123"})) == []
    assert said() == [(texts.TRACKING_WHICH, [])]
    assert backend.calls_to("add_materials") == []


def test_with_two_cases_awaiting_return_the_buyer_is_not_told_there_is_none(run: Any, said: Any, make_tracker: Any,
                                                                            backend: Any) -> None:
    _waiting(backend, SHOES_CASE, JACKET_CASE)

    run(SubmitTracking(), make_tracker(slots={"tracking_number": "SF1234567890123"}))

    [(text, buttons)] = said()
    assert "没有等待寄回的售后单" not in text
    offered = text + "".join(b["payload"] for b in buttons)
    assert SHOES_CASE in offered and JACKET_CASE in offered


def test_a_message_without_a_tracking_number_asks_for_it(run: Any, said: Any, make_tracker: Any,
                                                         backend: Any) -> None:
    assert run(SubmitTracking(), make_tracker(text="我寄出了", slots={"case_id": SHOES_CASE})) == []
    assert said() == [(texts.TRACKING_MISSING, [])]
    assert backend.calls == []


def test_a_refused_tracking_number_shows_the_backends_message_and_is_forgotten(
        run: Any, said: Any, make_tracker: Any, backend: Any, backend_error: Any) -> None:
    backend.fail("add_materials", backend_error("tracking_too_early"))

    events = run(SubmitTracking(), make_tracker(slots={"case_id": SHOES_CASE, "tracking_number": "SF1234567890123"}))

    assert events == [SlotSet("tracking_number", None)]
    assert said() == [("审核通过、需要寄回商品时才能填写退货快递单号", [])]


def test_tracking_says_the_backend_is_down_politely(run: Any, said: Any, make_tracker: Any, backend: Any) -> None:
    backend.down("add_materials")
    tracker = make_tracker(slots={"case_id": SHOES_CASE, "tracking_number": "SF1234567890123"})

    assert run(SubmitTracking(), tracker) == []
    assert said() == [(texts.BACKEND_DOWN, [])]


# ================================================================ CancelCase


def test_the_case_named_in_the_message_is_cancelled(run: Any, said: Any, make_tracker: Any, backend: Any) -> None:
    tracker = make_tracker(text=f"撤销{JACKET_CASE}", intent="cancel_case",
                           entities=[{"entity": "case_id", "value": JACKET_CASE}], slots={"case_id": SHOES_CASE})

    events = run(CancelCase(), tracker)

    assert backend.calls_to("transition") == [(JACKET_CASE, "cancel", "b_1001", {})]
    assert events == [SlotSet("case_id", None), SlotSet("stage", None)]
    assert said() == [(f"已为您撤销售后单 {JACKET_CASE}。", [])]


def test_the_remembered_case_is_cancelled(run: Any, make_tracker: Any, backend: Any) -> None:
    run(CancelCase(), make_tracker(text="不要了，撤销吧", intent="cancel_case", slots={"case_id": SHOES_CASE}))

    assert backend.calls_to("transition") == [(SHOES_CASE, "cancel", "b_1001", {})]


def test_the_only_open_case_is_cancelled(run: Any, make_tracker: Any, backend: Any) -> None:
    backend.open_case_list = backend.open_case_list[:1]

    run(CancelCase(), make_tracker(text="撤销售后", intent="cancel_case"))

    assert backend.calls_to("transition") == [(JACKET_CASE, "cancel", "b_1001", {})]


def test_a_buyer_with_several_open_cases_is_asked_which_to_cancel(run: Any, said: Any, make_tracker: Any,
                                                                  backend: Any) -> None:
    assert run(CancelCase(), make_tracker(text="撤销售后", intent="cancel_case")) == []
    assert said() == [(texts.CANCEL_WHICH, [
        {"title": f"{JACKET_CASE} 防风夹克 藏青 M码", "payload": f'/cancel_case{{"case_id": "{JACKET_CASE}"}}'},
        {"title": f"{SHOES_CASE} 男士跑步鞋 黑色 42码", "payload": f'/cancel_case{{"case_id": "{SHOES_CASE}"}}'},
    ])]
    assert backend.calls_to("transition") == []


@pytest.mark.parametrize(("buyer", "message"), [("b_1001", texts.NO_OPEN_CASE), (None, texts.VERIFY_FIRST)])
def test_with_no_case_to_cancel_the_buyer_is_told_so(buyer: str | None, message: str, run: Any, said: Any,
                                                     make_tracker: Any, backend: Any) -> None:
    backend.open_case_list = []

    assert run(CancelCase(), make_tracker(buyer=buyer, text="撤销售后", intent="cancel_case")) == []
    assert said() == [(message, [])]
    assert backend.calls_to("transition") == []


def test_a_conversation_without_a_verified_buyer_cannot_cancel_a_case(run: Any, make_tracker: Any,
                                                                     backend: Any) -> None:
    # Without X-Buyer-Id the backend takes the call as the service itself (merchant authority), so
    # anyone who types a case number could cancel another buyer's case.
    tracker = make_tracker(buyer=None, text=f"撤销{SHOES_CASE}", intent="cancel_case",
                           entities=[{"entity": "case_id", "value": SHOES_CASE}])

    run(CancelCase(), tracker)

    assert backend.calls_to("transition") == []


def test_a_refused_cancellation_shows_the_backends_message(run: Any, said: Any, make_tracker: Any, backend: Any,
                                                           backend_error: Any) -> None:
    backend.fail("transition", backend_error("cancel_refused"))

    assert run(CancelCase(), make_tracker(slots={"case_id": SHOES_CASE})) == []
    assert said() == [("售后单当前状态为“已撤销”，不能执行“已撤销申请”操作", [])]


@pytest.mark.parametrize("method", ["open_cases", "transition"])
def test_cancelling_says_the_backend_is_down_politely(method: str, run: Any, said: Any, make_tracker: Any,
                                                      backend: Any) -> None:
    backend.open_case_list = backend.open_case_list[:1]
    backend.down(method)

    assert run(CancelCase(), make_tracker(text="撤销售后", intent="cancel_case")) == []
    assert said() == [(texts.BACKEND_DOWN, [])]


def test_a_description_that_sounds_like_a_request_is_taken_as_the_missing_description(
        run: Any, collecting: Any, backend: Any) -> None:
    # Without a caption (WeChat), the description comes alone; the NLU hears a new request about 鞋底.
    tracker = collecting(text="鞋底整个开胶了，走路会进水", intent="request_aftersales",
                         entities=[{"entity": "product", "value": "鞋底"}, {"entity": "reason", "value": "quality"}])

    events = run(AttachMaterials(), tracker)

    assert FollowupAction("aftersales_form") not in events
    [(case_id, materials, _)] = [(c, m, b) for c, m, b in backend.calls_to("add_materials")]
    assert case_id == SHOES_CASE and materials == [{"code": "description", "text": "鞋底整个开胶了，走路会进水"}]


def test_another_product_while_collecting_starts_a_new_request_even_when_a_description_is_missing(
        run: Any, collecting: Any, backend: Any) -> None:
    tracker = collecting(text="另外那件夹克也坏了", intent="request_aftersales",
                         entities=[{"entity": "product", "value": "夹克"}])

    events = run(AttachMaterials(), tracker)

    assert events[-1] == FollowupAction("aftersales_form") and SlotSet("product", "夹克") in events
    assert backend.calls_to("add_materials") == []


def test_a_fresh_request_while_only_photos_are_missing_starts_a_new_form(run: Any, collecting: Any,
                                                                        backend: Any) -> None:
    tracker = collecting(text="我还想再申请一个售后", intent="request_aftersales", missing=["defect_photo"])

    assert run(AttachMaterials(), tracker)[-1] == FollowupAction("aftersales_form")
    assert backend.calls_to("add_materials") == []
