"""What a supervisor watches: each agent's load, the queue, and the cases past their deadlines."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import func, select

from backend.api.deps import ActorDep, NowDep, PolicyDep, SessionDep
from backend.cases.deadlines import days_late
from backend.db.models import Agent, Case, Handoff
from backend.errors import ServiceError
from backend.schemas.handoffs import HandoffStatus
from backend.vocab import CLOSED_STATUSES, Party

router = APIRouter(prefix="/supervisor", tags=["agents"])
OVERDUE_LIMIT = 100


class AgentLoad(BaseModel):
    username: str
    display_name: str
    role: str
    claimed: int


class QueueCounts(BaseModel):
    open: int
    claimed: int


class OverdueCase(BaseModel):
    case_id: str
    status: str
    due_step: str | None
    due_party: str | None
    due_at: datetime
    days_late: int


class Overview(BaseModel):
    agents: list[AgentLoad]
    queue: QueueCounts
    overdue_cases: list[OverdueCase]


@router.get("/overview", response_model=Overview)
def overview(session: SessionDep, policy: PolicyDep, actor: ActorDep, now: NowDep) -> Overview:
    me = session.scalars(select(Agent).where(Agent.username == actor.actor_id)).one_or_none() \
        if actor.role == Party.AGENT else None
    if me is None or me.role != "supervisor":
        raise ServiceError(403, "只有主管可以查看")
    live = dict(session.execute(select(Handoff.status, func.count()).where(Handoff.open_key.is_not(None))
                                .group_by(Handoff.status)).all())
    claimed = dict(session.execute(select(Handoff.agent, func.count()).where(
        Handoff.status == HandoffStatus.CLAIMED.value).group_by(Handoff.agent)).all())
    agents = session.scalars(select(Agent).where(Agent.active.is_(True)).order_by(Agent.username)).all()
    overdue = session.scalars(select(Case).where(Case.due_at < now, Case.status.not_in([s.value for s in CLOSED_STATUSES]))
                              .order_by(Case.due_at).limit(OVERDUE_LIMIT)).all()
    return Overview(
        agents=[AgentLoad(username=a.username, display_name=a.display_name, role=a.role, claimed=claimed.get(a.username, 0))
                for a in agents],
        queue=QueueCounts(open=live.get(HandoffStatus.OPEN.value, 0), claimed=live.get(HandoffStatus.CLAIMED.value, 0)),
        overdue_cases=[OverdueCase(case_id=c.case_id, status=c.status, due_step=c.due_step, due_party=c.due_party,
                                   due_at=c.due_at, days_late=days_late(policy, c.due_step, c.due_at, now))
                       for c in overdue if c.due_at is not None],
    )
