"""The conversation log on the wire: messages, and the frames of the buyer's WebSocket (docs/gateway.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from backend.schemas.common import WireModel

ClientId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
UploadRef = Annotated[str, StringConstraints(min_length=1, max_length=35, pattern=r"^[A-Za-z0-9_-]+$")]
MaterialRef = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[a-z_]+$")]
# A button's payload is a Rasa intent with optional JSON entities; nothing else is forwarded as a command.
ButtonPayload = Annotated[str, StringConstraints(max_length=500, pattern=r"^/[a-z_]+(/[a-z_]+)?(\{.*\})?$")]


class Author:
    BUYER = "buyer"
    BOT = "bot"
    AGENT = "agent"
    SYSTEM = "system"


class Button(BaseModel):
    title: str
    payload: str


class AttachmentIn(WireModel):
    upload_id: UploadRef
    material: MaterialRef | None = None


class Attachment(BaseModel):
    upload_id: str
    material: str | None = None
    kind: str | None = None
    display_name: str | None = None


class MessageOut(BaseModel):
    seq: int
    author: Literal["buyer", "bot", "agent", "system"]
    author_id: str | None = None
    text: str | None
    buttons: list[Button] = []
    custom: dict[str, Any] | None = None
    attachments: list[Attachment] = []
    created_at: datetime


class Transcript(BaseModel):
    conversation_id: str
    channel: str
    buyer_id: str | None
    mode: Literal["bot", "agent"]
    messages: list[MessageOut]


class AgentReplyIn(WireModel):
    client_id: ClientId
    text: Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class HelloFrame(WireModel):
    type: Literal["hello"]
    token: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    last_seq: int = Field(0, ge=0)


class MessageFrame(WireModel):
    type: Literal["message"]
    client_id: ClientId
    text: str = ""
    payload: ButtonPayload | None = None
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=9)


class RequestHumanFrame(WireModel):
    type: Literal["request_human"]
    client_id: ClientId | None = None


class PingFrame(WireModel):
    type: Literal["ping"]


class WatchFrame(WireModel):
    type: Literal["watch"]
    conversation_id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
