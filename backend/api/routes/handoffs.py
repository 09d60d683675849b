"""Handing a conversation to a human agent, and the agents' queue."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from backend.api.deps import ActorDep, NowDep, SessionDep, SettingsDep
from backend.cases.actor import Actor
from backend.cases.service import get_case
from backend.db.models import Agent, Case, Handoff
from backend.errors import ServiceError
from backend.gateway import events
from backend.schemas.handoffs import HandoffIn, HandoffList, HandoffOut, HandoffReason, HandoffStatus
from backend.settings import Settings
from backend.vocab import Party

router = APIRouter(tags=["handoffs"])
MSG_HANDOFF_NOT_FOUND = "未找到该转人工记录"
MSG_AGENTS_ONLY = "只有客服可以查看转人工队列"
MSG_CLAIMED_BY_OTHER = "该会话已被其他客服认领"
MSG_CLOSED = "该转人工已结束"
# Disputes and complaints first, then what the policy sent to a person, then the rest.
URGENCY = case(
    (Handoff.reason == HandoffReason.COMPLAINT.value, 0),
    (Handoff.reason == HandoffReason.NEEDS_REVIEW.value, 1),
    else_=2,
)


def _out(session: Session, settings: Settings, row: Handoff) -> HandoffOut:
    """With the SLA deadline: the case's own deadline, else the first-response target."""
    out = HandoffOut.model_validate(row, from_attributes=True)
    due = session.get(Case, row.case_id).due_at if row.case_id else None  # type: ignore[union-attr]
    first_response = row.created_at + timedelta(minutes=settings.handoff_first_response_minutes)
    out.sla_due_at = min(due, first_response) if due is not None else first_response
    return out


def _staff(actor: Actor, message: str) -> str:
    if actor.role not in (Party.AGENT, Party.MERCHANT) or actor.buyer_scope is not None:
        raise ServiceError(403, message)
    return actor.actor_id or "service"


@router.post("/handoffs", response_model=HandoffOut, status_code=201,
             responses={200: {"description": "The conversation already has a live handoff: that one"}})
def post_handoff(body: HandoffIn, request: Request, session: SessionDep, settings: SettingsDep, actor: ActorDep,
                 now: NowDep, response: Response) -> HandoffOut:
    buyer_id = actor.buyer_scope or body.buyer_id
    if actor.buyer_scope is not None and body.buyer_id not in (None, actor.buyer_scope):
        raise ServiceError(404, "未找到该买家")
    if body.case_id is not None:
        get_case(session, body.case_id, actor)  # 404 unless the case is visible to this caller
    row, opened = events.open_handoff(session, conversation_id=body.conversation_id, channel=body.channel,
                                      buyer_id=buyer_id, case_id=body.case_id, reason=body.reason.value,
                                      summary=body.summary, now=now)
    out = _out(session, settings, row)
    session.commit()
    if opened:
        events.publish_mode(request.app.state.hub, body.conversation_id, "agent")
    else:
        response.status_code = 200
    return out


@router.get("/handoffs", response_model=HandoffList, summary="The agent queue, most urgent first")
def list_handoffs(
    session: SessionDep,
    settings: SettingsDep,
    actor: ActorDep,
    status: Annotated[list[HandoffStatus] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=100000)] = 0,
) -> HandoffList:
    _staff(actor, MSG_AGENTS_ONLY)
    filters = [Handoff.status.in_([s.value for s in status])] if status else []
    total = session.scalar(select(func.count()).select_from(Handoff).where(*filters)) or 0
    # Within an urgency class: the nearer case deadline first, then the longest wait.
    rows = session.scalars(select(Handoff).outerjoin(Case, Case.case_id == Handoff.case_id).where(*filters)
                           .order_by(URGENCY, func.coalesce(Case.due_at, Handoff.created_at), Handoff.created_at,
                                     Handoff.handoff_id)
                           .limit(limit).offset(offset)).all()
    return HandoffList(total=total, limit=limit, offset=offset, handoffs=[_out(session, settings, r) for r in rows])


@router.get("/handoffs/{handoff_id}", response_model=HandoffOut)
def read_handoff(handoff_id: Annotated[int, Path(ge=1)], session: SessionDep, settings: SettingsDep,
                 actor: ActorDep) -> HandoffOut:
    row = session.get(Handoff, handoff_id)
    if row is None or (actor.buyer_scope is not None and row.buyer_id != actor.buyer_scope):
        raise ServiceError(404, MSG_HANDOFF_NOT_FOUND)
    return _out(session, settings, row)


@router.post("/handoffs/{handoff_id}/claim", response_model=HandoffOut, summary="An agent takes the conversation")
def claim_handoff(handoff_id: Annotated[int, Path(ge=1)], request: Request, session: SessionDep,
                  settings: SettingsDep, actor: ActorDep, now: NowDep) -> HandoffOut:
    if actor.role != Party.AGENT:
        raise ServiceError(403, "只有客服可以认领")
    row = session.get(Handoff, handoff_id, with_for_update=True)
    if row is None:
        raise ServiceError(404, MSG_HANDOFF_NOT_FOUND)
    if row.status == HandoffStatus.CLOSED.value:
        raise ServiceError(409, MSG_CLOSED)
    if row.status == HandoffStatus.CLAIMED.value:
        if row.agent != actor.actor_id:
            raise ServiceError(409, MSG_CLAIMED_BY_OTHER)
        return _out(session, settings, row)
    row.status, row.agent, row.claimed_at = HandoffStatus.CLAIMED.value, actor.actor_id, now
    agent = session.scalars(select(Agent).where(Agent.username == actor.actor_id)).one_or_none()
    message = events.system_message(session, row.conversation_id, events.MSG_AGENT_JOINED.format(
        name=agent.display_name if agent is not None else actor.actor_id), now)
    out = _out(session, settings, row)
    session.commit()
    events.publish_message(request.app.state.hub, row.conversation_id, message)
    events.publish_mode(request.app.state.hub, row.conversation_id, "agent")
    return out


@router.post("/handoffs/{handoff_id}/close", response_model=HandoffOut, summary="Hand the conversation back to the bot")
def close_handoff(handoff_id: Annotated[int, Path(ge=1)], request: Request, session: SessionDep,
                  settings: SettingsDep, actor: ActorDep, now: NowDep) -> HandoffOut:
    who = _staff(actor, "只有客服可以结束转人工")
    row = session.get(Handoff, handoff_id, with_for_update=True)
    if row is None:
        raise ServiceError(404, MSG_HANDOFF_NOT_FOUND)
    if row.status == HandoffStatus.CLOSED.value:
        return _out(session, settings, row)
    row.status, row.open_key, row.closed_at = HandoffStatus.CLOSED.value, None, now
    row.agent = row.agent or who
    # The tracker stays paused until the gateway resumes it before the buyer's next message.
    message = events.system_message(session, row.conversation_id, events.MSG_HANDED_BACK, now)
    out = _out(session, settings, row)
    session.commit()
    events.publish_message(request.app.state.hub, row.conversation_id, message)
    events.publish_mode(request.app.state.hub, row.conversation_id, "bot")
    return out
