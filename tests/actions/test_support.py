"""Handing over to a person, counting misunderstandings and the satisfaction rating."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.events import UserUtteranceReverted, ActiveLoop, ConversationPaused, SlotSet

from actions import texts
from actions.backend_client import BackendError
from actions.support import CountFallback, Handoff, RecordRating

SHOES_CASE = "AS261120460257"
LONG_TEXT = "鞋底和鞋面之间整个裂开了，才穿了两天，这质量也太差了吧，" + "我要一个说法！" * 12
PAUSED = [ConversationPaused()]
RATING_BUTTONS = [{"title": "5分 非常满意", "payload": '/rate_service{"rating": "5"}'},
                  {"title": "4分 满意", "payload": '/rate_service{"rating": "4"}'},
                  {"title": "3分 一般", "payload": '/rate_service{"rating": "3"}'},
                  {"title": "2分 不满意", "payload": '/rate_service{"rating": "2"}'},
                  {"title": "1分 很不满意", "payload": '/rate_service{"rating": "1"}'}]


def _handoff_body(backend: Any) -> dict[str, Any]:
    [(body, buyer)] = backend.calls_to("handoff")
    assert buyer == body["buyer_id"]
    return body  # type: ignore[no-any-return]


# ================================================================ Handoff


def test_a_handoff_in_the_middle_of_the_form_ends_the_form_and_pauses_the_bot(run: Any, said: Any,
                                                                              stored_tracker: Any,
                                                                              backend: Any) -> None:
    events = run(Handoff(), stored_tracker("handoff_mid_form"))

    assert events == [ActiveLoop(None), SlotSet("requested_slot", None), *PAUSED]
    assert said() == [(texts.HANDOFF, [])]
    body = _handoff_body(backend)
    assert {k: v for k, v in body.items() if k != "summary"} == {
        "conversation_id": "web:5f1c2a", "channel": "web", "buyer_id": "b_1001", "case_id": None, "reason": "requested"}


def test_the_summary_of_a_request_not_yet_filed_has_order_item_and_reason_label(run: Any, stored_tracker: Any,
                                                                                backend: Any) -> None:
    run(Handoff(), stored_tracker("handoff_mid_form"))

    lines = _handoff_body(backend)["summary"].split("\n")
    assert lines[:3] == ["订单：2026111812345678", "商品编号：1", "问题：质量问题"]


def test_the_summary_ends_with_the_last_five_things_the_buyer_typed_each_cut_to_100_characters(
        run: Any, stored_tracker: Any, backend: Any) -> None:
    run(Handoff(), stored_tracker("handoff_mid_form"))

    last = _handoff_body(backend)["summary"].split("\n")[-1]
    # Button payloads are not words of the buyer: they are left out.
    assert last == "买家最近说：" + " / ".join(["我买的跑步鞋开胶了", "2026111812345678", LONG_TEXT[:100],
                                              "能退吗", "转人工"])
    assert "你好" not in last and "/inform" not in last


def test_the_summary_of_a_filed_case_has_everything_an_agent_needs_first(run: Any, make_tracker: Any,
                                                                         backend: Any, canned: Any) -> None:
    backend.cases[SHOES_CASE] = canned("case_partly_supplied")
    tracker = make_tracker(text="我要投诉商家", intent="complain", slots={"case_id": SHOES_CASE},
                           events=[{"event": "user", "text": "鞋子开胶了"}])

    events = run(Handoff(), tracker)

    assert events == PAUSED
    body = _handoff_body(backend)
    assert (body["case_id"], body["reason"]) == (SHOES_CASE, "complaint")
    assert body["summary"].split("\n") == [
        f"售后单：{SHOES_CASE}（待补充凭证）",
        "订单：2026111812345678  商品：男士跑步鞋 黑色 42码",
        "问题：质量问题  诉求：退货退款",
        "决定：needs_materials（R-QUALITY-7）",
        "已交凭证：问题部位照片",
        "尚缺凭证：问题描述",
        "买家最近说：鞋子开胶了 / 我要投诉商家",
    ]


def test_the_summary_of_a_request_names_the_remedy_by_its_label(run: Any, make_tracker: Any, backend: Any) -> None:
    run(Handoff(), make_tracker(text="转人工", intent="request_human",
                                slots={"order_id": "2026111812345678", "reason": "quality", "remedy": "exchange"}))

    assert "诉求：换货" in _handoff_body(backend)["summary"].split("\n")


@pytest.mark.parametrize(("intent", "reason"), [("request_human", "requested"), ("complain", "complaint"),
                                                ("nlu_fallback", "fallback"), ("greet", "requested"),
                                                (None, "requested")])
def test_the_handoff_reason_follows_the_buyers_intent(intent: str | None, reason: str, run: Any, make_tracker: Any,
                                                      backend: Any) -> None:
    run(Handoff(), make_tracker(text="人工", intent=intent))

    assert _handoff_body(backend)["reason"] == reason


def test_the_channel_comes_from_the_message_metadata(run: Any, make_tracker: Any, backend: Any) -> None:
    run(Handoff(), make_tracker(text="人工", intent="request_human", sender_id="wechat:o6_bmjrPTlm6",
                                metadata={"channel": "wechat", "buyer_id": "b_1001"}))

    body = _handoff_body(backend)
    assert (body["conversation_id"], body["channel"]) == ("wechat:o6_bmjrPTlm6", "wechat")


def test_a_handoff_without_an_active_form_only_pauses_the_bot(run: Any, make_tracker: Any) -> None:
    assert run(Handoff(), make_tracker(text="人工", intent="request_human")) == PAUSED


@pytest.mark.parametrize("method", ["vocabulary", "handoff"])
def test_a_failed_handoff_says_so_and_keeps_the_bot_talking(method: str, run: Any, said: Any, stored_tracker: Any,
                                                            backend: Any) -> None:
    backend.down(method)

    assert run(Handoff(), stored_tracker("handoff_mid_form")) == []
    assert said() == [(texts.HANDOFF_FAILED, [])]


def test_a_handoff_still_happens_when_the_remembered_case_cannot_be_read(run: Any, said: Any, make_tracker: Any,
                                                                         backend: Any) -> None:
    # backend.cases is empty: reading the remembered case answers 404 "未找到该售后单".
    tracker = make_tracker(text="转人工", intent="request_human", slots={"case_id": "AS261100000001"})

    events = run(Handoff(), tracker)

    assert said() == [(texts.HANDOFF, [])]
    assert events == PAUSED
    assert _handoff_body(backend)["case_id"] is None


# ================================================================ CountFallback


EARLIER_MISUNDERSTANDING = [{"event": "user", "text": "嗯嗯那个啥",
                             "parse_data": {"intent": {"name": "nlu_fallback"}, "entities": []}}]
EARLIER_UNDERSTOOD = [{"event": "user", "text": "嗯嗯那个啥", "parse_data": {"intent": {"name": "nlu_fallback"}}},
                      {"event": "user", "text": "你好", "parse_data": {"intent": {"name": "greet"}}}]


def test_the_first_misunderstanding_asks_to_rephrase(run: Any, said: Any, make_tracker: Any, backend: Any) -> None:
    events = run(CountFallback(), make_tracker(text="嗯嗯那个啥", intent="nlu_fallback"))

    assert events == []
    assert said() == [(texts.REPHRASE, [])]
    assert backend.calls == []


def test_the_second_misunderstanding_in_a_row_hands_over_to_a_person(run: Any, said: Any, make_tracker: Any,
                                                                    backend: Any) -> None:
    events = run(CountFallback(), make_tracker(text="啥啥啥", intent="nlu_fallback", events=EARLIER_MISUNDERSTANDING))

    assert events == PAUSED
    assert said() == [(texts.HANDOFF, [])]
    assert _handoff_body(backend)["reason"] == "fallback"


def test_misunderstandings_with_an_understood_message_between_them_do_not_hand_over(
        run: Any, said: Any, make_tracker: Any, backend: Any) -> None:
    events = run(CountFallback(), make_tracker(text="啥啥啥", intent="nlu_fallback", events=EARLIER_UNDERSTOOD))

    assert events == []
    assert said() == [(texts.REPHRASE, [])]
    assert backend.calls_to("handoff") == []


def test_as_core_fallback_the_turn_is_undone_so_the_conversation_goes_on(run: Any, said: Any,
                                                                        make_tracker: Any) -> None:
    # Understood, but no policy knows what to do next: ask to rephrase and forget the message.
    events = run(CountFallback(), make_tracker(text="好的", intent="affirm"))

    assert events == [UserUtteranceReverted()]
    assert said() == [(texts.REPHRASE, [])]


def test_the_second_misunderstanding_in_the_form_also_ends_the_form(run: Any, make_tracker: Any) -> None:
    tracker = make_tracker(text="啥啥啥", intent="nlu_fallback", slots={"requested_slot": "reason"},
                           active_loop="aftersales_form", events=EARLIER_MISUNDERSTANDING)

    assert run(CountFallback(), tracker) == [ActiveLoop(None), SlotSet("requested_slot", None), *PAUSED]


def test_the_second_misunderstanding_asks_to_try_later_when_the_handoff_fails(run: Any, said: Any,
                                                                              make_tracker: Any,
                                                                              backend: Any) -> None:
    backend.down("handoff")

    assert run(CountFallback(), make_tracker(intent="nlu_fallback", events=EARLIER_MISUNDERSTANDING)) == []
    assert said() == [(texts.HANDOFF_FAILED, [])]


# ================================================================ RecordRating


@pytest.mark.parametrize("rating", ["1", "3", "5"])
def test_a_rating_from_1_to_5_is_thanked_for(rating: str, run: Any, said: Any, make_tracker: Any) -> None:
    events = run(RecordRating(), make_tracker(text=f"{rating}分", intent="rate_service",
                                              slots={"rating": rating, "stage": "collecting_materials"}))

    # The stage is left alone: a rating given while proofs are outstanding must not lose them.
    assert events == []
    assert said() == [(f"谢谢您的{rating}分评价，我们会继续改进！", [])]


@pytest.mark.parametrize("rating", [None, "0", "6", "五星", 5])
def test_anything_else_asks_for_a_rating_with_buttons(rating: Any, run: Any, said: Any, make_tracker: Any) -> None:
    assert run(RecordRating(), make_tracker(text="打分", intent="rate_service", slots={"rating": rating})) == []
    assert said() == [(texts.ASK_RATING, RATING_BUTTONS)]


def test_a_rating_of_a_completed_case_is_stored_with_the_buyers_comment(run: Any, said: Any, make_tracker: Any,
                                                                          backend: Any) -> None:
    tracker = make_tracker(text="5分，客服很耐心", intent="rate_service", slots={"rating": "5", "case_id": SHOES_CASE},
                           metadata={"buyer_id": "b_1001"}, buyer="b_1001")

    assert run(RecordRating(), tracker) == []
    assert backend.calls_to("transition") == [(SHOES_CASE, "rate", "b_1001", {"rating": 5, "reason": "5分，客服很耐心"})]
    assert said() == [("谢谢您的5分评价，我们会继续改进！", [])]


def test_a_rating_button_stores_no_comment(run: Any, make_tracker: Any, backend: Any) -> None:
    run(RecordRating(), make_tracker(text='/rate_service{"rating": "4"}', intent="rate_service",
                                     slots={"rating": "4", "case_id": SHOES_CASE}, metadata={"buyer_id": "b_1001"},
                                     buyer="b_1001"))

    assert backend.calls_to("transition") == [(SHOES_CASE, "rate", "b_1001", {"rating": 4, "reason": None})]


def test_a_second_rating_of_the_same_case_gets_the_backends_answer(run: Any, said: Any, make_tracker: Any,
                                                                   backend: Any) -> None:
    backend.fail("transition", BackendError(409, "这个售后单已经评价过了，感谢您的反馈"))
    run(RecordRating(), make_tracker(text="3", intent="rate_service", slots={"rating": "3", "case_id": SHOES_CASE},
                                     metadata={"buyer_id": "b_1001"}, buyer="b_1001"))

    assert said() == [("这个售后单已经评价过了，感谢您的反馈", [])]


def test_a_rating_that_cannot_be_saved_says_so(run: Any, said: Any, make_tracker: Any, backend: Any) -> None:
    backend.down("transition")
    run(RecordRating(), make_tracker(text="5", intent="rate_service", slots={"rating": "5", "case_id": SHOES_CASE},
                                     metadata={"buyer_id": "b_1001"}, buyer="b_1001"))

    assert said() == [(texts.RATING_NOT_SAVED, [])]
