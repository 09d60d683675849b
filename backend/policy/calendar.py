"""Local dates and deadlines on the Chinese statutory calendar.

chinesecalendar knows holidays and make-up working days (调休) only for the years the State
Council has published; past its last year we count Monday–Friday and mark the result `estimated`,
so a buyer is never shown a guessed date as a firm one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar


@dataclass(frozen=True, slots=True)
class Deadline:
    due_at: datetime
    estimated: bool


def local_date(moment: datetime, tz: ZoneInfo) -> date:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: every time in the case backend carries an offset")
    return moment.astimezone(tz).date()


def days_between(start: datetime, end: datetime, tz: ZoneInfo) -> int:
    """Calendar days from start's local date to end's local date (signed 14th → 21st is 7)."""
    return (local_date(end, tz) - local_date(start, tz)).days


def end_of_day(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=tz)


def is_working_day(day: date) -> tuple[bool, bool]:
    """(is it a working day, is that an estimate because the year is not published)."""
    try:
        return chinese_calendar.is_workday(day), False
    except NotImplementedError:
        return day.weekday() < 5, True


def add_working_days(start: datetime, n: int, tz: ZoneInfo) -> Deadline:
    """End of the n-th working day after start's local date."""
    if n < 1:
        raise ValueError("n must be at least 1")
    day = local_date(start, tz)
    estimated = False
    counted = 0
    while counted < n:
        day += timedelta(days=1)
        working, guessed = is_working_day(day)
        estimated = estimated or guessed
        if working:
            counted += 1
    return Deadline(end_of_day(day, tz), estimated)


def add_calendar_days(start: datetime, n: int, tz: ZoneInfo) -> Deadline:
    """End of the n-th calendar day after start's local date."""
    return Deadline(end_of_day(local_date(start, tz) + timedelta(days=n), tz), False)


def add_hours(start: datetime, n: int) -> Deadline:
    return Deadline(start + timedelta(hours=n), False)
