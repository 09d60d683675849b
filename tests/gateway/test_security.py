"""The console's cookie only works from the console's own origin; buyers never read transcripts;
what buyers type is stored and served as text, unchanged."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import update

from backend.db.models import Agent
from backend.gateway import routes
from tests.gateway.conftest import CONVERSATION, ORIGIN, Gateway
from tests.gateway.helpers import Socket

XSS = [
    '<script>alert("x")</script>',
    '<img src=x onerror=alert(document.cookie)>',
    '"><svg/onload=alert(1)>',
    "javascript:alert(1)",
    "{{constructor.constructor('alert(1)')()}}",
    "&lt;b&gt;已转义&lt;/b&gt; & 'quotes'",
]


@pytest.mark.parametrize("headers, code, error", [
    pytest.param({}, 4403, "forbidden", id="no-origin"),
    pytest.param({"Origin": "https://evil.example"}, 4403, "forbidden", id="foreign-origin"),
    pytest.param({"Origin": "http://testserver.evil.example"}, 4403, "forbidden", id="lookalike-origin"),
    pytest.param({"Origin": "null"}, 4403, "forbidden", id="null-origin"),
    pytest.param({"Origin": ORIGIN}, 4401, "login_required", id="no-cookie"),
    pytest.param({"Origin": ORIGIN, "Cookie": "agent_session=forged"}, 4401, "login_required", id="forged-cookie"),
])
def test_the_console_socket_is_refused_without_same_origin_and_a_session(gw: Gateway, headers: dict[str, str],
                                                                         code: int, error: str) -> None:
    cookie = gw.agent("alice") if error == "forbidden" else {}
    with gw.socket("/gateway/agent/ws", headers={**cookie, **headers}) as sock:
        frame = sock.next()
        assert frame["type"] == "error" and frame["code"] == error
        assert sock.closed_with() == code
    with gw.buyer():
        gw.open_handoff()  # a refused socket was never subscribed: nothing to deliver, nothing breaks


def test_an_expired_agent_session_cannot_open_the_console_socket(gw: Gateway) -> None:
    alice = gw.agent("alice")
    gw.clock.advance(hours=gw.settings.agent_session_hours, minutes=1)
    with gw.socket("/gateway/agent/ws", headers={"Origin": ORIGIN, **alice}) as sock:
        assert sock.next()["code"] == "login_required"
        assert sock.closed_with() == 4401


@pytest.mark.parametrize("extra", [
    pytest.param({"Origin": "https://evil.example"}, id="foreign-origin"),
    pytest.param({"Origin": ORIGIN, "Sec-Fetch-Site": "cross-site"}, id="sec-fetch-cross-site"),
    pytest.param({"Sec-Fetch-Site": "same-site"}, id="sec-fetch-same-site"),
])
def test_a_cross_site_write_with_the_agent_cookie_is_refused_and_changes_nothing(gw: Gateway,
                                                                                 extra: dict[str, str]) -> None:
    alice = gw.agent("alice")
    with gw.buyer() as sock:
        handoff = gw.open_handoff()
        sock.expect("mode")
        claim = gw.client.post(f"/api/v1/handoffs/{handoff['handoff_id']}/claim", headers={**alice, **extra})
        assert claim.status_code == 403 and claim.json() == {"detail": "跨站请求被拒绝"}
        assert gw.handoffs("open")["total"] == 1

        assert gw.claim(handoff["handoff_id"], {**alice, "Origin": ORIGIN}).status_code == 200  # same origin: fine
        sock.expect("mode")
        reply = gw.client.post(f"/api/v1/conversations/{CONVERSATION}/messages", headers={**alice, **extra},
                               json={"client_id": "x-1", "text": "点这个链接领红包"})
        assert reply.status_code == 403
        close = gw.client.post(f"/api/v1/handoffs/{handoff['handoff_id']}/close", headers={**alice, **extra})
        assert close.status_code == 403
        logout = gw.client.post("/api/v1/auth/logout", headers={**alice, **extra})
        assert logout.status_code == 403
        assert sock.quiet() == []
    assert [m["author"] for m in gw.transcript()] == ["system"]  # only "agent joined"
    assert gw.handoffs("claimed")["total"] == 1
    assert gw.client.get("/api/v1/auth/me", headers=alice).status_code == 200  # still logged in


def test_reads_with_the_agent_cookie_are_not_origin_checked(gw: Gateway) -> None:
    alice = gw.agent("alice")
    response = gw.client.get("/api/v1/handoffs", headers={**alice, "Origin": "https://evil.example"})
    assert response.status_code == 200  # SameSite=Strict keeps the cookie off such reads; CORS keeps the body


def test_buyers_cannot_read_or_write_transcripts(gw: Gateway) -> None:
    with gw.buyer() as sock:
        sock.say("我的地址是……")
        sock.message_from("bot")
    for buyer in ("b_1001", "b_2002"):
        read = gw.client.get(f"/api/v1/conversations/{CONVERSATION}/messages", headers=gw.api.buyer(buyer))
        assert read.status_code == 403 and read.json() == {"detail": "只有客服可以查看会话记录"}
    assert gw.client.get(f"/api/v1/conversations/{CONVERSATION}/messages").status_code == 401
    assert gw.reply("冒充客服", gw.api.buyer()).status_code == 403
    assert gw.client.get("/api/v1/handoffs", headers=gw.api.buyer()).status_code == 403
    alice = gw.agent("alice")
    assert gw.client.get(f"/api/v1/conversations/{CONVERSATION}/messages", headers=alice).status_code == 200


def test_what_buyers_and_agents_type_is_stored_and_served_verbatim(gw: Gateway) -> None:
    alice = gw.agent("alice")
    with gw.buyer() as sock:
        for n, text in enumerate(XSS):
            sock.say(text, client_id=f"c{n}")
            assert sock.message_from("buyer")["text"] == text
            sock.message_from("bot")
        handoff = gw.open_handoff()
        gw.claim(handoff["handoff_id"], alice)
        for n, text in enumerate(XSS):
            assert gw.reply(text, alice, client_id=f"r{n}").json()["text"] == text
            assert sock.message_from("agent")["text"] == text
    logged = gw.transcript()
    assert [m["text"] for m in logged if m["author"] == "buyer"] == XSS
    assert [m["text"] for m in logged if m["author"] == "agent"] == XSS
    assert [c["message"] for c in gw.rasa.calls] == XSS
    response = gw.client.get(f"/api/v1/conversations/{CONVERSATION}/messages", headers=gw.service)
    assert response.headers["content-type"].startswith("application/json")
    assert '<img src=x onerror=alert(document.cookie)>' in response.text  # not entity-encoded either


LOGIN_REQUIRED = {"type": "error", "code": "login_required", "message": "请先登录"}


def test_logging_out_ends_the_console_socket_at_its_next_frame(gw: Gateway) -> None:
    alice = gw.agent("alice")
    with gw.console(alice) as console, gw.buyer("b_2002") as buyer:
        assert gw.client.post("/api/v1/auth/logout", headers=alice).status_code == 204
        console.send({"type": "watch", "conversation_id": "web:b_2002"})
        assert console.next() == LOGIN_REQUIRED  # the watch was not taken
        assert console.closed_with() == 4401
        gw.open_handoff("web:b_2002", buyer_id="b_2002")
        buyer.say("我的手机号是13800000000")
        buyer.message_from("buyer")
    assert gw.client.get("/api/v1/auth/me", headers=alice).status_code == 401


def _recheck_every(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    assert routes.AGENT_RECHECK_SECONDS == 30.0  # what production uses
    monkeypatch.setattr(routes, "AGENT_RECHECK_SECONDS", seconds)


@contextmanager
def _silent_console(gw: Gateway, cookie: dict[str, str]) -> Iterator[Socket]:
    """A console socket that never speaks: the recheck alone must notice. (Under a tiny recheck interval a
    frame could also arrive just as the receive is cancelled; the TestClient's stream may drop it.)"""
    with gw.socket("/gateway/agent/ws", headers={"Origin": ORIGIN, **cookie}) as sock:
        yield sock


def _deactivate(gw: Gateway, username: str) -> None:
    with gw.db() as session:
        session.execute(update(Agent).where(Agent.username == username).values(active=False))
        session.commit()


def test_a_silent_console_socket_is_closed_when_its_agent_is_deactivated(gw: Gateway,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    _recheck_every(monkeypatch, 0.1)
    with _silent_console(gw, gw.agent("alice")) as alice, _silent_console(gw, gw.agent("bob")) as bob:
        gw.open_handoff()
        assert alice.next() == bob.next() == {"type": "queue_changed"}  # both past the login check, listening
        _deactivate(gw, "alice")
        assert alice.next(timeout=2) == LOGIN_REQUIRED
        assert alice.closed_with() == 4401
        gw.open_handoff("web:b_2002", buyer_id="b_2002")
        assert bob.next() == {"type": "queue_changed"}  # another agent's socket is untouched
        assert bob.quiet(0.3) == []


def test_a_silent_console_socket_is_closed_when_the_session_expires(gw: Gateway,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _recheck_every(monkeypatch, 0.1)
    with _silent_console(gw, gw.agent("alice")) as console:
        gw.open_handoff()
        assert console.next() == {"type": "queue_changed"}
        gw.clock.advance(hours=gw.settings.agent_session_hours, minutes=1)
        assert console.next(timeout=2) == LOGIN_REQUIRED
        assert console.closed_with() == 4401


def test_a_console_socket_that_stays_logged_in_is_rechecked_and_kept(gw: Gateway,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _recheck_every(monkeypatch, 0.01)
    with _silent_console(gw, gw.agent("alice")) as console, gw.buyer() as buyer:
        gw.open_handoff()
        assert console.next() == {"type": "queue_changed"}
        assert console.quiet(0.5) == []  # dozens of rechecks: nothing said, not closed
        buyer.say("有人吗")
        assert console.expect("message")["message"]["text"] == "有人吗"
        monkeypatch.setattr(routes, "AGENT_RECHECK_SECONDS", 30.0)
        time.sleep(0.1)  # the last short wait has ended: a frame now meets a 30 s wait
        console.sync()  # still answering
