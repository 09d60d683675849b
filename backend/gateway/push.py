"""Case updates pushed to the buyer: a system message with the progress card in their conversation.

Reads the status outbox that `lifecycle.record` fills in the same transaction as each status change,
so it works the same whether the change came from an agent, a merchant tool or the deadline
scheduler, and survives restarts. Delivering deletes the outbox rows in the same transaction as the
messages: with several workers polling, each change is delivered exactly once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import anyio.to_thread
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from backend.cases.lifecycle import STATUS_LABELS, Action
from backend.cases.progress import progress, return_address_of
from backend.db.models import Case, CaseEvent, Conversation, StatusOutbox
from backend.gateway import events, store
from backend.gateway.hub import Hub
from backend.policy.config import Policy
from backend.vocab import CaseStatus, Party

log = logging.getLogger("backend.gateway")
BATCH = 100
MSG_UPDATE = "您的售后单 {case_id} 有新进度：{status}。\n{next_step}"


def _conversation_for(session: Session, buyer_id: str, now: datetime) -> str:
    """The buyer's most recently used conversation, or a new web one for their next visit."""
    latest = session.scalars(select(Conversation.conversation_id).where(Conversation.buyer_id == buyer_id)
                             .order_by(Conversation.updated_at.desc()).limit(1)).first()
    if latest is not None:
        return latest
    return store.ensure_conversation(session, f"web:{buyer_id}", "web", buyer_id, now).conversation_id


def _worth_telling(event: CaseEvent, case: Case) -> bool:
    """Changes the buyer did not cause: the bot already told them about those, including the system's
    follow-ups in the same moment (an approval at filing; review or approval once their proofs are in)."""
    if case.status != event.to_status:  # moved on already: the later change tells the newer state
        return False
    cause = event  # a system step is caused by the step just before it in the same moment
    for earlier in sorted((e for e in case.events if e.seq < event.seq), key=lambda e: -e.seq):
        if cause.actor_role != Party.SYSTEM.value or earlier.at != cause.at:
            break
        cause = earlier
    return cause.actor_role != Party.BUYER.value and cause.action != Action.MATERIALS_COMPLETE.value


def deliver_pending(session: Session, policy: Policy, now: datetime,
                    return_address: str) -> tuple[list[tuple[str, Any]], int]:
    """One batch: the (conversation_id, message row) pairs for the caller to publish after commit,
    and how many changes were taken from the outbox (0: nothing left)."""
    rows = session.scalars(select(StatusOutbox).order_by(StatusOutbox.event_id).limit(BATCH)
                           .with_for_update(skip_locked=True)).all()
    if not rows:
        session.rollback()
        return [], 0
    ids = [r.event_id for r in rows]
    batch = session.scalars(select(CaseEvent).where(CaseEvent.id.in_(ids)).order_by(CaseEvent.id)
                            .options(selectinload(CaseEvent.case).selectinload(Case.events))).all()
    # Conversations are written in buyer order, so two workers lock them in the same order (no deadlock).
    batch = sorted(batch, key=lambda e: (e.case.buyer_id, e.id))
    delivered: list[tuple[str, Any]] = []
    for event in batch:
        case = event.case
        if not _worth_telling(event, case):
            continue
        card = progress(policy, case, now, return_address_of(session, case, return_address))
        conversation_id = _conversation_for(session, case.buyer_id, now)
        text = MSG_UPDATE.format(case_id=case.case_id, status=STATUS_LABELS[CaseStatus(case.status)],
                                 next_step=card.next_step.text)
        row = store.append(session, conversation_id, "system", now, text=text,
                           custom={"type": "progress_card", "progress": card.model_dump(mode="json")})
        delivered.append((conversation_id, row))
    taken = session.execute(delete(StatusOutbox).where(StatusOutbox.event_id.in_(ids))).rowcount
    if taken != len(ids):  # another worker (SQLite has no SKIP LOCKED) delivered some of them first
        session.rollback()
        return [], 0
    session.commit()
    return delivered, len(ids)


async def run(session_factory: sessionmaker[Session], hub: Hub, policy: Policy, clock: Callable[[], datetime],
              return_address: str, interval: float) -> None:
    def once() -> int:
        with session_factory() as session:
            delivered, taken = deliver_pending(session, policy, clock(), return_address)
            for conversation_id, row in delivered:
                events.publish_message(hub, conversation_id, row)
            return taken

    while True:
        try:
            while await anyio.to_thread.run_sync(once):
                pass
        except Exception:  # a database hiccup must not end the push for the process's lifetime
            log.exception("status push failed; retrying")
        await asyncio.sleep(interval)
