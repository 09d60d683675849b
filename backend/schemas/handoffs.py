"""Handoffs of a conversation to a human agent."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, StringConstraints

from backend.schemas.common import CASE_ID_PATTERN, BuyerId, Page, WireModel


class HandoffReason(StrEnum):
    REQUESTED = "requested"        # the buyer asked for a person
    COMPLAINT = "complaint"        # a complaint or a dispute
    FALLBACK = "fallback"          # the bot did not understand twice
    NEEDS_REVIEW = "needs_review"  # the policy wants a person to decide
    BACKEND_DOWN = "backend_down"  # the assistant could not reach the case backend


class HandoffStatus(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    CLOSED = "closed"


class HandoffIn(WireModel):
    conversation_id: Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[\w.:@-]+$")]
    channel: Annotated[str, StringConstraints(min_length=1, max_length=16, pattern=r"^[a-z_]+$")] = "web"
    buyer_id: BuyerId | None = None
    case_id: Annotated[str, StringConstraints(pattern=CASE_ID_PATTERN)] | None = None
    reason: HandoffReason
    summary: Annotated[str, StringConstraints(min_length=1, max_length=4000)]


class HandoffOut(BaseModel):
    handoff_id: int
    conversation_id: str
    channel: str
    buyer_id: str | None
    case_id: str | None
    reason: HandoffReason
    summary: str
    status: HandoffStatus
    agent: str | None
    created_at: datetime
    claimed_at: datetime | None
    closed_at: datetime | None
    sla_due_at: datetime | None = None


class HandoffList(Page):
    handoffs: list[HandoffOut]
