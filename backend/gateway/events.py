"""What opening, claiming and closing a handoff means for the conversation and who is told.

Shared by the handoff routes (the bot and the console call them) and the gateway itself (a buyer
asking for a person while the assistant is down). Callers commit before they publish.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.db.models import Conversation, ConversationMessage, Handoff
from backend.gateway import store
from backend.gateway.hub import AGENTS, Hub, conversation_topic, message_topics
from backend.schemas.handoffs import HandoffStatus

MSG_HANDED_BACK = "人工客服已结束本次服务，智能助手继续为您服务。还有其他问题可以直接发给我。"
MSG_AGENT_JOINED = "人工客服 {name} 已接入，正在查看您的问题。"


def open_handoff(session: Session, *, conversation_id: str, channel: str, buyer_id: str | None,
                 case_id: str | None, reason: str, summary: str, now: datetime) -> tuple[Handoff, bool]:
    """The conversation's live handoff, opened now unless one exists (even under races). Caller commits."""
    live = store.live_handoff(session, conversation_id)
    if live is not None:
        return live, False
    row = Handoff(conversation_id=conversation_id, channel=channel, buyer_id=buyer_id, case_id=case_id,
                  reason=reason, summary=summary, status=HandoffStatus.OPEN.value, open_key=conversation_id,
                  created_at=now)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # a concurrent request for the same conversation won
        return session.scalars(select(Handoff).where(Handoff.open_key == conversation_id)).one(), False
    conversation = session.get(Conversation, conversation_id)
    if conversation is not None:
        conversation.bot_paused = True  # the bot paused its tracker (or will be told to resume anyway)
    return row, True


def system_message(session: Session, conversation_id: str, text: str, now: datetime) -> ConversationMessage | None:
    """A system line in the log of a conversation the gateway knows (bot-only tests have none)."""
    if session.get(Conversation, conversation_id) is None:
        return None
    return store.append(session, conversation_id, "system", now, text=text)


def publish_message(hub: Hub, conversation_id: str, row: ConversationMessage | None) -> None:
    if row is not None:
        event = {"type": "message", "conversation_id": conversation_id, "message": store.message_json(row)}
        for topic in message_topics(conversation_id):
            hub.publish(topic, event)


def publish_mode(hub: Hub, conversation_id: str, mode: str) -> None:
    hub.publish(conversation_topic(conversation_id), {"type": "mode", "conversation_id": conversation_id, "mode": mode})
    hub.publish(AGENTS, {"type": "queue_changed"})
