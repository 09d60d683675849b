"""When the assistant cannot answer: the buyer's words are kept, the buyer is offered a person, and
asking for one opens a handoff even though the bot (which normally opens them) is down."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import pytest

from backend.gateway.rasa import RasaClient
from backend.gateway.relay import MSG_ALREADY_WITH_HUMAN, MSG_BOT_DOWN, MSG_HUMAN_REQUESTED
from tests.gateway.conftest import BUYER, CONVERSATION, Gateway
from tests.gateway.helpers import Raw


@pytest.fixture
def refused(gw: Gateway, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[float | None], None]]:
    """Give the gateway another Rasa client: to a port nobody listens on (connection refused), or with
    timeout `t` to the fake Rasa (the app's own client waits 5 seconds, to be safe on a busy machine)."""
    clients: list[RasaClient] = []

    def switch(timeout: float | None = None) -> None:
        if timeout is None:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                url = f"http://127.0.0.1:{s.getsockname()[1]}"
        else:
            url = gw.rasa.url
        clients.append(RasaClient(url, None, timeout or 1.0))
        monkeypatch.setattr(gw.app.state.relay, "rasa", clients[-1])
    yield switch
    for client in clients:
        gw.client.portal.call(client.aclose)  # type: ignore[union-attr]


def _slow(gw: Gateway, refuse: Callable[[float | None], None]) -> None:
    refuse(0.3)
    gw.rasa.script = lambda call: Raw(200, [{"text": "太迟了"}], delay=0.6)


FAILURES: dict[str, Callable[[Gateway, Callable[[float | None], None]], None]] = {
    "connection-refused": lambda gw, refuse: refuse(),
    "http-500": lambda gw, refuse: gw.rasa.fail(500),
    "http-404": lambda gw, refuse: gw.rasa.fail(404),
    "empty-reply": lambda gw, refuse: gw.rasa.reply(),  # what Rasa says when the action server is down
    "not-json": lambda gw, refuse: gw.rasa.fail(200, b"<html>Bad Gateway</html>"),
    "not-a-list": lambda gw, refuse: gw.rasa.fail(200, {"text": "一条"}),
    "only-unusable-items": lambda gw, refuse: gw.rasa.fail(200, ["文字", 3]),
    "timeout": _slow,
}


@pytest.mark.parametrize("failure", list(FAILURES))
def test_the_buyers_message_is_kept_and_a_person_is_offered(gw: Gateway, refused: Callable[[float | None], None],
                                                            failure: str) -> None:
    FAILURES[failure](gw, refused)
    with gw.buyer() as sock:
        assert sock.say("鞋子开胶了", client_id="c-1") == {"type": "ack", "client_id": "c-1", "seq": 1}
        frames = [sock.next() for _ in range(4)]
        assert [f["type"] for f in frames] == ["message", "typing", "typing", "message"]
        assert [frames[1]["on"], frames[2]["on"]] == [True, False]
        offer = frames[3]["message"]
        assert offer["seq"] == 2 and offer["author"] == "system"
        assert offer["text"] == MSG_BOT_DOWN and offer["custom"] == {"type": "request_human"}
    logged = gw.transcript()
    assert [(m["author"], m["text"]) for m in logged] == [("buyer", "鞋子开胶了"), ("system", MSG_BOT_DOWN)]
    assert gw.handoffs()["total"] == 0  # offered, not opened


def test_the_next_message_goes_to_the_assistant_again_once_it_is_back(gw: Gateway) -> None:
    gw.rasa.fail(500)
    with gw.buyer() as sock:
        sock.say("第一句")
        assert sock.message_from("bot", "system")["text"] == MSG_BOT_DOWN
        gw.rasa.reset()
        sock.say("第二句")
        assert sock.message_from("bot", "system")["text"] == "收到：第二句"


def test_asking_for_a_person_opens_one_handoff_with_the_buyers_words_in_the_summary(gw: Gateway) -> None:
    gw.rasa.fail(500)
    with gw.buyer() as sock:
        sock.say("鞋子开胶了，要换货")
        sock.message_from("system")
        sock.send({"type": "request_human", "client_id": "h-1"})
        told = sock.expect("message")["message"]
        assert (told["seq"], told["author"], told["text"]) == (3, "system", MSG_HUMAN_REQUESTED)
        assert sock.next() == {"type": "mode", "conversation_id": CONVERSATION, "mode": "agent"}

        queue = gw.handoffs("open")
        assert queue["total"] == 1
        handoff = queue["handoffs"][0]
        assert (handoff["conversation_id"], handoff["buyer_id"], handoff["channel"]) == (CONVERSATION, BUYER, "web")
        assert (handoff["reason"], handoff["status"], handoff["agent"]) == ("requested", "open", None)
        assert "买家：鞋子开胶了，要换货" in handoff["summary"]
        assert MSG_BOT_DOWN[:10] in handoff["summary"]

        sock.send({"type": "request_human"})  # again (no client_id is fine)
        again = sock.expect("message")["message"]
        assert again["text"] == MSG_ALREADY_WITH_HUMAN
        assert sock.quiet() == []  # no second mode frame
    assert gw.handoffs()["total"] == 1
    with gw.buyer() as sock:
        assert sock.welcome["mode"] == "agent"  # a reconnect shows who has the conversation


def test_an_anonymous_visitor_can_ask_for_a_person_too(gw: Gateway) -> None:
    visitor = gw.anonymous()
    with gw.buyer(token=visitor["token"]) as sock:
        sock.send({"type": "request_human"})
        assert sock.expect("mode")["mode"] == "agent"
    handoff = gw.handoffs()["handoffs"][0]
    assert handoff["conversation_id"] == visitor["conversation_id"] and handoff["buyer_id"] is None
    assert "（无）" in handoff["summary"]


def test_a_bad_request_human_frame_opens_nothing(gw: Gateway) -> None:
    with gw.buyer() as sock:
        sock.send({"type": "request_human", "client_id": "not valid!"})
        assert sock.expect("error")["code"] == "bad_frame"
        sock.sync()
    assert gw.handoffs()["total"] == 0
