"""policy.md §1 and §3: which rule decides a request and which remedies it allows.

Each row names its day count through the policy file (a rule's `max_days` plus an offset), so a
rule change in policy.yaml moves the boundaries these tests probe instead of breaking them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pytest

from backend.policy.calendar import days_between
from backend.policy.config import Policy
from backend.policy.facts import History
from backend.vocab import Decision, OrderStatus, Reason, Remedy

from tests.policy.conftest import SHANGHAI, complete_materials, days_before, local

R = Remedy
ALL_REMEDIES = tuple(Remedy)
SEVEN_DAY_EXCLUSIONS = ("custom_made", "perishable", "digital_content", "periodical", "no_7day_return")
PERISHABLE_REASONS = ("quality", "not_as_described", "wrong_item", "damaged_in_transit", "missing_item")

FromPolicy = Callable[[Policy], int]  # a count (days, cases) read from the policy file


def max_days(rule_id: str, plus: int = 0) -> FromPolicy:
    return lambda policy: policy.rule(rule_id).max_days + plus


def tier_days(tier: int, plus: int = 0) -> FromPolicy:
    return lambda policy: policy.rule("R-MISMATCH").tiers[tier].max_days + plus


def long_warranty(plus: int = 0) -> FromPolicy:
    """A warranty well past the 15-day window: R-QUALITY-15's max_days + 15 (30 with the shipped file)."""
    return lambda policy: policy.rule("R-QUALITY-15").max_days + 15 + plus


def short_warranty(plus: int = 0) -> FromPolicy:
    """A warranty shorter than the 15-day window: R-QUALITY-15's max_days − 5 (10 with the shipped file)."""
    return lambda policy: policy.rule("R-QUALITY-15").max_days - 5 + plus


def case_limit(plus: int = 0) -> FromPolicy:
    return lambda policy: policy.rule("R-CASE-LIMIT").max_cases_per_item + plus


def zero(policy: Policy) -> int:
    return 0


same_day = zero


def next_day(policy: Policy) -> int:
    """d = 1: inside every window of the table."""
    return 1


@dataclass(frozen=True)
class Row:
    """A delivered (or unshipped) order's request, named with no remedy and complete materials."""

    reason: str
    rule: str
    remedies: tuple[Remedy, ...]
    decision: Decision
    d: FromPolicy = next_day
    flags: tuple[str, ...] = ()
    warranty: FromPolicy = zero
    status: OrderStatus = OrderStatus.DELIVERED
    cases_for_item: FromPolicy = zero


OK, NO, REVIEW = Decision.ELIGIBLE, Decision.INELIGIBLE, Decision.NEEDS_REVIEW
PERISHABLE_REMEDIES = (R.REFUND_ONLY, R.RESEND, R.PARTIAL_REFUND)
QUALITY_7 = (R.RETURN_REFUND, R.EXCHANGE, R.REPAIR, R.PARTIAL_REFUND)
QUALITY_15 = (R.EXCHANGE, R.REPAIR)
MISMATCH_7 = (R.RETURN_REFUND, R.EXCHANGE, R.PARTIAL_REFUND)

ROWS = [
    # R-CASE-LIMIT: the item already had as many cases as allowed (none open).
    pytest.param(Row("no_reason", "R-CASE-LIMIT", (), NO, cases_for_item=case_limit()),
                 id="case limit reached blocks even an allowed no-reason return"),
    pytest.param(Row("quality", "R-CASE-LIMIT", (), NO, cases_for_item=case_limit()),
                 id="case limit reached blocks even a quality claim"),
    pytest.param(Row("no_reason", "R-7DAY", (R.RETURN_REFUND, R.EXCHANGE), OK, cases_for_item=case_limit(-1)),
                 id="one case below the limit the item may still get a case"),
    # R-UNSHIPPED: any reason on a paid, unshipped order.
    *[pytest.param(Row(reason, "R-UNSHIPPED", (R.REFUND_ONLY,), OK, status=OrderStatus.PAID),
                   id=f"unshipped order with reason {reason} gets refund only")
      for reason in Reason],
    # R-SIGNED-NOT-RECEIVED and its window.
    pytest.param(Row("not_received", "R-SIGNED-NOT-RECEIVED", (R.REFUND_ONLY, R.RESEND), REVIEW,
                     d=max_days("R-SIGNED-NOT-RECEIVED")),
                 id="signed for but not received on the last day goes to review"),
    pytest.param(Row("not_received", "R-LATE", (), NO, d=max_days("R-SIGNED-NOT-RECEIVED", +1)),
                 id="signed for but not received a day too late is R-LATE"),
    # R-PERISHABLE: every reason it names, on the last day and a day later.
    *[pytest.param(Row(reason, "R-PERISHABLE", PERISHABLE_REMEDIES, OK, d=max_days("R-PERISHABLE"),
                       flags=("perishable",)),
                   id=f"perishable {reason} on the last day gets refund resend or partial refund")
      for reason in PERISHABLE_REASONS],
    *[pytest.param(Row(reason, "R-PERISHABLE", (), NO, d=max_days("R-PERISHABLE", +1), flags=("perishable",)),
                   id=f"perishable {reason} a day late gets nothing")
      for reason in PERISHABLE_REASONS],
    pytest.param(Row("not_received", "R-SIGNED-NOT-RECEIVED", (R.REFUND_ONLY, R.RESEND), REVIEW,
                     d=max_days("R-PERISHABLE", +1), flags=("perishable",)),
                 id="perishable not received is a signed-not-received case not a perishable one"),
    pytest.param(Row("other", "R-OTHER", ALL_REMEDIES, REVIEW, d=max_days("R-PERISHABLE", +1), flags=("perishable",)),
                 id="perishable other is an R-OTHER case not a perishable one"),
    # R-7DAY-EXCLUDED: each of the five flags, inside and past the window.
    *[pytest.param(Row("no_reason", "R-7DAY-EXCLUDED", (), NO, flags=(flag,)),
                   id=f"no-reason return of a {flag} item is excluded")
      for flag in SEVEN_DAY_EXCLUSIONS],
    pytest.param(Row("no_reason", "R-7DAY-EXCLUDED", (), NO, d=max_days("R-7DAY", +1), flags=("custom_made",)),
                 id="a late no-reason return of an excluded item cites the exclusion first"),
    # R-7DAY-LATE / R-7DAY.
    pytest.param(Row("no_reason", "R-7DAY-LATE", (), NO, d=max_days("R-7DAY", +1)),
                 id="no-reason return a day after the window is late"),
    pytest.param(Row("no_reason", "R-7DAY", (R.RETURN_REFUND, R.EXCHANGE), OK, d=max_days("R-7DAY")),
                 id="no-reason return on the last day is allowed"),
    pytest.param(Row("no_reason", "R-7DAY", (R.RETURN_REFUND, R.EXCHANGE), OK, d=same_day),
                 id="no-reason return on the day of delivery is allowed"),
    *[pytest.param(Row("no_reason", "R-7DAY", (R.RETURN_REFUND, R.EXCHANGE), OK, flags=(flag,)),
                   id=f"a {flag} flag does not exclude the no-reason return")
      for flag in ("sealed_hygiene", "functional")],
    # Quality: 7 / 15 / warranty / paid.
    pytest.param(Row("quality", "R-QUALITY-7", QUALITY_7, OK, d=max_days("R-QUALITY-7")),
                 id="quality on the last day of the first window may be returned"),
    pytest.param(Row("quality", "R-QUALITY-15", QUALITY_15, OK, d=max_days("R-QUALITY-7", +1)),
                 id="quality a day after the first window is exchange or repair"),
    pytest.param(Row("quality", "R-QUALITY-15", QUALITY_15, OK, d=max_days("R-QUALITY-15")),
                 id="quality on the last day of the second window is exchange or repair"),
    pytest.param(Row("quality", "R-QUALITY-PAID", (R.REPAIR,), REVIEW, d=max_days("R-QUALITY-15", +1)),
                 id="quality past the second window without warranty is a paid repair"),
    pytest.param(Row("quality", "R-QUALITY-WARRANTY", (R.REPAIR,), OK, d=max_days("R-QUALITY-15", +1),
                     warranty=long_warranty()),
                 id="quality a day after the second window under warranty is a free repair"),
    pytest.param(Row("quality", "R-QUALITY-WARRANTY", (R.REPAIR,), OK, d=long_warranty(), warranty=long_warranty()),
                 id="quality on the last warranty day is a free repair"),
    pytest.param(Row("quality", "R-QUALITY-PAID", (R.REPAIR,), REVIEW, d=long_warranty(+1), warranty=long_warranty()),
                 id="quality a day after the warranty is a paid repair"),
    pytest.param(Row("quality", "R-QUALITY-7", QUALITY_7, OK, d=max_days("R-QUALITY-7"), warranty=long_warranty()),
                 id="a warranty does not shrink the first window"),
    pytest.param(Row("quality", "R-QUALITY-15", QUALITY_15, OK, d=short_warranty(+1), warranty=short_warranty()),
                 id="quality after a short warranty but inside the second window is exchange or repair"),
    pytest.param(Row("quality", "R-QUALITY-PAID", (R.REPAIR,), REVIEW, d=max_days("R-QUALITY-15", +1),
                     warranty=short_warranty()),
                 id="quality past the second window with a short warranty is a paid repair"),
    *[pytest.param(Row("quality", "R-QUALITY-7", QUALITY_7, OK, d=max_days("R-QUALITY-7"), flags=(flag,)),
                   id=f"quality of a {flag} item is not excluded")
      for flag in ("custom_made", "digital_content", "periodical", "no_7day_return")],
    *[pytest.param(Row("quality", "R-QUALITY-15", QUALITY_15, OK, d=max_days("R-QUALITY-15"), flags=(flag,)),
                   id=f"quality of a {flag} item keeps the second window")
      for flag in ("custom_made", "digital_content", "periodical", "no_7day_return")],
    # R-MISMATCH: both reasons, both tiers, then R-LATE.
    *[param
      for reason in ("not_as_described", "wrong_item")
      for param in (
          pytest.param(Row(reason, "R-MISMATCH", MISMATCH_7, OK, d=tier_days(0)),
                       id=f"{reason} on the last day of the first tier may be returned"),
          pytest.param(Row(reason, "R-MISMATCH", (R.EXCHANGE,), OK, d=tier_days(0, +1)),
                       id=f"{reason} a day after the first tier is exchange only"),
          pytest.param(Row(reason, "R-MISMATCH", (R.EXCHANGE,), OK, d=tier_days(1)),
                       id=f"{reason} on the last day of the second tier is exchange only"),
          pytest.param(Row(reason, "R-LATE", (), NO, d=tier_days(1, +1)),
                       id=f"{reason} a day after the second tier is R-LATE"),
      )],
    # R-DAMAGED, R-MISSING.
    pytest.param(Row("damaged_in_transit", "R-DAMAGED", (R.RETURN_REFUND, R.EXCHANGE, R.RESEND, R.PARTIAL_REFUND), OK,
                     d=max_days("R-DAMAGED")),
                 id="damaged in transit on the last day has four remedies"),
    pytest.param(Row("damaged_in_transit", "R-LATE", (), NO, d=max_days("R-DAMAGED", +1)),
                 id="damaged in transit a day late is R-LATE"),
    pytest.param(Row("missing_item", "R-MISSING", (R.RESEND, R.REFUND_ONLY), OK, d=max_days("R-MISSING")),
                 id="missing item on the last day is resend or refund only"),
    pytest.param(Row("missing_item", "R-LATE", (), NO, d=max_days("R-MISSING", +1)),
                 id="missing item a day late is R-LATE"),
    # R-OTHER.
    pytest.param(Row("other", "R-OTHER", ALL_REMEDIES, REVIEW, d=max_days("R-OTHER")),
                 id="other on the last day allows anything but always goes to review"),
    pytest.param(Row("other", "R-OTHER", (), NO, d=max_days("R-OTHER", +1)),
                 id="other a day late allows nothing"),
]


@pytest.fixture
def decide_row(policy, make_item, make_order, make_request, decide, clock):
    def run(row: Row):
        item = make_item(flags=row.flags, warranty_days=row.warranty(policy))
        order = make_order(row.status, items=[item], delivered_days_ago=row.d(policy))
        request = make_request(order, row.reason, materials=complete_materials(row.reason, row.flags))
        return decide(request, History(cases_for_item=row.cases_for_item(policy)))

    return run


@pytest.mark.parametrize("row", ROWS)
def test_the_first_matching_rule_decides_with_its_remedies(row: Row, decide_row) -> None:
    body = decide_row(row)

    assert [c.id for c in body.rules][:1] == [row.rule]
    assert sorted(body.allowed_remedies) == sorted(row.remedies)
    assert body.decision == row.decision


@pytest.mark.parametrize("row", [p for p in ROWS if p.values[0].status == OrderStatus.DELIVERED
                                 and p.values[0].rule != "R-CASE-LIMIT"])
def test_the_decision_reports_the_days_since_delivery_it_used(row: Row, decide_row, policy) -> None:
    assert decide_row(row).days_since_delivery == row.d(policy)


@pytest.mark.parametrize("row", ROWS)
def test_every_rule_cites_a_one_line_chinese_basis_with_no_placeholder_left(row: Row, decide_row) -> None:
    body = decide_row(row)

    for citation in body.rules:
        assert citation.basis.strip()
        assert "\n" not in citation.basis
        assert "{" not in citation.basis and "}" not in citation.basis
        assert any("\u4e00" <= ch <= "\u9fff" for ch in citation.basis)


def test_the_late_no_reason_basis_states_the_days_since_delivery(policy, decide_row) -> None:
    body = decide_row(Row("no_reason", "R-7DAY-LATE", (), NO, d=max_days("R-7DAY", +1)))

    assert str(policy.rule("R-7DAY").max_days + 1) in body.rules[0].basis


def test_the_warranty_basis_states_the_warranty_days(policy, decide_row) -> None:
    row = Row("quality", "R-QUALITY-WARRANTY", (R.REPAIR,), OK, d=long_warranty(), warranty=long_warranty())

    body = decide_row(row)

    assert str(long_warranty()(policy)) in body.rules[0].basis


# --- Shipped, not delivered: R-TRANSIT-LATE / R-TRANSIT-WAIT -------------------------------------------


@dataclass(frozen=True)
class Transit:
    reason: str
    rule: str
    promised: Callable[[Policy, datetime], datetime | None]
    last_event: Callable[[Policy, datetime], datetime | None]
    shipped: Callable[[Policy, datetime], datetime | None] = field(default=lambda p, now: days_before(now, 1))


def stale(plus: int = 0, hour: int = 9, minute: int = 0) -> Callable[[Policy, datetime], datetime]:
    """A moment `stale_logistics_days + plus` local days before now."""
    return lambda p, now: days_before(now, p.rule("R-TRANSIT-LATE").stale_logistics_days + plus, hour, minute)


def fresh(p: Policy, now: datetime) -> datetime:
    return now - timedelta(hours=2)


def promised_in(days: int, hour: int = 23, minute: int = 59) -> Callable[[Policy, datetime], datetime]:
    return lambda p, now: days_before(now, -days, hour, minute)


def nothing(p: Policy, now: datetime) -> None:
    return None


TRANSIT_ROWS = [
    pytest.param(Transit("not_received", "R-TRANSIT-LATE", promised_in(-1), fresh),
                 id="not received after the promised date passed is late"),
    pytest.param(Transit("not_received", "R-TRANSIT-WAIT", promised_in(0, hour=0, minute=1), fresh),
                 id="not received on the promised date itself is still waiting"),
    pytest.param(Transit("not_received", "R-TRANSIT-WAIT",
                         lambda p, now: now.astimezone(timezone.utc).replace(hour=16, minute=30) - timedelta(days=1),
                         fresh),
                 id="a promised date given in UTC is compared on its Shanghai date"),
    pytest.param(Transit("not_received", "R-TRANSIT-LATE", promised_in(2), stale()),
                 id="not received with no logistics event for exactly the stale days is late"),
    pytest.param(Transit("not_received", "R-TRANSIT-LATE", promised_in(2), stale(hour=23, minute=30)),
                 id="stale logistics count local dates not 24 hour periods"),
    pytest.param(Transit("not_received", "R-TRANSIT-WAIT", promised_in(2), stale(-1, hour=0, minute=5)),
                 id="not received with logistics one day short of stale is still waiting"),
    pytest.param(Transit("not_received", "R-TRANSIT-LATE", promised_in(2), nothing, shipped=stale()),
                 id="with no logistics event the shipment date counts as the last event"),
    pytest.param(Transit("not_received", "R-TRANSIT-WAIT", promised_in(2), nothing, shipped=stale(-1)),
                 id="shipped one day short of stale with no event is still waiting"),
    pytest.param(Transit("not_received", "R-TRANSIT-WAIT", nothing, fresh),
                 id="no promised date and fresh logistics is still waiting"),
    *[pytest.param(Transit(reason, "R-TRANSIT-WAIT", promised_in(-1), stale(+1)),
                   id=f"a late parcel with reason {reason} is told to wait")
      for reason in Reason if reason != Reason.NOT_RECEIVED],
]


@pytest.mark.parametrize("row", TRANSIT_ROWS)
def test_a_parcel_in_transit_is_late_or_waiting(row: Transit, policy, make_order, make_request, decide, clock) -> None:
    order = make_order(OrderStatus.SHIPPED, promised_delivery_by=row.promised(policy, clock),
                       last_logistics_event_at=row.last_event(policy, clock), shipped_at=row.shipped(policy, clock))

    body = decide(make_request(order, row.reason))

    assert [c.id for c in body.rules] == [row.rule]
    if row.rule == "R-TRANSIT-LATE":
        assert sorted(body.allowed_remedies) == sorted((R.REFUND_ONLY, R.RESEND))
        assert body.decision == Decision.ELIGIBLE
    else:
        assert body.allowed_remedies == []
        assert body.decision == Decision.INELIGIBLE


def test_waiting_tells_the_buyer_the_expected_date(make_order, make_request, decide, clock) -> None:
    promised = local(clock.date() + timedelta(days=2), 18)
    order = make_order(OrderStatus.SHIPPED, promised_delivery_by=promised)

    body = decide(make_request(order, "not_received"))

    assert body.rules[0].id == "R-TRANSIT-WAIT"
    assert f"{promised.month}月{promised.day}日" in body.rules[0].basis


# --- §1 day counting -------------------------------------------------------------------------------


def test_signed_late_on_the_14th_and_asked_just_after_midnight_on_the_21st_is_day_7() -> None:
    delivered = datetime(2026, 11, 14, 23, 30, tzinfo=SHANGHAI)
    asked = datetime(2026, 11, 21, 0, 10, tzinfo=SHANGHAI)

    assert days_between(delivered, asked, SHANGHAI) == 7


def test_the_engine_counts_day_7_from_local_dates_not_24_hour_periods(make_order, make_request, decide) -> None:
    order = make_order(delivered_at=datetime(2026, 11, 14, 23, 30, tzinfo=SHANGHAI))

    body = decide(make_request(order, "no_reason", materials=complete_materials("no_reason")),
                  at=datetime(2026, 11, 21, 0, 10, tzinfo=SHANGHAI))

    assert body.days_since_delivery == 7


def test_a_no_reason_request_just_after_midnight_past_the_window_is_late_though_fewer_hours_passed(
        policy, make_order, make_request, decide) -> None:
    window = policy.rule("R-7DAY").max_days
    delivered = datetime(2026, 11, 2, 23, 30, tzinfo=SHANGHAI)
    asked = datetime.combine(delivered.date() + timedelta(days=window + 1), datetime.min.time(), SHANGHAI) \
        + timedelta(minutes=10)
    assert asked - delivered < timedelta(days=window + 1)  # by 24h periods it would still be inside

    body = decide(make_request(make_order(delivered_at=delivered), "no_reason",
                               materials=complete_materials("no_reason")), at=asked)

    assert body.days_since_delivery == window + 1
    assert body.rules[0].id == "R-7DAY-LATE"


def test_a_utc_delivery_time_already_on_the_next_shanghai_day_counts_from_that_day(
        make_order, make_request, decide) -> None:
    delivered_utc = datetime(2026, 11, 13, 16, 30, tzinfo=timezone.utc)  # 2026-11-14 00:30 in Shanghai
    asked = datetime(2026, 11, 21, 12, 0, tzinfo=SHANGHAI)

    body = decide(make_request(make_order(delivered_at=delivered_utc), "no_reason",
                               materials=complete_materials("no_reason")), at=asked)

    assert body.days_since_delivery == 7


def test_a_utc_request_time_already_on_the_next_shanghai_day_counts_to_that_day(
        make_order, make_request, decide) -> None:
    delivered = datetime(2026, 11, 14, 23, 30, tzinfo=SHANGHAI)
    asked_utc = datetime(2026, 11, 20, 16, 10, tzinfo=timezone.utc)  # 2026-11-21 00:10 in Shanghai

    body = decide(make_request(make_order(delivered_at=delivered), "no_reason",
                               materials=complete_materials("no_reason")), at=asked_utc)

    assert body.days_since_delivery == 7


def test_d_is_fixed_when_the_case_is_filed_so_later_materials_never_make_it_late(
        policy, make_order, make_request, decide, clock) -> None:
    window = policy.rule("R-7DAY").max_days
    order = make_order(delivered_days_ago=window)

    body = decide(make_request(order, "no_reason", "return_refund", materials=complete_materials("no_reason")),
                  at=clock, now=clock + timedelta(days=5))

    assert body.rules[0].id == "R-7DAY"
    assert body.decision == Decision.ELIGIBLE
    assert body.days_since_delivery == window
