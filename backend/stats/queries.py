"""The figures of the supervisors' statistics page (docs/stats.md), read from cases, case_events,
handoffs, conversations and orders.

Counts and sums are aggregated by the database with SQL that runs on SQLite and PostgreSQL alike;
the one dialect-specific piece is turning a UTC timestamp into a local day or month
(`period_expr`). Three things are computed in Python on purpose:

* medians and percentiles of durations: PostgreSQL has `percentile_cont`, SQLite has nothing, so the
  database returns one (start, end) row per review or case and the order statistics are taken here;
* SLA compliance: deadlines are counted on the Chinese statutory calendar (working days, 调休), which
  no SQL knows, so each case's steps are rebuilt from its events with the lifecycle's own
  `step_for` and judged with the policy's own `due()`, exactly as the scheduler would have;
* zero-filling the series, so a chart shows a quiet day as a zero rather than skipping it.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, ColumnElement, and_, cast as sql_cast, func, or_, select, union
from sqlalchemy.orm import Session, aliased

from backend.cases.deadlines import step_for
from backend.cases.lifecycle import STATUS_LABELS, Action
from backend.db.models import Case, CaseEvent, ConversationMessage, Handoff
from backend.policy.config import Policy
from backend.policy.deadlines import due
from backend.schemas.stats import (
    CodeCount,
    Durations,
    Granularity,
    Handoffs,
    Labels,
    PeriodRefund,
    PeriodVolume,
    RatingCount,
    Refunds,
    ReviewTime,
    Satisfaction,
    Sla,
    SlaStep,
    StatsRange,
    Volume,
    money,
    share,
)
from backend.vocab import CLOSED_STATUSES, CaseStatus, Party

S = CaseStatus
STAFF_PARTIES = frozenset({Party.MERCHANT, Party.PLATFORM, Party.AGENT})
DECISIONS = (Action.APPROVE.value, Action.REJECT.value)
RATINGS = range(1, 6)
ID_CHUNK = 500  # ids per IN (…) list: far below SQLite's and PostgreSQL's parameter limits


# ---------------------------------------------------------------- windows and periods


@dataclass(frozen=True, slots=True)
class Window:
    """[start, end) in UTC-aware datetimes."""

    start: datetime
    end: datetime

    def has(self, column: Any) -> ColumnElement[bool]:
        return and_(column >= self.start, column < self.end)

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    @classmethod
    def of_days(cls, first: date, last: date, tz: ZoneInfo) -> Window:
        """Local days first..last inclusive: from first's local midnight to the midnight after last."""
        return cls(datetime.combine(first, time(0), tzinfo=tz),
                   datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz))

    @classmethod
    def last_days(cls, now: datetime, days: int) -> Window:
        return cls(now - timedelta(days=days), now)


def period_keys(first: date, last: date, granularity: Granularity) -> list[str]:
    """Every period of the range in order, so empty ones appear as zeros."""
    if granularity == "day":
        return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]
    keys, year, month = [], first.year, first.month
    while (year, month) <= (last.year, last.month):
        keys.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return keys


def period_expr(session: Session, column: Any, tz: ZoneInfo, granularity: Granularity,
                at: datetime) -> ColumnElement[str]:
    """The local day ("2026-11-20") or month ("2026-11") of a stored UTC timestamp.

    PostgreSQL converts with the zone's own rules. SQLite has no time-zone data, so it shifts by
    the zone's offset at `at` (the start of the range): exact for Asia/Shanghai, which has had no
    daylight saving since 1991; SQLite is the development database.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        fmt = "YYYY-MM-DD" if granularity == "day" else "YYYY-MM"
        return func.to_char(func.timezone(str(tz), column), fmt)
    if dialect == "sqlite":
        offset = at.astimezone(tz).utcoffset() or timedelta(0)
        fmt = "%Y-%m-%d" if granularity == "day" else "%Y-%m"
        return func.strftime(fmt, column, f"{int(offset.total_seconds() // 60):+d} minutes")
    raise NotImplementedError(f"statistics need SQLite or PostgreSQL, not {dialect}")


def _cents(column: Any) -> ColumnElement[int]:
    """Money summed exactly on both databases: SQLite keeps NUMERIC as float, so sum whole fen."""
    return sql_cast(func.round(func.coalesce(column, 0) * 100), BigInteger)


def _chunks(ids: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(ids), ID_CHUNK):
        yield ids[i:i + ID_CHUNK]


# ---------------------------------------------------------------- durations


def percentile(values: Sequence[float], p: float) -> float | None:
    """Linear interpolation between closest ranks (the "inclusive" method, numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    low = math.floor(k)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def _hours(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def summarize(hours: Sequence[float], p: int = 90) -> Durations:
    return Durations(
        count=len(hours),
        avg_hours=_hours(sum(hours) / len(hours)) if hours else None,
        median_hours=_hours(percentile(hours, 50)),
        p90_hours=_hours(percentile(hours, p)),
        max_hours=_hours(max(hours)) if hours else None,
    )


def _span_hours(start: datetime, end: datetime) -> float:
    return max((end - start).total_seconds(), 0.0) / 3600


@dataclass(frozen=True, slots=True)
class Review:
    case_id: str
    action: str
    entered: datetime
    decided: datetime

    @property
    def hours(self) -> float:
        return _span_hours(self.entered, self.decided)


def reviews_decided(session: Session, window: Window) -> list[Review]:
    """Each merchant review decided in the window: the case entering pending_review (filed straight
    into it, or after the buyer's materials were complete) → the approve or reject that ended it.
    Time waiting for the buyer's materials is not the reviewer's, so it is not counted."""
    entry = aliased(CaseEvent)
    entered = (
        select(func.max(entry.at))
        .where(entry.case_id == CaseEvent.case_id, entry.to_status == S.PENDING_REVIEW.value,
               or_(entry.from_status.is_(None), entry.from_status != S.PENDING_REVIEW.value),
               entry.at <= CaseEvent.at)
        .scalar_subquery()
    )
    rows = session.execute(
        select(CaseEvent.case_id, CaseEvent.action, CaseEvent.at, entered.label("entered"))
        .where(CaseEvent.action.in_(DECISIONS), CaseEvent.from_status == S.PENDING_REVIEW.value,
               window.has(CaseEvent.at))
        .order_by(CaseEvent.at)
    ).all()
    return [Review(r.case_id, r.action, r.entered, r.at) for r in rows if r.entered is not None]


@dataclass(frozen=True, slots=True)
class Pending:
    case_id: str
    entered: datetime

    def hours(self, now: datetime) -> float:
        return _span_hours(self.entered, now)


def reviews_pending(session: Session) -> list[Pending]:
    """Cases waiting for their merchant review right now, with when the wait began."""
    entered = (
        select(CaseEvent.case_id, func.max(CaseEvent.at).label("entered"))
        .where(CaseEvent.to_status == S.PENDING_REVIEW.value,
               or_(CaseEvent.from_status.is_(None), CaseEvent.from_status != S.PENDING_REVIEW.value))
        .group_by(CaseEvent.case_id)
        .subquery()
    )
    rows = session.execute(
        select(Case.case_id, entered.c.entered)
        .select_from(Case)
        .join(entered, entered.c.case_id == Case.case_id)
        .where(Case.status == S.PENDING_REVIEW.value)
        .order_by(entered.c.entered)
    ).all()
    return [Pending(r.case_id, r.entered) for r in rows]


def resolution_hours(session: Session, window: Window) -> list[float]:
    """Filing → the event that put the case in its final status (completed, rejected, cancelled,
    closed_timeout), for cases that reached it in the window and are still there."""
    closed = [s.value for s in CLOSED_STATUSES]
    terminal = (
        select(CaseEvent.case_id, CaseEvent.to_status, func.max(CaseEvent.at).label("at"))
        .where(CaseEvent.to_status.in_(closed),
               or_(CaseEvent.from_status.is_(None), CaseEvent.from_status != CaseEvent.to_status))
        .group_by(CaseEvent.case_id, CaseEvent.to_status)
        .subquery()
    )
    rows = session.execute(
        select(Case.filed_at, terminal.c.at)
        .select_from(Case)
        .join(terminal, and_(terminal.c.case_id == Case.case_id, terminal.c.to_status == Case.status))
        .where(window.has(terminal.c.at))
    ).all()
    return [_span_hours(r.filed_at, r.at) for r in rows]


# ---------------------------------------------------------------- SLA


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """A case as it stood right after one of its events, for the lifecycle's `step_for`."""

    status: str
    remedy: str
    events: Sequence[Any]
    filed_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class StepRun:
    step: str
    start: datetime
    end: datetime | None  # None: still running
    ended_by: str | None


def step_runs(remedy: str, filed_at: datetime, events: Sequence[Any]) -> list[StepRun]:
    """Every deadline step a case went through, rebuilt from its events (in order; anything with the
    attributes of a CaseEvent: to_status, from_status, at, action, actor_role)."""
    runs: list[StepRun] = []
    running: tuple[str, datetime] | None = None
    for i, event in enumerate(events):
        snapshot = _Snapshot(event.to_status, remedy, events[:i + 1], filed_at, event.at)
        found = step_for(cast(Case, snapshot))
        if running is not None and found != running:
            runs.append(StepRun(running[0], running[1], event.at, event.action))
        running = found
    if running is not None:
        runs.append(StepRun(running[0], running[1], None, None))
    return runs


def sla(session: Session, policy: Policy, window: Window, now: datetime) -> Sla:
    """Merchant and platform steps judged against their policy deadlines.

    A step counts in the window when it ended there (on time: ended by its deadline), or when it is
    still running and its deadline passed there (late). A step ended by the buyer's withdrawal before
    its deadline is nobody's success or failure and is left out. Events are read as plain rows (not
    ORM objects) and deadlines are memoised per step and start day: a year of cases stays quick.
    """
    tz = policy.tz
    staff_steps = {name for name, spec in policy.deadlines.items() if spec.party in STAFF_PARTIES}
    memo: dict[tuple[str, Any], datetime] = {}

    def deadline_of(step: str, start: datetime) -> datetime:
        # Day-counted deadlines depend only on the local start date; hour-counted ones on the moment.
        key = (step, start if policy.deadlines[step].hours is not None else start.astimezone(tz).date())
        if key not in memo:
            memo[key] = due(policy, step, start).due_at
        return memo[key]

    ids = set(session.scalars(select(CaseEvent.case_id).where(window.has(CaseEvent.at)).distinct()))
    ids.update(session.scalars(select(Case.case_id).where(
        window.has(Case.due_at), Case.due_step.in_(sorted(staff_steps)))))
    on_time: Counter[str] = Counter()
    late: Counter[str] = Counter()
    for chunk in _chunks(sorted(ids)):
        cases = session.execute(select(Case.case_id, Case.remedy, Case.filed_at).where(Case.case_id.in_(chunk))).all()
        events: dict[str, list[Any]] = defaultdict(list)
        for row in session.execute(
                select(CaseEvent.case_id, CaseEvent.at, CaseEvent.action, CaseEvent.from_status, CaseEvent.to_status,
                       CaseEvent.actor_role)
                .where(CaseEvent.case_id.in_(chunk)).order_by(CaseEvent.case_id, CaseEvent.seq)):
            events[row.case_id].append(row)
        for case in cases:
            for run in step_runs(case.remedy, case.filed_at, events[case.case_id]):
                if run.step not in staff_steps:
                    continue
                deadline = deadline_of(run.step, run.start)
                if run.end is not None:
                    if not window.contains(run.end):
                        continue
                    if run.end <= deadline:
                        if run.ended_by != Action.CANCEL.value:
                            on_time[run.step] += 1
                    else:
                        late[run.step] += 1
                elif deadline < now and window.contains(deadline):
                    late[run.step] += 1
    steps = [SlaStep(step=name, label=spec.label, party=spec.party.value, total=on_time[name] + late[name],
                     on_time=on_time[name], late=late[name], share=share(on_time[name], on_time[name] + late[name]))
             for name, spec in policy.deadlines.items() if name in staff_steps]
    good, bad = sum(on_time.values()), sum(late.values())
    return Sla(total=good + bad, on_time=good, late=bad, share=share(good, good + bad),
               by_step=[s for s in steps if s.total])


# ---------------------------------------------------------------- volumes, refunds, handoffs, ratings


def _codes(labels: dict[str, str], counts: dict[str, int]) -> list[CodeCount]:
    """Every known code in vocabulary order (stable colours on the page), then any unknown one."""
    out = [CodeCount(code=code, label=label, count=counts.get(code, 0)) for code, label in labels.items()]
    out += [CodeCount(code=code, label=code, count=n) for code, n in counts.items() if code not in labels]
    return out


def volume(session: Session, window: Window, periods: list[str], bucket: ColumnElement[str],
           labels: Labels) -> Volume:
    filed = window.has(Case.filed_at)
    inner = select(bucket.label("period"), Case.reason.label("reason")).where(filed).subquery()
    series: dict[str, dict[str, int]] = defaultdict(dict)
    for period, reason, n in session.execute(
            select(inner.c.period, inner.c.reason, func.count()).group_by(inner.c.period, inner.c.reason)):
        series[period][reason] = n
    by_reason: Counter[str] = Counter()
    for counts in series.values():
        by_reason.update(counts)
    by_remedy = dict(session.execute(select(Case.remedy, func.count()).where(filed).group_by(Case.remedy)).all())
    by_status = dict(session.execute(select(Case.status, func.count()).where(filed).group_by(Case.status)).all())
    return Volume(
        total=sum(by_reason.values()),
        by_reason=_codes(labels.reasons, by_reason),
        by_remedy=_codes(labels.remedies, by_remedy),
        by_status=_codes(labels.statuses, by_status),
        series=[PeriodVolume(period=p, total=sum(series.get(p, {}).values()), by_reason=dict(series.get(p, {})))
                for p in periods],
    )


def refunds(session: Session, window: Window, periods: list[str], bucket: ColumnElement[str]) -> Refunds:
    """Refunds paid out (the `refund` event), with the case's refund amount, by the day paid."""
    inner = (
        select(bucket.label("period"), _cents(Case.refund_amount).label("cents"))
        .select_from(CaseEvent)
        .join(Case, Case.case_id == CaseEvent.case_id)
        .where(CaseEvent.action == Action.REFUND.value, window.has(CaseEvent.at))
        .subquery()
    )
    by_period = {p: (n, int(c or 0)) for p, n, c in session.execute(
        select(inner.c.period, func.count(), func.sum(inner.c.cents)).group_by(inner.c.period))}
    count = sum(n for n, _ in by_period.values())
    cents = sum(c for _, c in by_period.values())
    return Refunds(
        count=count, amount=money(cents), average=money(round(cents / count)) if count else None,
        series=[PeriodRefund(period=p, count=by_period.get(p, (0, 0))[0], amount=money(by_period.get(p, (0, 0))[1]))
                for p in periods],
    )


def review_time(session: Session, policy: Policy, window: Window) -> ReviewTime:
    spec = policy.stats.alerts.review_time
    reviews = reviews_decided(session, window)
    hours = [r.hours for r in reviews]
    within = sum(1 for h in hours if h <= spec.standard_hours)
    within_hard = sum(1 for h in hours if h <= spec.hard_hours)
    auto = session.scalar(select(func.count()).select_from(CaseEvent).where(
        CaseEvent.action.in_((Action.FILE.value, Action.MATERIALS_COMPLETE.value, Action.CHANGE_REMEDY.value)),
        CaseEvent.to_status == S.APPROVED.value, window.has(CaseEvent.at))) or 0
    return ReviewTime(
        **summarize(hours, spec.percentile).model_dump(),
        standard_hours=spec.standard_hours, hard_hours=spec.hard_hours,
        within_standard=within, within_standard_share=share(within, len(hours)),
        within_hard=within_hard, within_hard_share=share(within_hard, len(hours)),
        approved=sum(1 for r in reviews if r.action == Action.APPROVE.value),
        rejected=sum(1 for r in reviews if r.action == Action.REJECT.value),
        auto_approved=auto,
    )


def handoffs(session: Session, window: Window) -> Handoffs:
    cases = session.scalar(select(func.count()).select_from(Case).where(window.has(Case.filed_at))) or 0
    with_handoff = session.scalar(
        select(func.count(func.distinct(Case.case_id))).select_from(Case).join(Handoff, Handoff.case_id == Case.case_id)
        .where(window.has(Case.filed_at))) or 0
    opened = session.scalar(select(func.count()).select_from(Handoff).where(window.has(Handoff.created_at))) or 0
    active = union(
        select(ConversationMessage.conversation_id.label("cid")).where(window.has(ConversationMessage.created_at)),
        select(Handoff.conversation_id.label("cid")).where(window.has(Handoff.created_at)),
    ).subquery()
    conversations = session.scalar(select(func.count()).select_from(active)) or 0
    handed = session.scalar(select(func.count(func.distinct(Handoff.conversation_id)))
                            .where(window.has(Handoff.created_at))) or 0
    return Handoffs(handoffs=opened, cases=cases, cases_with_handoff=with_handoff, case_rate=share(with_handoff, cases),
                    conversations=conversations, conversations_with_handoff=handed,
                    conversation_rate=share(handed, conversations))


def satisfaction(session: Session, window: Window) -> Satisfaction:
    """Buyers' 1–5 ratings (`rate` events, one per case) given in the window."""
    inner = (
        select(CaseEvent.data["rating"].as_integer().label("rating"))
        .where(CaseEvent.action == Action.RATE.value, window.has(CaseEvent.at))
        .subquery()
    )
    counts = {int(r): n for r, n in session.execute(
        select(inner.c.rating, func.count()).group_by(inner.c.rating)) if r is not None}
    counted = {r: counts.get(r, 0) for r in RATINGS}
    total = sum(counted.values())
    return Satisfaction(count=total,
                        average=round(sum(r * n for r, n in counted.items()) / total, 2) if total else None,
                        distribution=[RatingCount(rating=r, count=n) for r, n in counted.items()])


def labels(policy: Policy) -> Labels:
    return Labels(
        reasons={k.value: v.label for k, v in policy.reasons.items()},
        remedies={k.value: v.label for k, v in policy.remedies.items()},
        statuses={k.value: v for k, v in STATUS_LABELS.items()},
        steps={k: v.label for k, v in policy.deadlines.items()},
    )


@dataclass(frozen=True, slots=True)
class StatsQuery:
    first: date
    last: date
    granularity: Granularity


def stats_range(policy: Policy, query: StatsQuery) -> StatsRange:
    return StatsRange(from_=query.first, to=query.last, granularity=query.granularity, timezone=policy.timezone,
                      periods=period_keys(query.first, query.last, query.granularity))


def figures(session: Session, policy: Policy, query: StatsQuery, now: datetime) -> dict[str, Any]:
    """Every figure of the range (alerts are separate: they always look at the last window up to now)."""
    tz = policy.tz
    window = Window.of_days(query.first, query.last, tz)
    periods = period_keys(query.first, query.last, query.granularity)
    names = labels(policy)
    filed_bucket = period_expr(session, Case.filed_at, tz, query.granularity, window.start)
    event_bucket = period_expr(session, CaseEvent.at, tz, query.granularity, window.start)
    return {
        "range": stats_range(policy, query),
        "volume": volume(session, window, periods, filed_bucket, names),
        "refunds": refunds(session, window, periods, event_bucket),
        "review_time": review_time(session, policy, window),
        "resolution_time": summarize(resolution_hours(session, window)),
        "sla": sla(session, policy, window, now),
        "handoffs": handoffs(session, window),
        "satisfaction": satisfaction(session, window),
        "labels": names,
    }
