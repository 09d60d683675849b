"""The after-sales form: its ask actions and the validation of each slot against the backend."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.events import ActiveLoop, SlotSet

from actions import texts
from actions.aftersales_form import AskItemId, AskOrderId, AskReason, AskRemedy, ValidateAftersalesForm
from actions.backend_client import BackendError

SHOES_ORDER = "2026111812345678"    # one item: 男士跑步鞋 黑色 42码
MIXED_ORDER = "2026111600000009"    # 1 纯棉袜子 5双装 · 2 防风夹克 藏青 M码 · 3 陶瓷马克杯 350ml
CANCELLED_ORDER = "2026111000000014"
UNKNOWN_ORDER = "2026111800000099"
QUALITY_BASIS = "签收7日内出现质量问题，可选择退货、换货或维修（三包规定第九条）"
FORM = "aftersales_form"
KNOWN = {"order_id": SHOES_ORDER, "item_id": "1", "reason": "quality"}


@pytest.fixture
def form_turn(make_tracker: Any) -> Any:
    """A tracker in the middle of the form whose user just gave `candidates`."""
    def build(candidates: dict[str, Any], slots: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        return make_tracker(candidates=candidates, slots=slots, active_loop=FORM, **kwargs)
    return build


# ---------------------------------------------------------------- order_id


@pytest.mark.parametrize("typed", ["12345", "20261118123456789", "2026-1118-1234-5678", "２０２６１１１８１２３４５６７８", ""])
def test_an_order_number_that_is_not_16_digits_is_refused_without_asking_the_backend(
        typed: str, run: Any, said: Any, form_turn: Any, backend: Any) -> None:
    events = run(ValidateAftersalesForm(), form_turn({"order_id": typed}))

    assert events == [SlotSet("order_id", None)]
    assert said() == [(texts.ORDER_FORMAT, [])]
    assert backend.calls == []


def test_an_unknown_order_is_refused_with_a_not_found_message(run: Any, said: Any, form_turn: Any,
                                                               backend: Any) -> None:
    events = run(ValidateAftersalesForm(), form_turn({"order_id": UNKNOWN_ORDER}))

    assert events == [SlotSet("order_id", None)]
    assert said() == [(texts.ORDER_NOT_FOUND, [])]
    assert backend.calls_to("order") == [(UNKNOWN_ORDER, "b_1001")]


def test_a_cancelled_order_is_refused_with_an_explanation(run: Any, said: Any, form_turn: Any) -> None:
    events = run(ValidateAftersalesForm(), form_turn({"order_id": CANCELLED_ORDER}))

    assert events == [SlotSet("order_id", None)]
    assert said() == [(texts.ORDER_CANCELLED, [])]


def test_an_order_with_one_item_also_fills_the_item(run: Any, said: Any, form_turn: Any) -> None:
    events = run(ValidateAftersalesForm(), form_turn({"order_id": f" {SHOES_ORDER} "}))

    assert events == [SlotSet("order_id", SHOES_ORDER), SlotSet("item_id", "1")]
    assert said() == []


@pytest.mark.parametrize(("product", "item_id"), [("夹克", "2"), ("纯棉袜子 5双装", "1"), ("马克杯", "3")])
def test_an_order_with_several_items_takes_the_item_whose_title_matches_the_product(
        product: str, item_id: str, run: Any, said: Any, form_turn: Any) -> None:
    events = run(ValidateAftersalesForm(), form_turn({"order_id": MIXED_ORDER}, slots={"product": product}))

    assert events == [SlotSet("order_id", MIXED_ORDER), SlotSet("item_id", item_id)]
    assert said() == []


@pytest.mark.parametrize("product", [None, "手机壳"])
def test_an_order_with_several_items_leaves_the_item_open_when_no_title_matches(
        product: str | None, run: Any, form_turn: Any) -> None:
    events = run(ValidateAftersalesForm(), form_turn({"order_id": MIXED_ORDER}, slots={"product": product}))

    assert events == [SlotSet("order_id", MIXED_ORDER), SlotSet("item_id", None)]


def test_an_order_with_several_items_leaves_the_item_open_when_two_titles_match(run: Any, form_turn: Any,
                                                                              backend: Any) -> None:
    backend.orders[MIXED_ORDER]["items"][2]["title"] = "防风夹克 黑色 L码"

    events = run(ValidateAftersalesForm(), form_turn({"order_id": MIXED_ORDER}, slots={"product": "夹克"}))

    assert events == [SlotSet("order_id", MIXED_ORDER), SlotSet("item_id", None)]


def test_an_item_already_chosen_from_the_order_is_kept(run: Any, form_turn: Any) -> None:
    events = run(ValidateAftersalesForm(), form_turn({"order_id": MIXED_ORDER}, slots={"item_id": "3",
                                                                                        "product": "夹克"}))

    assert events == [SlotSet("order_id", MIXED_ORDER)]


def test_the_order_is_refused_politely_when_the_backend_is_down(run: Any, said: Any, form_turn: Any,
                                                               backend: Any) -> None:
    backend.down("order")

    events = run(ValidateAftersalesForm(), form_turn({"order_id": SHOES_ORDER}))

    assert events == [SlotSet("order_id", None)]
    assert said() == [(texts.BACKEND_DOWN, [])]


# ---------------------------------------------------------------- item_id


def test_an_item_of_the_order_is_accepted(run: Any, said: Any, form_turn: Any) -> None:
    events = run(ValidateAftersalesForm(), form_turn({"item_id": "2"}, slots={"order_id": MIXED_ORDER}))

    assert events == [SlotSet("item_id", "2")]
    assert said() == []


def test_an_item_that_is_not_in_the_order_is_refused(run: Any, said: Any, form_turn: Any) -> None:
    events = run(ValidateAftersalesForm(), form_turn({"item_id": "9"}, slots={"order_id": MIXED_ORDER}))

    assert events == [SlotSet("item_id", None)]
    assert said() == [(texts.ITEM_NOT_FOUND, [])]


def test_the_item_is_refused_politely_when_the_backend_is_down(run: Any, said: Any, form_turn: Any,
                                                              backend: Any) -> None:
    backend.down("order")

    events = run(ValidateAftersalesForm(), form_turn({"item_id": "2"}, slots={"order_id": MIXED_ORDER}))

    assert events == [SlotSet("item_id", None)]
    assert said() == [(texts.BACKEND_DOWN, [])]


# ---------------------------------------------------------------- reason


@pytest.mark.parametrize(("value", "kept"), [("quality", "quality"), ("not_received", "not_received"),
                                             ("broken", None), ("质量问题", None)])
def test_only_a_reason_code_of_the_policy_is_kept(value: str, kept: str | None, run: Any, form_turn: Any) -> None:
    assert run(ValidateAftersalesForm(), form_turn({"reason": value})) == [SlotSet("reason", kept)]


def test_the_reason_is_refused_politely_when_the_backend_is_down(run: Any, said: Any, form_turn: Any,
                                                                backend: Any) -> None:
    backend.down("vocabulary")

    assert run(ValidateAftersalesForm(), form_turn({"reason": "quality"})) == [SlotSet("reason", None)]
    assert said() == [(texts.BACKEND_DOWN, [])]


# ---------------------------------------------------------------- remedy


def test_an_allowed_remedy_is_kept_after_asking_the_backend(run: Any, said: Any, form_turn: Any,
                                                             backend: Any) -> None:
    events = run(ValidateAftersalesForm(), form_turn({"remedy": "return_refund"}, slots=KNOWN))

    assert events == [SlotSet("remedy", "return_refund")]
    assert said() == []
    assert backend.calls_to("eligibility") == [(
        {"order_id": SHOES_ORDER, "item_id": "1", "buyer_id": "b_1001", "reason": "quality",
         "remedy": "return_refund"}, "b_1001")]


def test_a_remedy_given_before_the_rest_of_the_request_is_kept_for_later(run: Any, form_turn: Any,
                                                                         backend: Any) -> None:
    events = run(ValidateAftersalesForm(), form_turn({"remedy": "exchange"}, slots={"order_id": SHOES_ORDER}))

    assert events == [SlotSet("remedy", "exchange")]
    assert backend.calls_to("eligibility") == []


def test_a_remedy_the_policy_does_not_allow_is_refused_with_the_basis(run: Any, said: Any, form_turn: Any,
                                                                      backend: Any, canned: Any) -> None:
    backend.decision = canned("decision_remedy_not_allowed")

    events = run(ValidateAftersalesForm(), form_turn({"remedy": "resend"}, slots=KNOWN))

    assert events == [SlotSet("remedy", None)]
    assert said() == [(f"抱歉，补发不符合售后政策：{QUALITY_BASIS}", [])]


def test_a_request_nothing_can_be_done_for_ends_the_questions_and_offers_a_person(
        run: Any, said: Any, form_turn: Any, backend: Any, canned: Any) -> None:
    backend.decision = canned("decision_ineligible")
    basis = backend.decision["rules"][0]["basis"]

    events = run(ValidateAftersalesForm(), form_turn({"remedy": "return_refund"}, slots=KNOWN))

    assert events == [SlotSet("remedy", None), SlotSet("requested_slot", None)]
    assert said() == [(f"抱歉，退货退款不符合售后政策：{basis}", []), (texts.INELIGIBLE_OFFER_HUMAN, [])]


def test_the_remedy_is_refused_politely_when_the_backend_is_down(run: Any, said: Any, form_turn: Any,
                                                                backend: Any) -> None:
    backend.down("eligibility")

    assert run(ValidateAftersalesForm(), form_turn({"remedy": "exchange"}, slots=KNOWN)) == [SlotSet("remedy", None)]
    assert said() == [(texts.BACKEND_DOWN, [])]


def test_the_remedy_is_refused_with_the_backends_own_message_when_it_refuses_the_request(
        run: Any, said: Any, form_turn: Any, backend: Any) -> None:
    backend.fail("eligibility", BackendError(404, "订单中没有这件商品"))

    assert run(ValidateAftersalesForm(), form_turn({"remedy": "exchange"}, slots=KNOWN)) == [SlotSet("remedy", None)]
    assert said() == [("订单中没有这件商品", [])]


# ---------------------------------------------------------------- asking for the order


def test_a_known_buyer_is_asked_for_the_order_with_buttons_of_the_latest_orders_not_cancelled(
        run: Any, said: Any, make_tracker: Any, backend: Any) -> None:
    events = run(AskOrderId(), make_tracker(text="我要售后", intent="request_aftersales"))

    assert events == []
    assert backend.calls_to("buyer_orders") == [("b_1001", 8)]
    assert said() == [(texts.ASK_ORDER_WITH_BUTTONS, [
        {"title": "Python编程从入门到实践（000006）", "payload": '/inform{"order_id": "2026112100000006"}'},
        {"title": "iPhone 20W 快充充电器（000008）", "payload": '/inform{"order_id": "2026112000000008"}'},
        {"title": "智利车厘子 2kg 礼盒（000003）", "payload": '/inform{"order_id": "2026111900000003"}'},
        {"title": "轻薄笔记本电脑 14英寸 16G/1T（000011）", "payload": '/inform{"order_id": "2026111900000011"}'},
        {"title": "游戏兑换码（已发送）（000013）", "payload": '/inform{"order_id": "2026111800000013"}'},
    ])]


def test_a_buyer_with_only_cancelled_orders_is_asked_for_the_order_number(run: Any, said: Any, make_tracker: Any,
                                                                          backend: Any) -> None:
    backend.buyer_order_list = [o for o in backend.buyer_order_list if o["status"] == "cancelled"]

    assert run(AskOrderId(), make_tracker()) == []
    assert said() == [(texts.ASK_ORDER_ID, [])]


def test_an_unknown_buyer_is_asked_for_the_order_number_without_asking_the_backend(
        run: Any, said: Any, make_tracker: Any, backend: Any) -> None:
    assert run(AskOrderId(), make_tracker(buyer=None)) == []
    assert said() == [(texts.ASK_ORDER_ID, [])]
    assert backend.calls == []


def test_the_buyer_is_asked_for_the_order_number_when_the_backend_is_down(run: Any, said: Any, make_tracker: Any,
                                                                          backend: Any) -> None:
    backend.down("buyer_orders")

    assert run(AskOrderId(), make_tracker()) == []
    assert said() == [(texts.ASK_ORDER_ID, [])]


# ---------------------------------------------------------------- asking for the item and the reason


def test_the_item_is_asked_with_a_button_per_item_of_the_order(run: Any, said: Any, make_tracker: Any) -> None:
    assert run(AskItemId(), make_tracker(slots={"order_id": MIXED_ORDER}, active_loop=FORM)) == []
    assert said() == [(texts.ASK_ITEM, [
        {"title": "纯棉袜子 5双装", "payload": '/inform{"item_id": "1"}'},
        {"title": "防风夹克 藏青 M码", "payload": '/inform{"item_id": "2"}'},
        {"title": "陶瓷马克杯 350ml", "payload": '/inform{"item_id": "3"}'},
    ])]


def test_asking_for_the_item_when_the_backend_is_down_says_so_politely(run: Any, said: Any, make_tracker: Any,
                                                                       backend: Any) -> None:
    backend.down("order")

    assert run(AskItemId(), make_tracker(slots={"order_id": MIXED_ORDER}, active_loop=FORM)) == []
    assert said() == [(texts.BACKEND_DOWN, [])]


def test_the_reason_is_asked_with_a_button_per_reason_of_the_policy(run: Any, said: Any, make_tracker: Any) -> None:
    assert run(AskReason(), make_tracker(active_loop=FORM)) == []
    assert said() == [(texts.ASK_REASON, [
        {"title": "七天无理由退换", "payload": '/inform{"reason": "no_reason"}'},
        {"title": "质量问题", "payload": '/inform{"reason": "quality"}'},
        {"title": "与描述不符", "payload": '/inform{"reason": "not_as_described"}'},
        {"title": "发错货", "payload": '/inform{"reason": "wrong_item"}'},
        {"title": "运输破损", "payload": '/inform{"reason": "damaged_in_transit"}'},
        {"title": "漏发/少件", "payload": '/inform{"reason": "missing_item"}'},
        {"title": "未收到货", "payload": '/inform{"reason": "not_received"}'},
        {"title": "其他", "payload": '/inform{"reason": "other"}'},
    ])]


def test_the_reason_is_asked_without_buttons_when_the_backend_is_down(run: Any, said: Any, make_tracker: Any,
                                                                      backend: Any) -> None:
    backend.down("vocabulary")

    assert run(AskReason(), make_tracker(active_loop=FORM)) == []
    assert said() == [(texts.ASK_REASON, [])]


# ---------------------------------------------------------------- asking for the remedy


def test_the_remedy_is_asked_with_exactly_the_remedies_the_policy_allows(run: Any, said: Any, make_tracker: Any,
                                                                          backend: Any, canned: Any) -> None:
    backend.decision = canned("decision_no_remedy")

    assert run(AskRemedy(), make_tracker(slots=KNOWN, active_loop=FORM)) == []
    assert said() == [(texts.ASK_REMEDY, [
        {"title": "退货退款", "payload": '/inform{"remedy": "return_refund"}'},
        {"title": "换货", "payload": '/inform{"remedy": "exchange"}'},
        {"title": "维修", "payload": '/inform{"remedy": "repair"}'},
        {"title": "折价退款/补偿", "payload": '/inform{"remedy": "partial_refund"}'},
    ])]
    assert backend.calls_to("eligibility") == [(
        {"order_id": SHOES_ORDER, "item_id": "1", "buyer_id": "b_1001", "reason": "quality"}, "b_1001")]


@pytest.mark.parametrize("decision", ["decision_ineligible", "decision_duplicate"])
def test_the_form_ends_without_a_question_when_no_remedy_is_allowed(decision: str, run: Any, said: Any,
                                                                     make_tracker: Any, backend: Any,
                                                                     canned: Any) -> None:
    backend.decision = canned(decision)

    events = run(AskRemedy(), make_tracker(slots=KNOWN, active_loop=FORM))

    assert events == [SlotSet("requested_slot", None), ActiveLoop(None)]
    assert said() == []


def test_the_remedy_question_says_the_backend_is_down_politely(run: Any, said: Any, make_tracker: Any,
                                                               backend: Any) -> None:
    backend.down("eligibility")

    assert run(AskRemedy(), make_tracker(slots=KNOWN, active_loop=FORM)) == []
    assert said() == [(texts.BACKEND_DOWN, [])]


def test_the_remedy_question_repeats_the_backends_refusal(run: Any, said: Any, make_tracker: Any, backend: Any,
                                                          backend_error: Any) -> None:
    backend.fail("eligibility", backend_error("order_not_found"))

    assert run(AskRemedy(), make_tracker(slots=KNOWN, active_loop=FORM)) == []
    assert said() == [("未找到该订单，请核对订单号", [])]
