"""A messaging-app channel plugged in through ChannelAdapter: same log, exactly-once, bot and handoffs."""

from __future__ import annotations

import time
from functools import partial
from typing import Any

from backend.gateway.channels import ChannelAdapter
from backend.gateway.hub import channel_topic
from backend.gateway.relay import Ack
from tests.gateway.conftest import Gateway

USER = "o_6f1c2a"
CONVERSATION = f"wechat:{USER}"


class Recorder(ChannelAdapter):
    name = "wechat"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.delivered: list[tuple[str, dict[str, Any]]] = []

    async def deliver(self, user: str, message: dict[str, Any]) -> None:
        self.delivered.append((user, message))


def _wait_for(adapter: Recorder, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 5
    while len(adapter.delivered) < count:
        assert time.monotonic() < deadline, f"delivered {adapter.delivered}"
        time.sleep(0.01)
    return [m for _, m in adapter.delivered]


def test_a_channel_message_is_logged_once_answered_by_the_bot_and_delivered_back(gw: Gateway) -> None:
    portal = gw.client.portal
    assert portal is not None
    adapter = Recorder(gw.app.state.relay, gw.app.state.hub)
    running = portal.start_task_soon(adapter.run)
    try:
        hub, deadline = gw.app.state.hub, time.monotonic() + 5
        while channel_topic("wechat") not in hub._topics:  # run() has subscribed
            assert time.monotonic() < deadline
            time.sleep(0.005)
        receive = partial(adapter.receive, USER, buyer_id=None, message_id="wx-msg-1", text="七天无理由怎么算")
        first: Ack = portal.call(receive)
        assert first.seq == 1
        assert [(m["author"], m["text"]) for m in _wait_for(adapter, 1)] == [("bot", "收到：七天无理由怎么算")]
        assert portal.call(receive).seq == 1  # the app redelivered it: handled once

        alice = gw.agent("alice")
        handoff = gw.open_handoff(CONVERSATION, buyer_id=None)
        gw.claim(handoff["handoff_id"], alice)
        gw.reply("您好，我是客服", alice, conversation_id=CONVERSATION)
        delivered = _wait_for(adapter, 3)
        assert [m["author"] for m in delivered] == ["bot", "system", "agent"]
        assert {user for user, _ in adapter.delivered} == {USER}
    finally:
        running.cancel()
    assert gw.rasa.calls == [{"sender": CONVERSATION, "message": "七天无理由怎么算",
                              "metadata": {"channel": "wechat", "attachments": []}}]
    assert [m["author"] for m in gw.transcript(CONVERSATION)] == ["buyer", "bot", "system", "agent"]
