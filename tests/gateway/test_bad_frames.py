"""Frames the buyer's socket refuses: an error frame in Chinese, nothing logged or forwarded, and the
socket keeps working."""

from __future__ import annotations

import json
import re

import pytest

from tests.gateway.conftest import MESSAGE_BURST, Gateway
from tests.gateway.helpers import Socket
from tests.support import media

CJK = re.compile(r"[\u4e00-\u9fff]")
BAD_FRAME = "消息格式不正确"


def _still_usable(gw: Gateway, sock: Socket) -> None:
    """Nothing was logged or forwarded, and the socket still answers pings and messages."""
    assert gw.transcript() == [] and gw.rasa.calls == []
    sock.sync()
    assert sock.say("现在正常了")["type"] == "ack"
    sock.message_from("bot")
    assert [m["text"] for m in gw.transcript()] == ["现在正常了", "收到：现在正常了"]


@pytest.mark.parametrize("raw, code, message", [
    pytest.param("hello?", "bad_frame", BAD_FRAME, id="not-json"),
    pytest.param("[1, 2]", "bad_frame", BAD_FRAME, id="json-array"),
    pytest.param('"message"', "bad_frame", BAD_FRAME, id="json-string"),
    pytest.param(json.dumps({"type": "dance"}), "bad_frame", BAD_FRAME, id="unknown-type"),
    pytest.param(json.dumps({"text": "没有类型"}), "bad_frame", BAD_FRAME, id="no-type"),
    pytest.param(json.dumps({"type": "hello", "token": "x"}), "bad_frame", BAD_FRAME, id="second-hello"),
    pytest.param("x" * (16 * 1024 + 1), "too_long", "消息太长了", id="oversize-frame"),
])
def test_a_frame_that_is_not_a_client_frame_gets_an_error_without_client_id(gw: Gateway, raw: str, code: str,
                                                                            message: str) -> None:
    with gw.buyer() as sock:
        sock.send(raw)
        error = sock.next()
        assert error["type"] == "error" and error["code"] == code and error["message"] == message
        assert error.get("client_id") is None
        _still_usable(gw, sock)


@pytest.mark.parametrize("frame, code, message", [
    pytest.param({"text": "x" * 1001}, "too_long", "消息太长了，请分几次发送（最多1000字）", id="text-too-long"),
    pytest.param({"text": ""}, "empty", "消息不能为空", id="empty"),
    pytest.param({"text": " \n\t "}, "empty", "消息不能为空", id="whitespace"),
    pytest.param({"text": "///"}, "empty", "消息不能为空", id="only-slashes"),
    pytest.param({"text": "你好\x00"}, "bad_frame", BAD_FRAME, id="nul-character"),
    pytest.param({"text": "你好", "extra": 1}, "bad_frame", BAD_FRAME, id="unknown-field"),
    pytest.param({"text": 42}, "bad_frame", BAD_FRAME, id="text-not-a-string"),
    pytest.param({"attachments": [{"upload_id": f"up_{n}"} for n in range(10)]}, "bad_frame", BAD_FRAME,
                 id="ten-attachments"),
    pytest.param({"attachments": [{"upload_id": "../../etc/passwd"}]}, "bad_frame", BAD_FRAME, id="bad-upload-id"),
])
def test_a_refused_message_gets_an_error_with_its_client_id(gw: Gateway, frame: dict[str, object], code: str,
                                                          message: str) -> None:
    with gw.buyer() as sock:
        error = sock.say(client_id="c-1", **frame)  # type: ignore[arg-type]
        assert error == {"type": "error", "code": code, "message": message, "client_id": "c-1"}
        assert CJK.search(error["message"])
        _still_usable(gw, sock)


@pytest.mark.parametrize("client_id", ["", "has space", "x" * 65, "中文"])
def test_a_message_with_a_bad_client_id_is_refused(gw: Gateway, client_id: str) -> None:
    with gw.buyer() as sock:
        sock.send({"type": "message", "client_id": client_id, "text": "你好"})
        error = sock.expect("error")
        assert error["code"] == "bad_frame" and error["message"] == BAD_FRAME
        _still_usable(gw, sock)


def test_exactly_1000_characters_and_nine_attachments_are_allowed(gw: Gateway) -> None:
    photos = [gw.api.upload(media.png(size=(10 + n, 10))) for n in range(9)]
    with gw.buyer() as sock:
        assert sock.say("好" * 1000)["type"] == "ack"
        sock.message_from("bot")
        assert sock.say("", attachments=[{"upload_id": p} for p in photos])["type"] == "ack"
        sock.message_from("bot")
    logged = gw.transcript()
    assert len(logged[0]["text"]) == 1000 and len(logged[2]["attachments"]) == 9


def test_more_than_message_burst_messages_in_ten_seconds_are_refused(gw: Gateway) -> None:
    with gw.buyer() as sock:
        for n in range(MESSAGE_BURST):
            assert sock.say(f"第{n}条", client_id=f"c{n}")["type"] == "ack"
        error = sock.say("太快了", client_id="c-over")
        assert error == {"type": "error", "code": "too_fast", "message": "您发送得太快了，请稍等几秒再发",
                         "client_id": "c-over"}
        sock.until(lambda f: f["type"] == "message" and f["message"]["seq"] == 2 * MESSAGE_BURST)
        sock.sync()  # still open
    logged = gw.transcript()
    assert len(logged) == 2 * MESSAGE_BURST and "太快了" not in [m["text"] for m in logged]
    assert len(gw.rasa.calls) == MESSAGE_BURST
    with gw.buyer("b_2002") as other:  # per conversation: another buyer is not slowed down
        assert other.say("你好")["type"] == "ack"
        other.message_from("bot")


def test_ping_gets_pong(gw: Gateway) -> None:
    with gw.buyer() as sock:
        sock.send({"type": "ping"})
        assert sock.next() == {"type": "pong"}
        sock.send({"type": "ping", "extra": True})
        assert sock.next()["code"] == "bad_frame"
