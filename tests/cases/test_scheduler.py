"""The deadline scheduler (policy.md §7) against the real app and database, on SQLite and PostgreSQL.

Cases are made through the API; `sweep` then runs directly with the app's session factory and policy
at chosen moments of the frozen clock (filed Friday 2026-11-20 10:00 Asia/Shanghai).
"""

from __future__ import annotations

import threading
from datetime import date, datetime, time, timedelta
from typing import Any

import chinese_calendar

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from backend.cases.scheduler import SweepReport, acquire_lease, sweep
from backend.policy.config import Policy
from tests.support.api import TZ, Api
from tests.support import media

ORDER = "2026111812345678"


# ---------------------------------------------------------------- helpers


def policy_of(api: Api) -> Policy:
    return api.client.app.state.policy


def run(api: Api, at: datetime) -> SweepReport:
    return sweep(api.client.app.state.session_factory, policy_of(api), at)


def local(day: date, hh: int = 10, mm: int = 0, ss: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm, ss), tzinfo=TZ)


def last_second(day: date) -> datetime:
    return local(day, 23, 59, 59)


def nth_working_day(start: date, n: int) -> date:
    """The n-th statutory working day after `start`, counted independently of the backend."""
    day, counted = start, 0
    while counted < n:
        day += timedelta(days=1)
        counted += chinese_calendar.is_workday(day)
    return day


def events(api: Api, case_id: str, action: str | None = None) -> list[dict[str, Any]]:
    found = api.case(case_id)["events"]
    return [e for e in found if action is None or e["action"] == action]


def order_with_items(api: Api, count: int) -> list[str]:
    items = [{"item_id": str(n), "sku": f"SKU-{n}", "title": f"商品{n}", "quantity": 1, "unit_price": "100.00"}
             for n in range(1, count + 1)]
    api.order(ORDER, items=items, discount_total="0.00")
    return [str(n) for n in range(1, count + 1)]


def file_awaiting_materials(api: Api, item_id: str = "1") -> str:
    response = api.file(item_id=item_id)  # quality exchange with no evidence yet
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "awaiting_materials"
    return response.json()["case_id"]


def file_pending_review(api: Api, item_id: str, photo: str) -> str:
    """A complete quality request for a partial refund: a person sets the amount (policy.md §5)."""
    response = api.file(item_id=item_id, remedy="partial_refund", materials=[
        {"code": "description", "text": "鞋面有明显划痕"}, {"code": "defect_photo", "upload_id": photo}])
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "pending_review"
    return response.json()["case_id"]


def filed_on(api: Api) -> date:
    return api.clock.now.astimezone(TZ).date()


# ---------------------------------------------------------------- buyer deadlines


def test_a_case_awaiting_materials_is_reminded_once_on_day_five_and_not_on_day_four(api: Api) -> None:
    api.order()
    case_id = file_awaiting_materials(api)
    day = policy_of(api).deadlines["supply_materials"].reminder_after_days
    assert day == 5
    start = filed_on(api)

    assert run(api, local(start + timedelta(days=day - 1))).reminded == []
    assert events(api, case_id, "remind") == []

    report = run(api, local(start + timedelta(days=day)))
    assert report.reminded == [case_id]
    reminders = events(api, case_id, "remind")
    assert len(reminders) == 1
    assert reminders[0]["actor_role"] == "system"
    assert reminders[0]["from_status"] == reminders[0]["to_status"] == "awaiting_materials"

    assert run(api, local(start + timedelta(days=day), 18)).reminded == []
    assert run(api, local(start + timedelta(days=day + 1))).reminded == []
    assert len(events(api, case_id, "remind")) == 1
    assert api.case(case_id)["status"] == "awaiting_materials"


def test_no_reminder_is_sent_in_the_last_second_of_day_four(api: Api) -> None:
    api.order()
    case_id = file_awaiting_materials(api)
    day = policy_of(api).deadlines["supply_materials"].reminder_after_days
    assert run(api, last_second(filed_on(api) + timedelta(days=day - 1))).reminded == []
    assert events(api, case_id, "remind") == []


def test_a_case_awaiting_materials_is_closed_after_its_seven_days_and_not_before(api: Api) -> None:
    api.order()
    case_id = file_awaiting_materials(api)
    days = policy_of(api).deadlines["supply_materials"].calendar_days
    assert days == 7
    last_day = filed_on(api) + timedelta(days=days)
    assert api.case(case_id)["deadline"]["due_at"] == last_second(last_day).isoformat()

    assert run(api, last_second(last_day)).closed == []
    assert api.case(case_id)["status"] == "awaiting_materials"

    report = run(api, last_second(last_day) + timedelta(seconds=2))
    assert report.closed == [case_id]
    case = api.case(case_id)
    assert case["status"] == "closed_timeout"
    assert case["deadline"] is None
    closing = events(api, case_id, "timeout")
    assert len(closing) == 1
    assert (closing[0]["actor_role"], closing[0]["from_status"], closing[0]["to_status"]) == (
        "system", "awaiting_materials", "closed_timeout")
    assert policy_of(api).deadlines["supply_materials"].label in closing[0]["reason"]

    assert run(api, local(last_day + timedelta(days=1))).closed == []
    assert len(events(api, case_id, "timeout")) == 1
    assert api.file(remedy="repair").status_code == 201  # the closed case no longer blocks the item


def test_a_case_awaiting_the_return_is_closed_after_three_working_days(api: Api) -> None:
    api.order()
    case_id = api.complete_quality_case()
    n = policy_of(api).deadlines["ship_return"].working_days
    assert n == 3
    last_day = nth_working_day(filed_on(api), n)  # Friday → Wednesday 25 Nov
    assert last_day == date(2026, 11, 25)

    assert run(api, last_second(last_day)).closed == []
    assert api.case(case_id)["status"] == "awaiting_return"

    report = run(api, local(last_day + timedelta(days=1), 0, 0, 1))
    assert report.closed == [case_id]
    assert api.case(case_id)["status"] == "closed_timeout"
    closing = events(api, case_id, "timeout")
    assert len(closing) == 1 and closing[0]["from_status"] == "awaiting_return"
    assert policy_of(api).deadlines["ship_return"].label in closing[0]["reason"]


def test_a_return_already_on_its_way_is_never_closed_for_lateness(api: Api) -> None:
    api.order()
    case_id = api.complete_quality_case()
    api.materials(case_id, [{"code": "return_tracking", "text": "SF1234567890123"}])
    report = run(api, local(filed_on(api) + timedelta(days=30)))
    assert case_id not in report.closed
    assert api.case(case_id)["status"] == "returning"


# ---------------------------------------------------------------- merchant deadlines


def test_a_review_past_its_working_day_is_escalated_exactly_once(api: Api) -> None:
    order_with_items(api, 1)
    case_id = file_pending_review(api, "1", api.upload())
    n = policy_of(api).deadlines["review"].working_days
    last_day = nth_working_day(filed_on(api), n)  # Friday → Monday 23 Nov
    assert last_day == date(2026, 11, 23)

    assert run(api, last_second(last_day)).flagged == []
    assert events(api, case_id, "escalate") == []

    report = run(api, local(last_day + timedelta(days=1)))
    assert report.flagged == [case_id]
    escalated = events(api, case_id, "escalate")
    assert len(escalated) == 1
    assert escalated[0]["actor_role"] == "system"
    assert escalated[0]["data"]["step"] == "review"
    assert policy_of(api).deadlines["review"].label in escalated[0]["reason"]
    assert events(api, case_id, "flag_overdue") == []

    assert run(api, local(last_day + timedelta(days=1), 11)).flagged == []
    assert run(api, local(last_day + timedelta(days=3))).flagged == []
    assert len(events(api, case_id, "escalate")) == 1
    assert api.case(case_id)["status"] == "pending_review"


def test_an_inspection_past_its_deadline_is_flagged_exactly_once(api: Api) -> None:
    api.order()
    case_id = api.complete_quality_case()
    api.materials(case_id, [{"code": "return_tracking", "text": "SF1234567890123"}])
    assert api.act(case_id, "receive").json()["status"] == "received"
    last_day = nth_working_day(filed_on(api), policy_of(api).deadlines["inspect"].working_days)

    assert run(api, last_second(last_day)).flagged == []
    report = run(api, local(last_day + timedelta(days=1)))
    assert report.flagged == [case_id]
    assert report.closed == []
    flagged = events(api, case_id, "flag_overdue")
    assert len(flagged) == 1 and flagged[0]["data"]["step"] == "inspect"

    assert run(api, local(last_day + timedelta(days=2))).flagged == []
    assert len(events(api, case_id, "flag_overdue")) == 1
    assert api.case(case_id)["status"] == "received"


# ---------------------------------------------------------------- never twice


def _due_everywhere(api: Api) -> tuple[list[str], list[str], datetime]:
    """Three cases out of materials time and two reviews overdue, all due at one moment."""
    items = order_with_items(api, 5)
    expired = [file_awaiting_materials(api, item) for item in items[:3]]
    photo = api.upload(media.png("green"))
    late = [file_pending_review(api, item, photo) for item in items[3:]]
    days = policy_of(api).deadlines["supply_materials"].calendar_days
    return expired, late, local(filed_on(api) + timedelta(days=days + 1))


def _counts(api: Api, case_ids: list[str], action: str) -> list[int]:
    return [len(events(api, case_id, action)) for case_id in case_ids]


def test_sweeping_twice_never_closes_or_flags_twice(api: Api) -> None:
    expired, late, at = _due_everywhere(api)
    first = run(api, at)
    assert sorted(first.closed) == sorted(expired)
    assert sorted(first.flagged) == sorted(late)
    second = run(api, at)
    assert (second.closed, second.reminded, second.flagged) == ([], [], [])
    assert _counts(api, expired, "timeout") == [1, 1, 1]
    assert _counts(api, late, "escalate") == [1, 1]


def _sweep_in_two_threads(api: Api, at: datetime, factory: sessionmaker[Session]) -> list[SweepReport]:
    policy = policy_of(api)
    start = threading.Barrier(2)
    reports: list[SweepReport] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait(timeout=10)
            reports.append(sweep(factory, policy, at))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(reports) == 2
    return reports


def _assert_done_once(api: Api, reports: list[SweepReport], expired: list[str], late: list[str]) -> None:
    assert sorted(reports[0].closed + reports[1].closed) == sorted(expired)  # each case by one worker only
    assert sorted(reports[0].flagged + reports[1].flagged) == sorted(late)
    assert _counts(api, expired, "timeout") == [1, 1, 1]
    assert _counts(api, late, "escalate") == [1, 1]
    assert all(api.case(case_id)["status"] == "closed_timeout" for case_id in expired)


def test_two_concurrent_sweeps_never_close_or_flag_twice(api: Api) -> None:
    expired, late, at = _due_everywhere(api)
    reports = _sweep_in_two_threads(api, at, api.client.app.state.session_factory)
    _assert_done_once(api, reports, expired, late)


def test_two_sweeps_that_both_load_a_case_before_either_commits_still_act_once(api: Api) -> None:
    """The worst interleaving, forced: each job of one worker waits at commit for the other's."""
    expired, late, at = _due_everywhere(api)
    lockstep = threading.Barrier(2)
    factory = sessionmaker(bind=api.client.app.state.engine, expire_on_commit=False)

    @event.listens_for(factory, "before_commit")
    def _wait_for_the_other_worker(session: Session) -> None:
        lockstep.wait(timeout=15)

    reports = _sweep_in_two_threads(api, at, factory)
    _assert_done_once(api, reports, expired, late)
    assert reports[0].skipped + reports[1].skipped == len(expired) + len(late)  # the loser of every race skipped


# ---------------------------------------------------------------- the lease


def test_the_lease_has_one_holder_at_a_time_and_passes_on_when_it_expires(api: Api) -> None:
    factory = api.client.app.state.session_factory
    now, ttl = api.clock.now, timedelta(seconds=60)
    assert acquire_lease(factory, "worker-a", now, ttl) is True
    assert acquire_lease(factory, "worker-b", now, ttl) is False
    assert acquire_lease(factory, "worker-b", now + timedelta(seconds=59), ttl) is False
    assert acquire_lease(factory, "worker-a", now + timedelta(seconds=30), ttl) is True  # renewal
    assert acquire_lease(factory, "worker-b", now + timedelta(seconds=89), ttl) is False  # renewed until +90 s
    assert acquire_lease(factory, "worker-b", now + timedelta(seconds=91), ttl) is True
    assert acquire_lease(factory, "worker-a", now + timedelta(seconds=92), ttl) is False


def test_two_workers_racing_for_a_new_lease_get_it_once(api: Api) -> None:
    factory = api.client.app.state.session_factory
    now, ttl = api.clock.now, timedelta(seconds=60)
    barrier = threading.Barrier(2)
    results: dict[str, bool] = {}
    errors: list[BaseException] = []

    def worker(holder: str) -> None:
        try:
            barrier.wait(timeout=10)
            results[holder] = acquire_lease(factory, holder, now, ttl)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(h,)) for h in ("worker-a", "worker-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert sorted(results.values()) == [False, True]


def test_an_unshipped_refund_is_alerted_at_24_hours_and_handed_to_an_agent_once_at_48(api: Api) -> None:
    spec = policy_of(api).deadlines["refund_only_refund"]
    api.order(status="paid", delivered_days=None)
    case = api.file(reason="no_reason", remedy="refund_only").json()
    assert case["status"] == "refunding", case
    start = api.clock.now
    assert run(api, start + timedelta(hours=spec.hours - 1)).flagged == []
    assert run(api, start + timedelta(hours=spec.hours, minutes=1)).flagged == [case["case_id"]]
    assert run(api, start + timedelta(hours=spec.hard_hours - 1)).handed_over == []
    assert run(api, start + timedelta(hours=spec.hard_hours, minutes=1)).handed_over == [case["case_id"]]
    assert run(api, start + timedelta(hours=spec.hard_hours + 5)).handed_over == []
    hard = [e for e in events(api, case["case_id"], "flag_overdue") if e["data"].get("hard")]
    assert len(hard) == 1 and hard[0]["data"]["handoff"] is True
    assert [e["action"] for e in events(api, case["case_id"], "escalate")] == ["escalate"]
