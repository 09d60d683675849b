"""Turns a deadline step of the policy file into a due time (policy.md §7)."""

from __future__ import annotations

from datetime import datetime

from backend.policy.calendar import Deadline, add_calendar_days, add_hours, add_working_days
from backend.policy.config import Policy
from backend.schemas.decisions import DeadlineOut


def due(policy: Policy, step: str, start: datetime) -> Deadline:
    spec = policy.deadlines[step]
    if spec.working_days is not None:
        return add_working_days(start, spec.working_days, policy.tz)
    if spec.calendar_days is not None:
        return add_calendar_days(start, spec.calendar_days, policy.tz)
    assert spec.hours is not None  # the config validator guarantees exactly one span
    return add_hours(start, spec.hours)


def deadline_out(policy: Policy, step: str, start: datetime) -> DeadlineOut:
    spec = policy.deadlines[step]
    result = due(policy, step, start)
    return DeadlineOut(
        step=step,
        label=spec.label,
        party=spec.party,
        due_at=result.due_at.astimezone(policy.tz),
        estimated=result.estimated,
    )
