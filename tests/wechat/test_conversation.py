"""A buyer's conversation over WeChat: answered "success" at once, replies through the customer-service
API, numbered options, long texts split, retries handled once, binding, photos, events, handoffs and
status pushes — the web widget's features on WeChat's terms."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import pytest
from sqlalchemy import select

from backend.channels.wechat.binding import BIND_FAILED, BIND_HINT, BIND_OK
from backend.db.models import Upload, WechatUser
from backend.gateway import events, push
from tests.gateway.helpers import Raw
from tests.support import media
from tests.wechat.conftest import BUYER, OPENID, ORDER, TAIL, Wx
from tests.wechat.wechat import event_xml, image_xml, msg_id, text_xml, voice_xml

PICK_ORDER = {"text": "请选择要申请售后的订单：", "buttons": [
    {"title": "男士跑步鞋 黑色 42码", "payload": '/inform{"order_id":"2026111812345678"}'},
    {"title": "定制印字T恤 白色 L码", "payload": '/inform{"order_id":"2026111700000002"}'},
    {"title": "查看售后政策", "payload": "https://shop.example.com/policy"}]}
VERIFY_FIRST = "为了保护您的订单信息，请先登录账号（或在消息里验证订单归属）后再办理售后；售后政策的问题我现在就可以回答。"


def _say(wx: Wx, text: str, account: str = "shop", openid: str = OPENID, **kw: Any) -> None:
    answer = wx.post(text_xml(openid, text, **kw), account)
    assert (answer.status_code, answer.text) == (200, "success"), answer.text
    wx.idle()


@pytest.mark.parametrize("account", ["shop", "plain"])
def test_the_webhook_answers_at_once_and_the_reply_goes_out_through_the_customer_service_api(
        wx: Wx, account: str) -> None:
    wx.rasa.script = lambda call: Raw(200, [{"recipient_id": call["sender"], "text": "七天内可以无理由退货。"}], delay=1.5)
    started = time.monotonic()
    answer = wx.post(text_xml(OPENID, "七天无理由怎么算"), account)
    assert (answer.status_code, answer.text) == (200, "success")
    assert time.monotonic() - started < 1.0  # WeChat's 5 seconds are not spent on the bot
    assert wx.fake.sent == []
    [sent] = wx.fake.wait_sent(1)
    assert (sent.touser, sent.msgtype, sent.content) == (OPENID, "text", "七天内可以无理由退货。")
    assert "七天".encode() in sent.raw  # the characters themselves, not \\u escapes WeChat would show
    assert wx.rasa.calls == [{"sender": f"wechat:{OPENID}", "message": "七天无理由怎么算",
                              "metadata": {"channel": "wechat", "attachments": []}}]  # anonymous: no buyer_id
    wx.idle()
    assert [(m["author"], m["text"]) for m in wx.transcript()] == [
        ("buyer", "七天无理由怎么算"), ("bot", "七天内可以无理由退货。")]


def test_a_message_wechat_retries_is_handled_once_even_while_the_first_is_still_with_the_bot(wx: Wx) -> None:
    wx.rasa.script = lambda call: Raw(200, [{"text": "好的"}], delay=0.5)
    xml = text_xml(OPENID, "鞋子开胶了", mid="6198765432101234567")
    for _ in range(3):  # WeChat's retries: the same MsgId, a new nonce and signature each time
        assert wx.post(xml).text == "success"
    wx.idle()
    assert len(wx.rasa.calls) == 1
    assert [s.content for s in wx.fake.sent] == ["好的"]
    assert [m["author"] for m in wx.transcript()] == ["buyer", "bot"]
    assert wx.post(xml).text == "success"  # and later still
    wx.idle()
    assert len(wx.rasa.calls) == 1 and len(wx.fake.sent) == 1


def test_buttons_become_numbered_options_and_a_number_sends_that_buttons_payload(wx: Wx) -> None:
    wx.bound()
    wx.rasa.reply(PICK_ORDER)
    _say(wx, "我要退货")
    [sent] = wx.fake.wait_sent(1)
    assert sent.content == ("请选择要申请售后的订单：\n\n查看售后政策：https://shop.example.com/policy\n\n"
                            "回复数字即可选择：\n1. 男士跑步鞋 黑色 42码\n2. 定制印字T恤 白色 L码")
    wx.rasa.reply({"text": "好的，是哪里有问题？"})
    _say(wx, "１")  # a full-width digit from a Chinese keyboard
    assert wx.rasa.calls[-1]["message"] == '/inform{"order_id":"2026111812345678"}'
    assert wx.rasa.calls[-1]["metadata"]["buyer_id"] == BUYER
    assert [m["text"] for m in wx.transcript() if m["author"] == "buyer"] == ["我要退货", "男士跑步鞋 黑色 42码"]
    _say(wx, "2")  # the options were answered: a later number is just a number
    assert wx.rasa.calls[-1]["message"] == "2"
    wx.fake.wait_sent(3)


def test_a_number_beyond_the_options_is_sent_as_text(wx: Wx) -> None:
    wx.rasa.reply(PICK_ORDER)
    _say(wx, "我要退货")
    _say(wx, "3")  # the third button is a link, not an option
    assert wx.rasa.calls[-1]["message"] == "3"


def test_long_replies_are_split_within_the_byte_limit(wx: Wx) -> None:
    lines = [f"第{i}条：" + "退货运费由商家承担，" * 8 for i in range(12)]
    wx.rasa.reply({"text": "\n".join(lines)})
    _say(wx, "运费谁出")
    sent = wx.fake.wait_sent(2)
    limit = wx.api.settings.wechat_text_max_bytes
    assert len(sent) > 2 and all(len(s.content.encode()) <= limit for s in sent)
    assert "\n".join(s.content for s in sent) == "\n".join(lines)  # cut at line ends, nothing lost


def test_the_bot_asking_an_anonymous_visitor_to_log_in_tells_them_how_to_bind(wx: Wx) -> None:
    wx.rasa.reply({"text": VERIFY_FIRST})
    _say(wx, "我要退货")
    [sent] = wx.fake.wait_sent(1)
    assert sent.content == f"{VERIFY_FIRST}\n\n{BIND_HINT}"


def test_binding_by_order_number_and_phone_tail_unlocks_case_actions(wx: Wx) -> None:
    wx.api.order(ORDER, receiver_phone_tail=TAIL)
    wx.api.order("2026111700000002", receiver_phone_tail=None)
    _say(wx, f"绑定 {ORDER} 0000")
    _say(wx, f"绑定 2026111899999999 {TAIL}")      # no such order: the same answer
    _say(wx, f"绑定 2026111700000002 {TAIL}")      # an order without a phone tail: the same answer
    assert wx.fake.texts() == [BIND_FAILED] * 3
    _say(wx, f"绑定 {ORDER}，{TAIL}")
    assert wx.fake.wait_sent(4)[-1].content == BIND_OK
    with wx.db() as session:
        user = session.get(WechatUser, OPENID)
        assert user is not None and (user.buyer_id, user.account) == (BUYER, "shop")
    assert wx.rasa.calls == []  # binding is the channel's business, not the bot's
    transcript = wx.transcript()
    said = [m["text"] for m in transcript if m["author"] == "buyer"]
    assert said == [f"绑定 {ORDER} ****", "绑定 2026111899999999 ****", "绑定 2026111700000002 ****",
                    f"绑定 {ORDER} ****"]  # agents never see the phone tail

    _say(wx, "我的鞋子开胶了")
    assert wx.rasa.calls[-1]["metadata"]["buyer_id"] == BUYER
    conversation = wx.client.get(f"/api/v1/conversations/wechat:{OPENID}/messages", headers=wx.api.service).json()
    assert conversation["buyer_id"] == BUYER  # the conversation is the buyer's now: pushes find it


def test_binding_attempts_are_limited_per_openid_and_the_limit_does_not_reveal_anything(wx: Wx) -> None:
    wx.api.order(ORDER, receiver_phone_tail=TAIL)
    for tail in ("0001", "0002", "0003", "0004"):  # WECHAT_BIND_MAX_FAILURES=4 in these tests
        _say(wx, f"绑定 {ORDER} {tail}")
    _say(wx, f"绑定 {ORDER} {TAIL}")  # right, but too late
    texts = wx.fake.texts()
    assert texts[:4] == [BIND_FAILED] * 4 and "尝试次数过多" in texts[4]
    _say(wx, f"绑定 2026111899999999 {TAIL}")  # a missing order gets the same refusal
    assert wx.fake.texts()[5] == texts[4]
    with wx.db() as session:
        assert session.get(WechatUser, OPENID).buyer_id is None  # type: ignore[union-attr]
    wx.clock.advance(minutes=61)
    _say(wx, f"绑定 {ORDER} {TAIL}")
    assert wx.fake.texts()[-1] == BIND_OK


def test_binding_attempts_are_limited_per_order_across_openids(wx: Wx) -> None:
    wx.api.order(ORDER, receiver_phone_tail=TAIL)
    for i in range(10):  # WECHAT_BIND_ORDER_MAX_FAILURES: 10 by default
        _say(wx, f"绑定 {ORDER} {i:04d}", openid=f"oGuess{i}")
    _say(wx, f"绑定 {ORDER} {TAIL}", openid="oGuess99")
    assert "尝试次数过多" in wx.fake.texts("oGuess99")[0]


def test_malformed_bind_commands_show_the_format_and_unbinding_forgets_the_buyer(wx: Wx) -> None:
    wx.bound()
    _say(wx, "绑定 123")
    assert "绑定的格式是" in wx.fake.texts()[-1]
    _say(wx, "解绑")
    assert "已解除绑定" in wx.fake.texts()[-1]
    with wx.db() as session:
        assert session.get(WechatUser, OPENID).buyer_id is None  # type: ignore[union-attr]
    # the bot, which may have remembered the buyer, is told to forget
    assert wx.rasa.resumes[-1]["event"] == [{"event": "slot", "name": "buyer_id", "value": None}]
    _say(wx, "我要退货")
    assert "buyer_id" not in wx.rasa.calls[-1]["metadata"]


def test_a_photo_is_fetched_from_the_media_api_stored_as_the_buyers_upload_and_attached(wx: Wx) -> None:
    wx.bound()
    photo = media.jpeg("red")
    wx.fake.add_media("MEDIA_photo_1", photo)
    wx.rasa.reply({"text": "已收到：问题部位照片。"})
    assert wx.post(image_xml(OPENID, "MEDIA_photo_1")).text == "success"
    wx.idle()
    assert wx.fake.media_requests == ["MEDIA_photo_1"]
    [call] = wx.rasa.calls
    assert call["message"] == "/inform" and call["metadata"]["buyer_id"] == BUYER
    [attachment] = call["metadata"]["attachments"]
    with wx.db() as session:
        upload = session.get(Upload, attachment["upload_id"])
        assert upload is not None
        assert (upload.buyer_id, upload.kind, upload.sha256) == (BUYER, "image", hashlib.sha256(photo).hexdigest())
    buyer_message = wx.transcript()[0]
    assert buyer_message["attachments"][0]["upload_id"] == attachment["upload_id"]
    assert [s.content for s in wx.fake.wait_sent(1)] == ["已收到：问题部位照片。"]


def test_a_photo_from_an_unbound_visitor_is_not_fetched_and_they_are_told_to_bind(wx: Wx) -> None:
    wx.fake.add_media("MEDIA_x", media.jpeg())
    assert wx.post(image_xml(OPENID, "MEDIA_x")).text == "success"
    wx.idle()
    assert wx.fake.media_requests == [] and wx.rasa.calls == []
    assert "请先绑定订单" in wx.fake.wait_sent(1)[0].content


def test_a_file_that_is_no_image_gets_the_upload_checks_answer(wx: Wx) -> None:
    wx.bound()
    wx.fake.add_media("MEDIA_fake", b"MZ\x90\x00 this is an exe", "image/jpeg")
    wx.post(image_xml(OPENID, "MEDIA_fake"))
    wx.idle()
    assert wx.rasa.calls == []
    assert "只能上传图片" in wx.fake.wait_sent(1)[0].content
    with wx.db() as session:
        assert session.scalars(select(Upload)).all() == []


def test_a_media_id_wechat_does_not_know_is_logged_and_the_buyer_asked_to_resend(wx: Wx) -> None:
    wx.bound()
    wx.post(image_xml(OPENID, "MEDIA_gone"))
    wx.idle()
    assert wx.rasa.calls == []
    assert "重新发送" in wx.fake.wait_sent(1)[0].content


def test_voice_messages_use_wechats_recognition(wx: Wx) -> None:
    _say_voice = lambda text: wx.post(voice_xml(OPENID, "MEDIA_v", text))
    assert _say_voice("七天无理由怎么算。").text == "success"
    wx.idle()
    assert wx.rasa.calls[-1]["message"] == "七天无理由怎么算。"
    _say_voice("")  # recognition off or nothing heard
    wx.idle()
    assert len(wx.rasa.calls) == 1
    assert "没有听清" in wx.fake.wait_sent(2)[-1].content


def test_subscribing_is_greeted_once_with_the_binding_hint(wx: Wx) -> None:
    event = event_xml(OPENID, "subscribe", at=1700000100)
    for _ in range(2):  # retried: events are told apart by sender and CreateTime
        assert wx.post(event).text == "success"
    wx.idle()
    [sent] = wx.fake.wait_sent(1)
    assert sent.content.startswith("您好，欢迎关注") and BIND_HINT in sent.content
    assert wx.rasa.calls == []
    wx.bound("oAlreadyBound")
    wx.post(event_xml("oAlreadyBound", "subscribe", at=1700000200))
    wx.idle()
    assert BIND_HINT not in wx.fake.wait_sent(2)[-1].content


def test_a_menu_click_is_what_the_menu_says(wx: Wx) -> None:
    wx.bound()
    wx.post(event_xml(OPENID, "CLICK", "PROGRESS", at=1700000300))
    wx.idle()
    assert wx.rasa.calls[-1]["message"] == "查询售后进度"
    assert wx.transcript()[0]["text"] == "查询售后进度"


def test_a_handoff_reply_reaches_the_customer_service_api(wx: Wx) -> None:
    wx.bound()
    _say(wx, "我要投诉")
    opened = wx.client.post("/api/v1/handoffs", headers=wx.api.service, json={
        "conversation_id": f"wechat:{OPENID}", "channel": "wechat", "buyer_id": BUYER, "reason": "complaint",
        "summary": "买家要投诉"})
    assert opened.status_code == 201, opened.text
    alice = wx.agent()
    assert wx.client.post(f"/api/v1/handoffs/{opened.json()['handoff_id']}/claim", headers=alice).status_code == 200
    _say(wx, "1")  # with a person: not an option, not for the bot
    assert len(wx.rasa.calls) == 1
    reply = wx.client.post(f"/api/v1/conversations/wechat:{OPENID}/messages", headers=alice,
                           json={"client_id": "r1", "text": "您好，我是客服小李，马上为您处理。"})
    assert reply.status_code == 201, reply.text
    wx.idle()
    texts = wx.fake.texts(OPENID)
    assert texts[-1] == "您好，我是客服小李，马上为您处理。"
    assert any("已接入" in t for t in texts)  # the system line about the agent, too


def test_when_the_assistant_is_down_option_1_asks_for_a_person(wx: Wx) -> None:
    wx.rasa.fail()
    _say(wx, "在吗")
    [down] = wx.fake.wait_sent(1)
    assert down.content.endswith("回复数字即可选择：\n1. 转人工客服")
    _say(wx, "1")
    queue = wx.client.get("/api/v1/handoffs?status=open", headers=wx.api.service).json()
    assert [h["conversation_id"] for h in queue["handoffs"]] == [f"wechat:{OPENID}"]
    assert "已为您转接人工客服" in wx.fake.wait_sent(2)[-1].content


def test_a_status_change_is_pushed_through_the_customer_service_api(wx: Wx) -> None:
    wx.bound()
    wx.api.order(ORDER, receiver_phone_tail=TAIL)
    _say(wx, "你好")  # the buyer's latest conversation is the WeChat one
    filed = wx.api.file(reason="other", remedy="return_refund",
                        materials=[{"code": "description", "text": "鞋子左右两只颜色不一样"}])
    assert filed.status_code == 201 and filed.json()["status"] == "pending_review", filed.text
    case_id = filed.json()["case_id"]
    assert wx.api.act(case_id, "reject", reason="图片不清晰").status_code == 200
    app = wx.app
    with wx.db() as session:  # one round of the push loop (PUSH_ENABLED is off in these tests)
        delivered, _ = push.deliver_pending(session, app.state.policy, wx.clock.now, wx.api.settings.return_address)
    for conversation_id, row in delivered:
        events.publish_message(app.state.hub, conversation_id, row)
    wx.idle()
    assert [c for c, _ in delivered] == [f"wechat:{OPENID}"]
    assert wx.fake.texts()[-1].startswith(f"您的售后单 {case_id} 有新进度：")


def test_a_message_too_long_for_the_gateway_is_answered_with_the_reason_and_not_logged(wx: Wx) -> None:
    _say(wx, "长" * 1001, account="plain")
    assert wx.rasa.calls == []
    assert "消息太长了" in wx.fake.wait_sent(1)[0].content


def test_a_message_for_an_openid_the_channel_never_saw_is_not_sent(wx: Wx) -> None:
    portal = wx.client.portal
    assert portal is not None
    portal.call(wx.adapter.deliver, "oStranger", {"author": "bot", "text": "hi", "buttons": [], "seq": 1})
    assert wx.fake.sent == []


def test_messages_of_two_users_do_not_mix(wx: Wx) -> None:
    _say(wx, "甲的问题", openid="oUserA", mid=msg_id())
    _say(wx, "乙的问题", openid="oUserB", mid=msg_id())
    sent = wx.fake.wait_sent(2)
    assert {(s.touser, s.content) for s in sent} == {("oUserA", "收到：甲的问题"), ("oUserB", "收到：乙的问题")}
