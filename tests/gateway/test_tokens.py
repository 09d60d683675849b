"""Who is talking: widget tokens signed by the shop, anonymous tokens of ours, the demo token door."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from backend.db.models import Conversation
from backend.gateway import routes, tokens
from backend.main import create_app
from tests.gateway.conftest import BUYER, CONVERSATION, Gateway, gateway_settings
from tests.gateway.helpers import Socket
from tests.support import media

BAD_TOKEN = "登录已过期或无效，请刷新页面后重试"


def _claims(gw: Gateway, sub: str = BUYER, hours: float = 1, **extra: object) -> dict[str, object]:
    now = gw.clock.now
    return {"sub": sub, "iat": int(now.timestamp()), "exp": int((now + timedelta(hours=hours)).timestamp()), **extra}


def _sign(gw: Gateway, claims: dict[str, object], secret: str | None = None) -> str:
    return jwt.encode(claims, secret or gw.settings.widget_token_secret.get_secret_value(), algorithm="HS256")


def _refused(sock: Socket) -> None:
    """The server's whole answer: one bad_token error, then close 4401."""
    frame = sock.next()
    assert frame == {"type": "error", "code": "bad_token", "message": BAD_TOKEN}
    assert sock.closed_with() == 4401


def _forged_signature(gw: Gateway) -> str:
    """A real token for b_2002 whose payload was rewritten to b_1001, signature kept."""
    header, _, signature = gw.token("b_2002").split(".")
    payload = base64.urlsafe_b64encode(json.dumps(_claims(gw)).encode()).rstrip(b"=").decode()
    return f"{header}.{payload}.{signature}"


def test_a_valid_buyer_token_opens_the_buyers_own_conversation(gw: Gateway) -> None:
    with gw.buyer() as sock:
        assert sock.welcome == {"type": "welcome", "conversation_id": CONVERSATION, "buyer_id": BUYER, "mode": "bot"}
        assert sock.history == []
    transcript = gw.client.get(f"/api/v1/conversations/{CONVERSATION}/messages", headers=gw.service).json()
    assert transcript["buyer_id"] == BUYER and transcript["channel"] == "web"


def test_the_demo_token_is_a_working_buyer_token_outside_production(gw: Gateway) -> None:
    response = gw.client.get("/demo/widget-token?buyer_id=b_2002")
    assert response.status_code == 200
    body = response.json()
    assert body["buyer_id"] == "b_2002"
    with gw.buyer(token=body["token"]) as sock:
        assert sock.welcome["conversation_id"] == "web:b_2002"


@pytest.mark.parametrize("make_token", [
    pytest.param(_forged_signature, id="forged-signature"),
    pytest.param(lambda gw: _sign(gw, _claims(gw), "another-shops-secret-0123456789abcdef"), id="wrong-secret"),
    pytest.param(lambda gw: _sign(gw, _claims(gw, hours=gw.settings.widget_token_max_hours + 1)), id="too-long-lived"),
    pytest.param(lambda gw: jwt.encode(_claims(gw), key=None, algorithm="none"), id="alg-none"),
    pytest.param(lambda gw: "garbage.not-a.jwt", id="garbage"),
    pytest.param(lambda gw: _sign(gw, {"sub": BUYER, "exp": _claims(gw)["exp"]}), id="no-iat"),
    pytest.param(lambda gw: _sign(gw, _claims(gw, sub="anon-" + "0" * 32)), id="buyer-token-with-anon-sub"),
    pytest.param(lambda gw: _sign(gw, _claims(gw, sub=BUYER, anon=True)), id="anon-claim-with-buyer-sub"),
    pytest.param(lambda gw: _sign(gw, _claims(gw, sub="../../etc")), id="malformed-buyer-id"),
])
def test_a_bad_token_gets_bad_token_and_close_4401(gw: Gateway, make_token) -> None:  # type: ignore[no-untyped-def]
    with gw.socket() as sock:
        sock.send({"type": "hello", "token": make_token(gw), "last_seq": 0})
        _refused(sock)
    with gw.db() as session:  # nothing was created for a refused visitor
        assert session.scalar(select(func.count()).select_from(Conversation)) == 0


def test_a_token_expires_on_the_applications_clock(gw: Gateway) -> None:
    token = gw.token(hours=1)
    with gw.buyer(token=token) as sock:
        assert sock.welcome["buyer_id"] == BUYER
    gw.clock.advance(hours=1, minutes=5)
    with gw.socket() as sock:
        sock.send({"type": "hello", "token": token, "last_seq": 0})
        _refused(sock)


@pytest.mark.parametrize("first", [
    pytest.param({"type": "message", "client_id": "c1", "text": "你好"}, id="message-before-hello"),
    pytest.param({"type": "hello", "last_seq": 0}, id="hello-without-token"),
    pytest.param({"type": "hello", "token": "", "last_seq": 0}, id="empty-token"),
    pytest.param("not json", id="not-json"),
    pytest.param([{"type": "hello"}], id="json-array"),
])
def test_a_socket_that_does_not_start_with_a_valid_hello_is_refused(gw: Gateway, first: object) -> None:
    with gw.socket() as sock:
        sock.send(first if isinstance(first, str) else json.dumps(first))
        if first == "not json" or isinstance(first, list):
            assert sock.next()["code"] == "bad_frame"  # the frame reader says so first
        _refused(sock)


def test_a_socket_that_says_nothing_is_closed_after_the_hello_timeout(gw: Gateway,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(routes, "HELLO_TIMEOUT", 0.2)
    with gw.socket() as sock:
        _refused(sock)


def test_an_anonymous_visitor_chats_without_a_buyer_id(gw: Gateway) -> None:
    issued = gw.anonymous()
    assert issued["buyer_id"] is None and issued["conversation_id"].startswith("web:anon-")
    with gw.buyer(token=issued["token"]) as sock:
        assert sock.welcome["buyer_id"] is None
        assert sock.welcome["conversation_id"] == issued["conversation_id"]
        assert sock.say("七天无理由怎么算？")["type"] == "ack"
        assert sock.message_from("bot")["text"] == "收到：七天无理由怎么算？"
    assert gw.rasa.calls == [{"sender": issued["conversation_id"], "message": "七天无理由怎么算？",
                              "metadata": {"channel": "web", "attachments": []}}]  # no buyer_id at all


def test_two_anonymous_tokens_are_two_conversations(gw: Gateway) -> None:
    assert gw.anonymous()["conversation_id"] != gw.anonymous()["conversation_id"]


def test_an_anonymous_visitor_can_neither_upload_nor_attach(gw: Gateway) -> None:
    anonymous = gw.anonymous()
    refused = gw.upload(media.jpeg(), token=anonymous["token"])
    assert refused.status_code == 403 and refused.json() == {"detail": "请先登录后再上传图片或视频"}
    photo = gw.upload(media.jpeg(), token=gw.token()).json()["upload_id"]  # someone's real upload
    with gw.buyer(token=anonymous["token"]) as sock:
        error = sock.say("看图", attachments=[{"upload_id": photo, "material": "defect_photo"}])
        assert error["type"] == "error" and error["code"] == "login_required"
        assert error["message"] == "请先登录后再上传图片或视频"
        assert sock.quiet() == []
    assert gw.rasa.calls == []
    assert gw.transcript(anonymous["conversation_id"]) == []


def test_a_token_from_the_anonymous_door_is_not_accepted_as_someone_elses_buyer_token(gw: Gateway) -> None:
    """Rewriting an anonymous token's sub to a buyer id breaks the signature."""
    header, _, signature = gw.anonymous()["token"].split(".")
    payload = base64.urlsafe_b64encode(json.dumps(_claims(gw)).encode()).rstrip(b"=").decode()
    with gw.socket() as sock:
        sock.send({"type": "hello", "token": f"{header}.{payload}.{signature}"})
        _refused(sock)


def test_the_demo_token_door_is_closed_in_production(tmp_path: Path) -> None:
    settings = gateway_settings(f"sqlite:///{tmp_path / 'unused.db'}", tmp_path, "http://127.0.0.1:9",
                                APP_ENV="production", CASE_API_TOKEN="p" * 32, WIDGET_TOKEN_SECRET="w" * 40)
    client = TestClient(create_app(settings))  # no lifespan: this route needs no database
    response = client.get("/demo/widget-token?buyer_id=b_1001")
    assert response.status_code == 404
    assert response.json() == {"detail": "生产环境不提供演示令牌"}
    assert "token" not in response.text.replace("令牌", "")


def test_tokens_module_refuses_a_token_issued_in_the_future(gw: Gateway) -> None:
    secret = gw.settings.widget_token_secret.get_secret_value()
    later = tokens.issue(secret, BUYER, gw.clock.now + timedelta(hours=2), 1)
    with pytest.raises(tokens.BadToken):
        tokens.verify(secret, later, gw.clock.now, gw.settings.widget_token_max_hours)
