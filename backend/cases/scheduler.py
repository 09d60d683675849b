"""Deadline enforcement (policy.md §7): close cases whose buyer ran out of time, remind buyers,
flag merchant-side lateness (its penalty accrues from the deadline, computed, never added twice).

Safe with several backend workers in two ways: a lease row lets one worker sweep at a time, and
every job is a versioned update of one case, so a second worker that raced would fail its update
(StaleDataError) and skip instead of closing or flagging twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from backend.cases import lifecycle
from backend.cases.deadlines import project
from backend.cases.lifecycle import Action
from backend.db.models import Case, CaseMaterial, SchedulerLease
from backend.policy.calendar import add_calendar_days
from backend.policy.config import Policy
from backend.vocab import CaseStatus, Party

log = logging.getLogger("backend.scheduler")
S = CaseStatus
LEASE = "deadlines"
BATCH = 200


@dataclass
class SweepReport:
    closed: list[str] = field(default_factory=list)
    reminded: list[str] = field(default_factory=list)
    flagged: list[str] = field(default_factory=list)
    handed_over: list[str] = field(default_factory=list)
    skipped: int = 0


def acquire_lease(factory: sessionmaker[Session], holder: str, now: datetime, ttl: timedelta) -> bool:
    """Take or renew the sweep lease; False when another live worker holds it."""
    with factory() as session:
        taken = session.execute(
            update(SchedulerLease)
            .where(SchedulerLease.name == LEASE)
            .where((SchedulerLease.expires_at < now) | (SchedulerLease.holder == holder))
            .values(holder=holder, expires_at=now + ttl)
        ).rowcount
        if taken:
            session.commit()
            return True
        if session.get(SchedulerLease, LEASE) is not None:
            return False
        session.add(SchedulerLease(name=LEASE, holder=holder, expires_at=now + ttl))
        try:
            session.commit()
            return True
        except IntegrityError:
            session.rollback()
            return False


def _due_ids(session: Session, policy: Policy, now: datetime) -> tuple[list[str], list[str], list[str], list[str]]:
    expired = session.scalars(
        select(Case.case_id).where(Case.due_party == Party.BUYER.value, Case.due_at < now,
                                   Case.status.in_([S.AWAITING_MATERIALS.value, S.AWAITING_RETURN.value]))
        .limit(BATCH)
    ).all()
    reminder_days = policy.deadlines["supply_materials"].reminder_after_days
    remind: list[str] = []
    if reminder_days:
        remind = list(session.scalars(
            select(Case.case_id).where(Case.status == S.AWAITING_MATERIALS.value, Case.reminded_at.is_(None),
                                       Case.due_at >= now).limit(BATCH)
        ).all())
    late = session.scalars(
        select(Case.case_id).where(Case.due_party != Party.BUYER.value, Case.due_at < now,
                                   Case.overdue_flagged_at.is_(None)).limit(BATCH)
    ).all()
    hard = []
    refund = policy.deadlines["refund_only_refund"]
    if refund.hard_hours and refund.hours:
        # Already escalated at `hours`, still not refunded at `hard_hours`: an agent must step in.
        hard = list(session.scalars(
            select(Case.case_id).where(Case.status == S.REFUNDING.value, Case.due_step == "refund_only_refund",
                                       Case.overdue_flagged_at.is_not(None),
                                       Case.due_at < now - timedelta(hours=refund.hard_hours - refund.hours))
            .limit(BATCH)
        ).all())
    return list(expired), remind, list(late), hard


def _job(factory: sessionmaker[Session], case_id: str, work: Callable[[Session, Case], bool]) -> bool:
    with factory() as session:
        case = session.scalars(
            select(Case).where(Case.case_id == case_id)
            .options(selectinload(Case.events), selectinload(Case.materials).selectinload(CaseMaterial.upload))
        ).one_or_none()
        if case is None or not work(session, case):
            return False
        try:
            session.commit()
            return True
        except (StaleDataError, IntegrityError):
            session.rollback()
            return False


def sweep(factory: sessionmaker[Session], policy: Policy, now: datetime) -> SweepReport:
    report = SweepReport()
    with factory() as session:
        expired, remind, late, hard = _due_ids(session, policy, now)

    def close(session: Session, case: Case) -> bool:
        if case.due_at is None or case.due_at >= now or case.due_party != Party.BUYER.value:
            return False
        if not lifecycle.can(case, Action.TIMEOUT, Party.SYSTEM):
            return False
        step = policy.deadlines[case.due_step or ""].label
        lifecycle.apply(case, Action.TIMEOUT, actor=Party.SYSTEM, actor_id="scheduler", at=now,
                        reason=f"超过{step}期限", data={"step": case.due_step})
        project(policy, case)
        return True

    def reminder(session: Session, case: Case) -> bool:
        days = policy.deadlines["supply_materials"].reminder_after_days or 0
        if case.status != S.AWAITING_MATERIALS.value or case.reminded_at is not None:
            return False
        if now <= add_calendar_days(case.filed_at, days - 1, policy.tz).due_at:
            return False  # "day 5": from the first second after the end of day 4
        lifecycle.apply(case, Action.REMIND, actor=Party.SYSTEM, actor_id="scheduler", at=now,
                        data={"due_at": case.due_at.isoformat() if case.due_at else None})
        case.reminded_at = now
        return True

    def flag(session: Session, case: Case) -> bool:
        if case.due_at is None or case.due_at >= now or case.overdue_flagged_at is not None or case.due_step is None:
            return False
        spec = policy.deadlines[case.due_step]
        action = Action.ESCALATE if spec.on_expiry in ("escalate", "alert") else Action.FLAG_OVERDUE
        lifecycle.apply(case, action, actor=Party.SYSTEM, actor_id="scheduler", at=now,
                        reason=f"{spec.label}已超过期限", data={"step": case.due_step, "party": spec.party.value})
        case.overdue_flagged_at = now
        return True

    def hand_over(session: Session, case: Case) -> bool:
        spec = policy.deadlines["refund_only_refund"]
        if case.status != S.REFUNDING.value or case.due_step != "refund_only_refund" or case.due_at is None:
            return False
        if now <= case.due_at + timedelta(hours=(spec.hard_hours or 0) - (spec.hours or 0)):
            return False
        if any(e.action == Action.FLAG_OVERDUE and e.data.get("hard") for e in case.events
               if e.at >= (case.due_at - timedelta(hours=spec.hours or 0))):
            return False
        lifecycle.apply(case, Action.FLAG_OVERDUE, actor=Party.SYSTEM, actor_id="scheduler", at=now,
                        reason=f"超过{spec.hard_hours}小时仍未退款，转人工处理",
                        data={"step": case.due_step, "hard": True, "handoff": True})
        return True

    for ids, work, bucket in ((expired, close, report.closed), (remind, reminder, report.reminded),
                              (late, flag, report.flagged), (hard, hand_over, report.handed_over)):
        for case_id in ids:
            if _job(factory, case_id, work):
                bucket.append(case_id)
            else:
                report.skipped += 1
    return report


class SchedulerThread(threading.Thread):
    """Runs a sweep every interval in each worker; the lease lets one of them do it."""

    def __init__(self, factory: sessionmaker[Session], policy: Policy, clock: Callable[[], datetime],
                 interval: float, holder: str) -> None:
        super().__init__(name="deadline-scheduler", daemon=True)
        self.factory, self.policy, self.clock, self.interval, self.holder = factory, policy, clock, interval, holder
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                now = self.clock()
                if acquire_lease(self.factory, self.holder, now, timedelta(seconds=self.interval * 3)):
                    report = sweep(self.factory, self.policy, now)
                    if report.closed or report.flagged or report.reminded:
                        log.info("sweep closed=%s reminded=%s flagged=%s", report.closed, report.reminded,
                                 report.flagged)
            except Exception:  # the scheduler must outlive a database hiccup
                log.exception("deadline sweep failed")

    def stop(self) -> None:
        self.stopped.set()
