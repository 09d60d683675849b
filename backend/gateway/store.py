"""The conversation log: append in order, exactly once; read back for history and the console.

Every write goes through `append`, which takes the next `seq` with one UPDATE … RETURNING on the
conversation row, so writers in other threads, workers or the push loop never interleave numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.db.models import Conversation, ConversationMessage, Handoff, Upload
from backend.schemas.conversations import Attachment, AttachmentIn, MessageOut

HISTORY_LIMIT = 200


def ensure_conversation(session: Session, conversation_id: str, channel: str, buyer_id: str | None,
                        now: datetime) -> Conversation:
    row = session.get(Conversation, conversation_id)
    if row is not None:
        return row
    row = Conversation(conversation_id=conversation_id, channel=channel, buyer_id=buyer_id, last_seq=0,
                       bot_paused=False, created_at=now, updated_at=now)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # another socket of the same buyer created it a moment ago
        row = session.get(Conversation, conversation_id, populate_existing=True)
        assert row is not None
    return row


def append(session: Session, conversation_id: str, author: str, now: datetime, *, text: str | None = None,
           buttons: Iterable[dict[str, Any]] = (), custom: dict[str, Any] | None = None,
           attachments: Iterable[dict[str, Any]] = (), client_id: str | None = None,
           author_id: str | None = None) -> ConversationMessage:
    """Caller commits. A duplicate client_id raises IntegrityError (see `find_by_client_id`)."""
    seq = session.execute(
        update(Conversation).where(Conversation.conversation_id == conversation_id)
        .values(last_seq=Conversation.last_seq + 1, updated_at=now).returning(Conversation.last_seq)
    ).scalar_one()
    row = ConversationMessage(conversation_id=conversation_id, seq=seq, author=author, author_id=author_id,
                              client_id=client_id, text=text, buttons=list(buttons), custom=custom,
                              attachments=list(attachments), created_at=now)
    session.add(row)
    session.flush()
    return row


def find_by_client_id(session: Session, conversation_id: str, client_id: str) -> ConversationMessage | None:
    return session.scalars(select(ConversationMessage).where(
        ConversationMessage.conversation_id == conversation_id, ConversationMessage.client_id == client_id)).first()


def history(session: Session, conversation_id: str, after_seq: int = 0,
            limit: int = HISTORY_LIMIT) -> list[ConversationMessage]:
    """The newest `limit` messages after `after_seq`, oldest first."""
    rows = session.scalars(select(ConversationMessage).where(
        ConversationMessage.conversation_id == conversation_id, ConversationMessage.seq > after_seq)
        .order_by(ConversationMessage.seq.desc()).limit(limit)).all()
    return list(reversed(rows))


def live_handoff(session: Session, conversation_id: str) -> Handoff | None:
    return session.scalars(select(Handoff).where(Handoff.open_key == conversation_id)).one_or_none()


def owned_attachments(session: Session, buyer_id: str, attachments: Sequence[AttachmentIn]) -> list[dict[str, Any]] | None:
    """The attachments with their kind and name, or None when one is unknown or not this buyer's."""
    out: list[dict[str, Any]] = []
    for item in attachments:
        upload = session.get(Upload, item.upload_id)
        if upload is None or upload.buyer_id != buyer_id:
            return None
        out.append(Attachment(upload_id=upload.upload_id, material=item.material, kind=upload.kind,
                              display_name=upload.display_name).model_dump())
    return out


def message_out(row: ConversationMessage) -> MessageOut:
    return MessageOut(seq=row.seq, author=row.author, author_id=row.author_id if row.author == "agent" else None,
                      text=row.text, buttons=row.buttons or [], custom=row.custom,
                      attachments=row.attachments or [], created_at=row.created_at)


def message_json(row: ConversationMessage) -> dict[str, Any]:
    return message_out(row).model_dump(mode="json")
