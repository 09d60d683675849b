"""Handing a conversation to a human agent, and the agents' queue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError

from backend.api.deps import ActorDep, NowDep, SessionDep
from backend.cases.service import get_case
from backend.db.models import Handoff
from backend.errors import ServiceError
from backend.schemas.handoffs import HandoffIn, HandoffList, HandoffOut, HandoffReason, HandoffStatus
from backend.vocab import Party

router = APIRouter(tags=["handoffs"])
MSG_HANDOFF_NOT_FOUND = "未找到该转人工记录"
MSG_AGENTS_ONLY = "只有客服可以查看转人工队列"
# Disputes and complaints first, then what the policy sent to a person, then the rest.
URGENCY = case(
    (Handoff.reason == HandoffReason.COMPLAINT.value, 0),
    (Handoff.reason == HandoffReason.NEEDS_REVIEW.value, 1),
    else_=2,
)


def _out(row: Handoff) -> HandoffOut:
    return HandoffOut.model_validate(row, from_attributes=True)


@router.post("/handoffs", response_model=HandoffOut, status_code=201,
             responses={200: {"description": "The conversation already has a live handoff: that one"}})
def post_handoff(body: HandoffIn, session: SessionDep, actor: ActorDep, now: NowDep, response: Response) -> HandoffOut:
    buyer_id = actor.buyer_scope or body.buyer_id
    if actor.buyer_scope is not None and body.buyer_id not in (None, actor.buyer_scope):
        raise ServiceError(404, "未找到该买家")
    if body.case_id is not None:
        get_case(session, body.case_id, actor)  # 404 unless the case is visible to this caller
    live = session.scalars(select(Handoff).where(Handoff.open_key == body.conversation_id)).one_or_none()
    if live is not None:
        response.status_code = 200
        return _out(live)
    row = Handoff(conversation_id=body.conversation_id, channel=body.channel, buyer_id=buyer_id,
                  case_id=body.case_id, reason=body.reason.value, summary=body.summary,
                  status=HandoffStatus.OPEN.value, open_key=body.conversation_id, created_at=now)
    session.add(row)
    try:
        session.flush()
    except IntegrityError:  # a concurrent request for the same conversation won
        session.rollback()
        response.status_code = 200
        return _out(session.scalars(select(Handoff).where(Handoff.open_key == body.conversation_id)).one())
    out = _out(row)
    session.commit()
    return out


@router.get("/handoffs", response_model=HandoffList, summary="The agent queue, most urgent first")
def list_handoffs(
    session: SessionDep,
    actor: ActorDep,
    status: Annotated[list[HandoffStatus] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=100000)] = 0,
) -> HandoffList:
    if actor.buyer_scope is not None:
        raise ServiceError(403, MSG_AGENTS_ONLY)
    filters = [Handoff.status.in_([s.value for s in status])] if status else []
    total = session.scalar(select(func.count()).select_from(Handoff).where(*filters)) or 0
    rows = session.scalars(select(Handoff).where(*filters).order_by(URGENCY, Handoff.created_at, Handoff.handoff_id)
                           .limit(limit).offset(offset)).all()
    return HandoffList(total=total, limit=limit, offset=offset, handoffs=[_out(r) for r in rows])


@router.get("/handoffs/{handoff_id}", response_model=HandoffOut)
def read_handoff(handoff_id: Annotated[int, Path(ge=1)], session: SessionDep, actor: ActorDep) -> HandoffOut:
    row = session.get(Handoff, handoff_id)
    if row is None or (actor.buyer_scope is not None and row.buyer_id != actor.buyer_scope):
        raise ServiceError(404, MSG_HANDOFF_NOT_FOUND)
    return _out(row)


@router.post("/handoffs/{handoff_id}/close", response_model=HandoffOut, summary="Hand the conversation back to the bot")
def close_handoff(handoff_id: Annotated[int, Path(ge=1)], session: SessionDep, actor: ActorDep, now: NowDep) -> HandoffOut:
    if actor.role not in (Party.AGENT, Party.MERCHANT) or actor.buyer_scope is not None:
        raise ServiceError(403, "只有客服可以结束转人工")
    row = session.get(Handoff, handoff_id)
    if row is None:
        raise ServiceError(404, MSG_HANDOFF_NOT_FOUND)
    if row.status != HandoffStatus.CLOSED.value:
        row.status, row.open_key, row.closed_at = HandoffStatus.CLOSED.value, None, now
        row.agent = row.agent or actor.actor_id
    out = _out(row)
    session.commit()
    return out
