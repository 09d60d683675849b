"""Case updates pushed to the buyer: a system message with the progress card in their conversation.

Reads the append-only case events after a cursor, so it works the same whether the change came
from an agent, a merchant tool or the deadline scheduler, and survives restarts. The cursor moves
with a compare-and-set in the same transaction as the messages: with several workers polling, each
event is delivered exactly once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import anyio.to_thread
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from backend.cases.lifecycle import STATUS_LABELS
from backend.cases.progress import progress, return_address_of
from backend.db.models import Case, CaseEvent, Conversation, GatewayCursor
from backend.gateway import events, store
from backend.gateway.hub import Hub
from backend.policy.config import Policy
from backend.vocab import CaseStatus, Party

log = logging.getLogger("backend.gateway")
CURSOR = "status_push"
BATCH = 100
MSG_UPDATE = "您的售后单 {case_id} 有新进度：{status}。\n{next_step}"


def _cursor(session: Session) -> int:
    """Created at the newest event: switching the push on does not replay a database's history."""
    row = session.get(GatewayCursor, CURSOR)
    if row is None:
        newest = session.scalar(select(func.max(CaseEvent.id))) or 0
        try:
            with session.begin_nested():
                session.add(GatewayCursor(name=CURSOR, last_id=newest))
        except IntegrityError:
            pass
        row = session.get(GatewayCursor, CURSOR, populate_existing=True)
    assert row is not None
    return row.last_id


def _conversation_for(session: Session, buyer_id: str, now: datetime) -> str:
    """The buyer's most recently used conversation, or a new web one for their next visit."""
    latest = session.scalars(select(Conversation.conversation_id).where(Conversation.buyer_id == buyer_id)
                             .order_by(Conversation.updated_at.desc()).limit(1)).first()
    if latest is not None:
        return latest
    return store.ensure_conversation(session, f"web:{buyer_id}", "web", buyer_id, now).conversation_id


def _worth_telling(event: CaseEvent) -> bool:
    """Status changes the buyer did not make themselves (the bot already told them about those)."""
    return event.from_status is not None and event.from_status != event.to_status and event.actor_role != Party.BUYER.value


def deliver_pending(session: Session, policy: Policy, now: datetime,
                    return_address: str) -> tuple[list[tuple[str, Any]], int]:
    """One batch: the (conversation_id, message row) pairs for the caller to publish after commit,
    and how many events were read (0: nothing left)."""
    last = _cursor(session)
    session.commit()
    batch = session.scalars(select(CaseEvent).where(CaseEvent.id > last).order_by(CaseEvent.id).limit(BATCH)).all()
    if not batch:
        return [], 0
    delivered: list[tuple[str, Any]] = []
    for event in batch:
        if not _worth_telling(event):
            continue
        case = session.scalars(select(Case).where(Case.case_id == event.case_id)
                               .options(selectinload(Case.events))).one()
        if case.status != event.to_status:  # already moved on: the later event tells the newer state
            continue
        card = progress(policy, case, now, return_address_of(session, case, return_address))
        conversation_id = _conversation_for(session, case.buyer_id, now)
        text = MSG_UPDATE.format(case_id=case.case_id, status=STATUS_LABELS[CaseStatus(case.status)],
                                 next_step=card.next_step.text)
        row = store.append(session, conversation_id, "system", now, text=text,
                           custom={"type": "progress_card", "progress": card.model_dump(mode="json")})
        delivered.append((conversation_id, row))
    moved = session.execute(update(GatewayCursor).where(GatewayCursor.name == CURSOR, GatewayCursor.last_id == last)
                            .values(last_id=batch[-1].id)).rowcount
    if moved != 1:  # another worker delivered this batch first
        session.rollback()
        return [], 0
    session.commit()
    return delivered, len(batch)


async def run(session_factory: sessionmaker[Session], hub: Hub, policy: Policy, clock: Callable[[], datetime],
              return_address: str, interval: float) -> None:
    def once() -> int:
        with session_factory() as session:
            delivered, read = deliver_pending(session, policy, clock(), return_address)
            for conversation_id, row in delivered:
                events.publish_message(hub, conversation_id, row)
            return read

    while True:
        try:
            while await anyio.to_thread.run_sync(once):
                pass
        except Exception:  # a database hiccup must not end the push for the process's lifetime
            log.exception("status push failed; retrying")
        await asyncio.sleep(interval)
