"""Conversations through the real stack: Rasa server → action server → case backend."""

from __future__ import annotations

import re

from tests.support import media
from tests.support.stack import SHOES, Chat

CASE_ID = re.compile(r"AS[0-9]{10,14}")
ITEMS = [{"item_id": str(n), "sku": f"SKU-{n}", "title": title, "quantity": 1, "unit_price": price}
         for n, (title, price) in enumerate([("纯棉袜子 5双装", "39.90"), ("防风夹克 藏青 M码", "399.00"),
                                             ("陶瓷马克杯 350ml", "45.00")], start=1)]


def _upload(chat: Chat, data: bytes, name: str) -> str:
    response = chat.api("POST", "/uploads", files={"file": (name, data, "image/png")})
    assert response.status_code == 201, response.text
    return response.json()["upload_id"]


def test_a_complete_request_in_one_sentence_is_summarised_filed_and_its_proofs_asked_for_at_once(chat: Chat) -> None:
    order = chat.order()
    summary = chat.say(f"订单{order}的鞋子开胶了，想换一双")
    text = "\n".join(m.get("text", "") for m in summary)
    assert order in text and "男士跑步鞋" in text and "质量问题" in text and "换货" in text
    assert "退货运费：商家承担" in text
    assert [b["payload"] for b in summary[-1]["buttons"]] == ["/affirm", "/deny"]

    filed = chat.text("确认")
    case_id = CASE_ID.search(filed).group(0)  # type: ignore[union-attr]
    assert "问题描述" in filed and "问题部位照片" in filed  # every missing proof in one message
    case = chat.api("GET", f"/cases/{case_id}").json()
    assert case["status"] == "awaiting_materials" and case["remedy"] == "exchange" and case["reason"] == "quality"

    photo = _upload(chat, media.png("red"), "sole.png")
    done = chat.text("鞋底整个开胶了，走路会进水", attachments=[{"upload_id": photo, "material": None}])
    assert "凭证已齐全" in done and "寄回" in done
    assert chat.api("GET", f"/cases/{case_id}").json()["status"] == "awaiting_return"


def test_traditional_chinese_is_understood_like_simplified(chat: Chat) -> None:
    order = chat.order()
    text = chat.text(f"訂單{order}的鞋子開膠了，想換一雙")
    assert "质量问题" in text and "换货" in text and "确认提交吗" in text


def test_what_is_not_said_is_asked_with_the_buyers_orders_and_the_allowed_remedies_as_buttons(chat: Chat) -> None:
    order = chat.order(items=ITEMS)
    chat.order(status="cancelled")
    first = chat.say("我要申请售后")
    order_payloads = [b["payload"] for b in first[-1].get("buttons", [])]
    assert order_payloads == [f'/inform{{"order_id": "{order}"}}']  # the cancelled order is not offered
    second = chat.say(order_payloads[0])
    assert [b["title"] for b in second[-1]["buttons"]] == [i["title"] for i in ITEMS]
    chat.say('/inform{"item_id": "2"}')
    remedies = chat.say("发错货了")
    payloads = [b["payload"] for b in remedies[-1]["buttons"]]
    assert payloads == ['/inform{"remedy": "return_refund"}', '/inform{"remedy": "exchange"}',
                        '/inform{"remedy": "partial_refund"}']


def test_an_order_of_another_buyer_is_not_found_and_nothing_leaks(chat: Chat, stack) -> None:  # type: ignore[no-untyped-def]
    other = Chat(stack, sender="web:other", buyer_id="b_other_buyer")
    foreign = other.order(items=[{**SHOES, "title": "帆布托特包"}])
    text = chat.text(f"订单{foreign}的包坏了，我要退货")
    assert "没有找到这个订单" in text
    assert "帆布托特包" not in text


def test_a_policy_question_is_answered_from_the_policy_file(chat: Chat) -> None:
    text = chat.text("七天无理由退货是怎么算的？")
    assert "签收后7天内" in text


def test_progress_is_reported_with_stage_next_step_and_deadline(chat: Chat) -> None:
    order = chat.order(status="paid")
    chat.say(f"订单{order}还没发货，我不想要了，直接退款")  # unshipped: refund_only, approved at once
    chat.say("确认")
    text = chat.text("我的退款到哪了")
    assert "退款处理中" in text and "截止时间" in text


def test_asking_for_a_person_creates_a_handoff_with_a_summary_and_silences_the_bot(chat: Chat) -> None:
    order = chat.order()
    chat.say(f"订单{order}的鞋子开胶了")
    reply = chat.text("转人工")
    assert "人工客服" in reply
    handoffs = [h for h in _queue(chat) if h["conversation_id"] == chat.sender]
    assert len(handoffs) == 1 and handoffs[0]["reason"] == "requested"
    assert order in handoffs[0]["summary"]
    assert chat.say("你好？") == []  # paused until an agent hands back


def _queue(chat: Chat) -> list[dict]:
    service = Chat(chat.stack, chat.sender, buyer_id=None)
    return service.api("GET", "/handoffs?status=open&limit=100").json()["handoffs"]


def test_with_the_backend_down_the_buyer_gets_a_polite_message_and_can_go_on_when_it_is_back(chat: Chat) -> None:
    order = chat.order()
    chat.stack.stop_backend()
    try:
        down = chat.text(f"订单{order}的鞋子开胶了，想换一双")
        assert "售后系统暂时有点忙" in down
    finally:
        chat.stack.start_backend()
    again = chat.text(f"订单{order}的鞋子开胶了，想换一双")
    assert "确认提交吗" in again and "换货" in again
    filed = chat.text("确认")
    assert CASE_ID.search(filed)


def test_the_remedy_can_be_changed_before_approval(chat: Chat) -> None:
    order = chat.order()
    chat.say(f"订单{order}的鞋子开胶了，想换一双")
    case_id = CASE_ID.search(chat.text("确认")).group(0)  # type: ignore[union-attr]
    changed = chat.text("我还是想退货退款吧")
    assert "退货退款" in changed and "问题描述" in changed  # the proofs are still listed
    assert chat.api("GET", f"/cases/{case_id}").json()["remedy"] == "return_refund"


def test_a_completed_case_asks_for_a_rating_and_thanks_for_it(chat: Chat) -> None:
    order = chat.order(status="paid")
    chat.say(f"订单{order}还没发货，我不想要了，直接退款")
    case_id = CASE_ID.search(chat.text("确认")).group(0)  # type: ignore[union-attr]
    service = Chat(chat.stack, chat.sender, buyer_id=None)
    assert service.api("POST", f"/cases/{case_id}/transitions", json={"action": "refund"}).status_code == 200
    replies = chat.say(f"{case_id}进度怎么样了")
    assert "已完成" in replies[0]["text"]
    assert replies[-1]["buttons"][0]["payload"] == '/rate_service{"rating": "5"}'
    assert "5分" in chat.text('/rate_service{"rating": "5"}')


def test_proofs_can_be_put_off_and_are_not_mistaken_for_the_description(chat: Chat) -> None:
    order = chat.order()
    chat.say(f"订单{order}的鞋子开胶了，想换一双")
    case_id = CASE_ID.search(chat.text("确认")).group(0)  # type: ignore[union-attr]
    later = chat.text("等会儿再传")
    assert "回来补充" in later
    assert chat.api("GET", f"/cases/{case_id}").json()["materials"] == []


def test_an_anonymous_visitor_gets_policy_answers_but_no_case_actions(anonymous_chat: Chat, chat: Chat) -> None:
    order = chat.order()
    chat.say(f"订单{order}的鞋子开胶了，想换一双")
    case_id = CASE_ID.search(chat.text("确认")).group(0)  # type: ignore[union-attr]
    assert "签收后7天内" in anonymous_chat.text("七天无理由退货是怎么算的？")
    assert "请先登录" in anonymous_chat.text(f"订单{order}的鞋子开胶了，想换一双")
    assert "请先登录" in anonymous_chat.text(f"撤销售后单{case_id}")
    assert chat.api("GET", f"/cases/{case_id}").json()["status"] == "awaiting_materials"
