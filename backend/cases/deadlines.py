"""Which deadline of policy.md §7 runs in each case status, and from when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from backend.db.models import Case
from backend.policy.calendar import Deadline, days_between
from backend.policy.config import Policy
from backend.policy.deadlines import due
from backend.vocab import CaseStatus, Party, Remedy

S = CaseStatus


@dataclass(frozen=True, slots=True)
class RunningDeadline:
    step: str
    party: Party
    due: Deadline


def _entered(case: Case, status: CaseStatus) -> datetime | None:
    """When the case last entered `status` (events are in order)."""
    for event in reversed(case.events):
        if event.to_status == status.value and event.from_status != status.value:
            return event.at
    return None


def step_for(case: Case) -> tuple[str, datetime] | None:
    """The step whose clock runs in the case's current status, and its start."""
    status = CaseStatus(case.status)
    remedy = Remedy(case.remedy)
    entered = _entered(case, status) or case.updated_at
    if status == S.AWAITING_MATERIALS:
        return "supply_materials", case.filed_at
    if status in (S.PENDING_REVIEW, S.DISPUTED):
        return "review", entered
    if status == S.AWAITING_RETURN:
        return "ship_return", entered
    if status == S.RECEIVED:
        return "inspect", entered
    if status == S.REFUNDING:
        if remedy == Remedy.RETURN_REFUND:
            return "refund_after_receipt", _entered(case, S.RECEIVED) or entered
        return "refund_only_refund", entered
    if status == S.REPLACING:
        return "send_replacement", entered
    if status == S.REPAIRING:
        # The merchant first answers (a note), then finishes the repair: two clocks, in turn.
        replied = any(e.action == "note" and e.actor_role != Party.SYSTEM.value and e.at >= entered
                      for e in case.events)
        return ("repair_finish" if replied else "repair_first_reply"), entered
    return None


def running_deadline(policy: Policy, case: Case) -> RunningDeadline | None:
    found = step_for(case)
    if found is None:
        return None
    step, start = found
    return RunningDeadline(step=step, party=policy.deadlines[step].party, due=due(policy, step, start))


def project(policy: Policy, case: Case) -> None:
    """Write the running deadline onto the case row (read by the scheduler's indexed sweep).

    The reminder and overdue marks belong to one deadline: they are cleared when it changes.
    """
    running = running_deadline(policy, case)
    step, party, at, estimated = (
        (running.step, running.party.value, running.due.due_at, running.due.estimated)
        if running else (None, None, None, False)
    )
    if (case.due_step, case.due_at) != (step, at):
        case.overdue_flagged_at = None
        case.reminded_at = None
    case.due_step, case.due_party, case.due_at, case.due_estimated = step, party, at, estimated


def days_late(policy: Policy, step: str | None, due_at: datetime | None, now: datetime) -> int:
    """Calendar days a merchant-side step with a penalty is past its deadline (0 when on time)."""
    if due_at is None or step is None or now <= due_at:
        return 0
    if policy.deadlines[step].on_expiry != "penalty":
        return 0
    return max(days_between(due_at, now, policy.tz), 1)
