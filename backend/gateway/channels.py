"""The interface a messaging-app channel (WeChat, WeCom, Feishu, …) implements to join the gateway.

The web widget talks to the gateway over its own socket; other channels receive webhooks and send
through the app's API. An adapter turns an incoming app message into `receive(...)` and is handed every
message the buyer should see (bot replies, agent replies, status pushes) through `deliver(...)`.
Verification, the log, exactly-once handling, handoff routing and the bot stay in the gateway.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from backend.gateway.hub import Hub, channel_topic
from backend.gateway.relay import Ack, Relay
from backend.gateway.tokens import Visitor
from backend.schemas.conversations import AttachmentIn, MessageFrame

log = logging.getLogger("backend.gateway")


class ChannelAdapter(ABC):
    name: ClassVar[str]  # the conversation id prefix: "<name>:<user>"

    def __init__(self, relay: Relay, hub: Hub) -> None:
        self.relay, self.hub = relay, hub

    async def receive(self, user: str, *, buyer_id: str | None, message_id: str, text: str = "",
                      payload: str | None = None, attachments: list[AttachmentIn] | None = None) -> Ack:
        """An incoming message. `message_id` is the app's own id: a redelivery is handled once.
        `buyer_id` only once the adapter has verified the account (e.g. a bound openid)."""
        frame = MessageFrame(type="message", client_id=message_id, text=text, payload=payload,
                             attachments=attachments or [])
        acks: list[Ack] = []

        async def stored(ack: Ack) -> None:
            acks.append(ack)
        await self.relay.buyer_message(Visitor(self.name, user, buyer_id), frame, stored)
        return acks[0]

    async def request_human(self, user: str, *, buyer_id: str | None) -> None:
        await self.relay.request_human(Visitor(self.name, user, buyer_id))

    @abstractmethod
    async def deliver(self, user: str, message: dict[str, Any]) -> None:
        """Send one logged message (bot, agent or system; see docs/gateway.md "Message") to the user.
        Buttons become whatever the app has instead (numbered options, links)."""

    async def run(self) -> None:
        """Delivers, until cancelled, every message of this channel's conversations not written by the buyer."""
        sub = self.hub.subscribe(channel_topic(self.name))
        try:
            while (event := await sub.get()) is not None:
                if event.get("type") != "message" or event["message"]["author"] == "buyer":
                    continue
                user = event["conversation_id"].split(":", 1)[1]
                try:
                    await self.deliver(user, event["message"])
                except Exception:  # one failed send must not stop the channel
                    log.exception("%s: delivery to %s failed", self.name, user)
        finally:
            sub.close()
            await asyncio.sleep(0)
