"""policy.md §1 and §7: local dates, working days on the Chinese statutory calendar, deadlines.

2026 dates (chinese_calendar/constants.py): National Day holiday 10-01 … 10-07 (Thu–Wed), make-up
working days Sun 09-20 and Sat 10-10; Mid-Autumn 09-25 … 09-27 (Fri–Sun). 2027 is not published
in the installed package, so its dates fall back to Monday–Friday and are flagged estimated.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import chinese_calendar
import pytest

from backend.policy.calendar import add_calendar_days, add_working_days, days_between, is_working_day
from backend.policy.deadlines import deadline_out, due

from tests.policy.conftest import SHANGHAI, local


def end_of(day: date) -> datetime:
    return local(day, 23, 59, 59)


# --- which days are working days ---------------------------------------------------------------------


@pytest.mark.parametrize(("day", "working"), [
    pytest.param(date(2026, 9, 30), True, id="the Wednesday before National Day works"),
    pytest.param(date(2026, 10, 1), False, id="National Day is a holiday"),
    pytest.param(date(2026, 10, 5), False, id="a Monday inside the National Day holiday is off"),
    pytest.param(date(2026, 10, 7), False, id="the last National Day holiday is off"),
    pytest.param(date(2026, 10, 10), True, id="Saturday 10 October is a make-up working day"),
    pytest.param(date(2026, 9, 20), True, id="Sunday 20 September is a make-up working day"),
    pytest.param(date(2026, 9, 25), False, id="the Mid-Autumn Friday is a holiday"),
    pytest.param(date(2026, 10, 11), False, id="an ordinary Sunday is off"),
    pytest.param(date(2026, 11, 18), True, id="an ordinary Wednesday works"),
])
def test_2026_working_days_follow_the_statutory_calendar(day, working) -> None:
    assert is_working_day(day) == (working, False)


@pytest.mark.parametrize(("day", "working"), [
    pytest.param(date(2027, 1, 1), True, id="New Year's Day 2027 is counted as a plain Friday"),
    pytest.param(date(2027, 1, 2), False, id="a 2027 Saturday is off"),
    pytest.param(date(2027, 10, 1), True, id="National Day 2027 is counted as a plain Friday"),
    pytest.param(date(2027, 10, 4), True, id="a 2027 Monday works"),
])
def test_an_unpublished_year_falls_back_to_monday_to_friday_and_is_estimated(day, working) -> None:
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(day)  # the premise: the package does not cover 2027

    assert is_working_day(day) == (working, True)


# --- N working days after t ---------------------------------------------------------------------------


@pytest.mark.parametrize(("start", "n", "due_day"), [
    pytest.param(local(date(2026, 9, 30), 10), 1, date(2026, 10, 8),
                 id="one working day before National Day ends after the holiday"),
    pytest.param(local(date(2026, 9, 30), 10), 2, date(2026, 10, 9),
                 id="two working days before National Day"),
    pytest.param(local(date(2026, 9, 30), 10), 3, date(2026, 10, 10),
                 id="the third working day is the make-up Saturday"),
    pytest.param(local(date(2026, 9, 30), 10), 4, date(2026, 10, 12),
                 id="the fourth working day skips the ordinary Sunday"),
    pytest.param(local(date(2026, 10, 3), 15), 1, date(2026, 10, 8),
                 id="counting from inside the holiday starts after it"),
    pytest.param(local(date(2026, 9, 18), 10), 1, date(2026, 9, 20),
                 id="the make-up Sunday after a Friday is the next working day"),
    pytest.param(local(date(2026, 9, 24), 10), 1, date(2026, 9, 28),
                 id="the Mid-Autumn long weekend is skipped"),
    pytest.param(local(date(2026, 11, 18), 23, 59), 1, date(2026, 11, 19),
                 id="counting starts from the start's date whatever its time"),
    pytest.param(local(date(2026, 11, 20), 10), 1, date(2026, 11, 23),
                 id="an ordinary weekend is skipped"),
])
def test_n_working_days_after_t_end_at_23_59_59_of_the_nth_working_day(start, n, due_day) -> None:
    deadline = add_working_days(start, n, SHANGHAI)

    assert deadline.due_at == end_of(due_day)
    assert deadline.due_at.utcoffset() == timedelta(hours=8)
    assert deadline.estimated is False


def test_a_utc_start_already_on_the_next_shanghai_day_counts_from_that_day() -> None:
    start = datetime(2026, 11, 17, 17, 0, tzinfo=timezone.utc)  # 2026-11-18 01:00 in Shanghai

    assert add_working_days(start, 1, SHANGHAI).due_at == end_of(date(2026, 11, 19))


def test_the_due_time_is_23_59_59_shanghai_which_is_15_59_59_utc() -> None:
    due_at = add_working_days(local(date(2026, 11, 18)), 1, SHANGHAI).due_at

    assert due_at.astimezone(timezone.utc) == datetime(2026, 11, 19, 15, 59, 59, tzinfo=timezone.utc)


@pytest.mark.parametrize(("start", "n", "due_day"), [
    pytest.param(local(date(2027, 1, 8)), 1, date(2027, 1, 11), id="a 2027 Friday to Monday"),
    pytest.param(local(date(2027, 9, 30)), 3, date(2027, 10, 5), id="2027 National Day counted as ordinary days"),
    pytest.param(local(date(2026, 12, 31)), 1, date(2027, 1, 1), id="a deadline crossing into 2027"),
])
def test_working_days_in_an_unpublished_year_count_monday_to_friday_and_are_estimated(start, n, due_day) -> None:
    deadline = add_working_days(start, n, SHANGHAI)

    assert deadline.due_at == end_of(due_day)
    assert deadline.estimated is True


def test_a_2026_deadline_that_stays_in_2026_is_not_estimated() -> None:
    assert add_working_days(local(date(2026, 12, 28)), 3, SHANGHAI).estimated is False


def test_calendar_days_end_at_23_59_59_of_the_nth_day_even_in_an_unpublished_year() -> None:
    deadline = add_calendar_days(local(date(2027, 3, 1), 8), 7, SHANGHAI)

    assert deadline.due_at == end_of(date(2027, 3, 8))
    assert deadline.estimated is False


def test_calendar_days_ignore_holidays() -> None:
    assert add_calendar_days(local(date(2026, 9, 30)), 7, SHANGHAI).due_at == end_of(date(2026, 10, 7))


def test_days_between_counts_local_dates() -> None:
    assert days_between(local(date(2026, 11, 14), 23, 59), local(date(2026, 11, 15), 0, 1), SHANGHAI) == 1
    assert days_between(local(date(2026, 11, 14), 0, 1), local(date(2026, 11, 14), 23, 59), SHANGHAI) == 0


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError):
        days_between(datetime(2026, 11, 14), local(date(2026, 11, 15)), SHANGHAI)


# --- each deadline step of policy.yaml ----------------------------------------------------------------

# Just before National Day 2026, so working-day steps cross the holiday and the make-up Saturday.
STEP_START = local(date(2026, 9, 30), 16, 20)


def nth_working_day_after(start: datetime, n: int) -> date:
    """An oracle independent of backend.policy.calendar: walk chinese_calendar day by day."""
    day, counted = start.astimezone(SHANGHAI).date(), 0
    while counted < n:
        day += timedelta(days=1)
        counted += chinese_calendar.is_workday(day)
    return day


def expected_due(spec, start: datetime) -> datetime:
    if spec.working_days is not None:
        return end_of(nth_working_day_after(start, spec.working_days))
    if spec.calendar_days is not None:
        return end_of(start.astimezone(SHANGHAI).date() + timedelta(days=spec.calendar_days))
    return start + timedelta(hours=spec.hours)


STEPS = ["review", "refund_only_refund", "supply_materials", "ship_return", "inspect", "refund_after_receipt",
         "send_replacement", "repair_first_reply", "repair_finish"]


@pytest.mark.parametrize("step", STEPS)
def test_each_deadline_step_is_due_at_its_span_after_the_start(step, policy) -> None:
    spec = policy.deadlines[step]

    deadline = due(policy, step, STEP_START)

    assert deadline.due_at == expected_due(spec, STEP_START)
    assert deadline.estimated is False


@pytest.mark.parametrize("step", STEPS)
def test_each_deadline_step_is_reported_in_shanghai_time_with_its_label_and_party(step, policy) -> None:
    spec = policy.deadlines[step]

    out = deadline_out(policy, step, STEP_START.astimezone(timezone.utc))

    assert (out.step, out.label, out.party) == (step, spec.label, spec.party)
    assert out.due_at == expected_due(spec, STEP_START)
    assert out.due_at.utcoffset() == timedelta(hours=8)


def test_the_review_of_a_request_filed_before_national_day_is_due_after_the_holiday(policy) -> None:
    assert due(policy, "review", STEP_START).due_at.date() > date(2026, 10, 7)


def test_the_working_days_to_ship_back_count_the_make_up_saturday(policy) -> None:
    span = policy.deadlines["ship_return"].working_days
    start = local(date(2026, 10, 10) - timedelta(days=1), 10)  # Friday 9 October
    days = [start.date() + timedelta(days=i) for i in range(1, 40)]
    working = [d for d in days if chinese_calendar.is_workday(d)]

    assert due(policy, "ship_return", start).due_at == end_of(working[span - 1])
    assert working[0] == date(2026, 10, 10)


def test_the_24_hour_refund_is_exact_hours_not_end_of_day(policy) -> None:
    hours = policy.deadlines["refund_only_refund"].hours

    assert due(policy, "refund_only_refund", STEP_START).due_at == STEP_START + timedelta(hours=hours)


def test_a_deadline_crossing_into_an_unpublished_year_is_reported_as_estimated(policy) -> None:
    out = deadline_out(policy, "send_replacement", local(date(2026, 12, 31)))

    assert out.estimated is True
