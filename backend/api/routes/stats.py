"""GET /stats: the supervisors' statistics page (web/stats) and its alerts (docs/stats.md).

Only a logged-in supervisor may read it, like /supervisor/overview: it shows every merchant's
figures, which neither the bot, a buyer, the service token nor an ordinary agent needs.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select

from backend.api.deps import ActorDep, NowDep, PolicyDep, SessionDep
from backend.cases.actor import Actor
from backend.db.models import Agent
from backend.errors import ServiceError
from backend.policy.config import Policy
from backend.schemas.stats import StatsOut
from backend.stats.alerts import current_alerts
from backend.stats.queries import StatsQuery, figures
from backend.vocab import Party

router = APIRouter(tags=["stats"])
MSG_SUPERVISORS_ONLY = "只有主管可以查看"
MSG_BAD_DATE = "{name}格式不正确，请使用 YYYY-MM-DD，例如 2026-11-01"
MSG_FROM_AFTER_TO = "开始日期不能晚于结束日期"
MSG_FROM_IN_FUTURE = "开始日期不能晚于今天"
MSG_TOO_LONG = "统计区间最长{days}天，请缩小日期范围"
MSG_GRANULARITY = "统计粒度只能是 day（按日）或 month（按月）"
DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")  # fromisoformat alone would also take week dates


def require_supervisor(session: SessionDep, actor: ActorDep) -> Actor:
    me = session.scalars(select(Agent).where(Agent.username == actor.actor_id)).one_or_none() \
        if actor.role == Party.AGENT else None
    if me is None or me.role != "supervisor":
        raise ServiceError(403, MSG_SUPERVISORS_ONLY)
    return actor


def _date(value: str | None, name: str) -> date | None:
    if value is None or value == "":
        return None
    try:
        if not DATE_RE.match(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise ServiceError(422, MSG_BAD_DATE.format(name=name)) from None


def parse_query(policy: Policy, today: date, raw_from: str | None, raw_to: str | None, granularity: str) -> StatsQuery:
    """The range asked for, with Chinese refusals; without dates, the last `default_range_days`."""
    if granularity not in ("day", "month"):
        raise ServiceError(422, MSG_GRANULARITY)
    spec = policy.stats
    first, last = _date(raw_from, "开始日期（from）"), _date(raw_to, "结束日期（to）")
    if last is None:
        last = today if first is None or first <= today else first
    if first is None:
        first = last - timedelta(days=spec.default_range_days - 1)
    if first > last:
        raise ServiceError(422, MSG_FROM_AFTER_TO)
    if first > today:
        raise ServiceError(422, MSG_FROM_IN_FUTURE)
    if (last - first).days + 1 > spec.max_range_days:
        raise ServiceError(422, MSG_TOO_LONG.format(days=spec.max_range_days))
    return StatsQuery(first, last, granularity)  # type: ignore[arg-type]


@router.get("/stats", response_model=StatsOut, summary="After-sales statistics and current alerts (supervisors)",
            responses={401: {"description": "Not logged in"}, 403: {"description": "Not a supervisor"},
                       422: {"description": "A bad date, an inverted or too long range, an unknown granularity"}})
def read_stats(
    session: SessionDep,
    policy: PolicyDep,
    now: NowDep,
    _: Annotated[Actor, Depends(require_supervisor)],
    from_: Annotated[str | None, Query(alias="from", description="First local day, YYYY-MM-DD")] = None,
    to: Annotated[str | None, Query(description="Last local day (inclusive), YYYY-MM-DD")] = None,
    granularity: Annotated[str, Query(description="day or month")] = "day",
) -> StatsOut:
    query = parse_query(policy, now.astimezone(policy.tz).date(), from_, to, granularity)
    return StatsOut(**figures(session, policy, query, now), generated_at=now.astimezone(policy.tz),
                    alerts=current_alerts(session, policy, now))
