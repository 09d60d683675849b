"""A buyer's message on its way to Rasa, and Rasa's replies on their way back to the log and the socket."""

from __future__ import annotations

import pytest

from tests.gateway.conftest import BUYER, CONVERSATION, Gateway
from tests.gateway.helpers import comparable
from tests.support import media

ORDER_BUTTON = {"title": "男士跑步鞋 黑色 42码", "payload": '/inform{"order_id":"2026111812345678"}'}


def _only_buyer_metadata(attachments: list[dict[str, object]] | None = None) -> dict[str, object]:
    return {"channel": "web", "attachments": attachments or [], "buyer_id": BUYER}


def test_the_message_reaches_rasa_as_the_conversation_with_the_verified_buyer(gw: Gateway) -> None:
    with gw.buyer() as sock:
        ack = sock.say("  鞋子开胶了  ", client_id="c-1")
        assert ack == {"type": "ack", "client_id": "c-1", "seq": 1}
        assert sock.message_from("bot")["text"] == "收到：鞋子开胶了"
    assert gw.rasa.calls == [{"sender": CONVERSATION, "message": "鞋子开胶了", "metadata": _only_buyer_metadata()}]
    logged = gw.transcript()
    assert [(m["seq"], m["author"], m["text"]) for m in logged] == [(1, "buyer", "鞋子开胶了"), (2, "bot", "收到：鞋子开胶了")]


def test_frames_come_in_order_ack_echo_typing_then_each_reply_logged_as_bot(gw: Gateway) -> None:
    gw.rasa.reply(
        {"text": "请选择要申请售后的订单："},
        {"text": "您的订单：", "buttons": [ORDER_BUTTON]},
        {"custom": {"type": "materials_request", "case_id": "AS1", "materials": []}},
        {"image": "https://example.com/cat.png"},  # nothing our bot sends: not logged
        {"text": "最后一句"},
    )
    with gw.buyer() as sock:
        sock.send({"type": "message", "client_id": "c-1", "text": "我要售后"})
        frames = [sock.next() for _ in range(8)]
        assert sock.quiet() == []
    assert [f["type"] for f in frames] == ["ack", "message", "typing", "typing", "message", "message", "message",
                                           "message"]
    assert frames[0]["seq"] == 1 and frames[1]["message"]["seq"] == 1 and frames[1]["message"]["author"] == "buyer"
    assert frames[2:4] == [{"type": "typing", "on": True, "conversation_id": CONVERSATION},
                           {"type": "typing", "on": False, "conversation_id": CONVERSATION}]
    pushed = [f["message"] for f in frames[4:]]
    assert [(m["seq"], m["author"]) for m in pushed] == [(2, "bot"), (3, "bot"), (4, "bot"), (5, "bot")]
    assert pushed[1]["buttons"] == [ORDER_BUTTON]
    assert pushed[2]["custom"] == {"type": "materials_request", "case_id": "AS1", "materials": []}
    assert pushed[2]["text"] is None and pushed[3]["text"] == "最后一句"
    logged = gw.transcript()
    assert [m["seq"] for m in logged] == [1, 2, 3, 4, 5]
    assert [comparable(m) for m in logged[1:]] == [comparable(m) for m in pushed]  # what the log holds


def test_a_button_click_sends_its_payload_to_rasa_and_logs_its_title(gw: Gateway) -> None:
    with gw.buyer() as sock:
        assert sock.say(ORDER_BUTTON["title"], payload=ORDER_BUTTON["payload"])["type"] == "ack"
        assert sock.message_from("buyer")["text"] == ORDER_BUTTON["title"]
        sock.message_from("bot")
    assert gw.rasa.calls[0]["message"] == ORDER_BUTTON["payload"]
    assert gw.transcript()[0]["text"] == ORDER_BUTTON["title"]


@pytest.mark.parametrize("payload", ["restart", "/Restart", "/restart\n/stop", "/inform{} trailing", "x" * 501])
def test_a_payload_that_is_not_an_intent_command_is_refused(gw: Gateway, payload: str) -> None:
    with gw.buyer() as sock:
        error = sock.say("按钮", client_id="c-1", payload=payload)
        assert error == {"type": "error", "code": "bad_frame", "message": "消息格式不正确", "client_id": "c-1"}
    assert gw.rasa.calls == [] and gw.transcript() == []


@pytest.mark.parametrize("typed, sent", [
    ("/restart", "restart"),
    ('/inform{"order_id":"2026111800000099"}', 'inform{"order_id":"2026111800000099"}'),
    ("//stop", "stop"),
])
def test_typed_text_starting_with_a_slash_is_never_a_command(gw: Gateway, typed: str, sent: str) -> None:
    with gw.buyer() as sock:
        sock.say(typed)
        sock.message_from("bot")
    assert gw.rasa.calls[0]["message"] == sent
    assert gw.transcript()[0]["text"] == typed  # logged as typed


def test_attachments_of_the_buyers_own_uploads_go_to_rasa_as_ids_and_to_the_log_with_kind_and_name(gw: Gateway) -> None:
    token = gw.token()
    photo = gw.upload(media.jpeg(), name="开胶.jpg", token=token).json()["upload_id"]
    other = gw.upload(media.png(), name="box.png", token=token, mime="image/png").json()["upload_id"]
    with gw.buyer(token=token) as sock:
        ack = sock.say("", attachments=[{"upload_id": photo, "material": "defect_photo"}, {"upload_id": other}])
        assert ack["type"] == "ack"
        echoed = sock.message_from("buyer")
        sock.message_from("bot")
    assert gw.rasa.calls[0]["message"] == "/inform"  # files without words answer the form's question
    assert gw.rasa.calls[0]["metadata"] == _only_buyer_metadata(
        [{"upload_id": photo, "material": "defect_photo"}, {"upload_id": other, "material": None}])
    assert echoed["text"] is None
    assert echoed["attachments"] == [
        {"upload_id": photo, "material": "defect_photo", "kind": "image", "display_name": "开胶.jpg"},
        {"upload_id": other, "material": None, "kind": "image", "display_name": "box.png"}]
    assert gw.transcript()[0]["attachments"] == echoed["attachments"]


def test_an_attachment_the_buyer_does_not_own_refuses_the_whole_message(gw: Gateway) -> None:
    mine = gw.upload(media.jpeg(), token=gw.token()).json()["upload_id"]
    theirs = gw.upload(media.jpeg("red"), token=gw.token("b_2002")).json()["upload_id"]
    ownerless = gw.api.client.post("/api/v1/uploads", files={"file": ("p.png", media.png("green"), "image/png")},
                                   headers=gw.service).json()["upload_id"]
    with gw.buyer() as sock:
        for attachments in ([{"upload_id": theirs}], [{"upload_id": mine}, {"upload_id": theirs}],
                            [{"upload_id": ownerless}], [{"upload_id": "up_" + "0" * 32}]):
            error = sock.say("看这张", client_id="c-1", attachments=attachments)
            assert error == {"type": "error", "code": "bad_attachment", "message": "附件无效或已过期，请重新上传",
                             "client_id": "c-1"}
        assert sock.say("好的", client_id="c-1")["seq"] == 1  # the refused client_id was not used up
        sock.message_from("bot")
    assert gw.transcript()[0]["text"] == "好的" and len(gw.transcript()) == 2
    assert [c["message"] for c in gw.rasa.calls] == ["好的"]


def test_replies_that_are_not_a_list_of_messages_are_skipped_item_by_item(gw: Gateway) -> None:
    gw.rasa.reply({"text": 42}, {"buttons": "no"}, {"text": "能用的回复"})
    with gw.buyer() as sock:
        sock.say("你好")
        assert sock.message_from("bot", "system")["text"] == "能用的回复"
    assert [m["author"] for m in gw.transcript()] == ["buyer", "bot"]
