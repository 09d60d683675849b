"""Fixtures of the policy tests: the shipped policy file, a fixed clock and small fact factories.

Everything here builds the engine's plain inputs (backend/policy/facts.py); nothing touches a
database or the wall clock, so every test is a pure function of the rows it states.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from backend.policy.config import Policy, load_policy
from backend.policy.engine import evaluate
from backend.policy.facts import History, ItemFacts, OrderFacts, Request, Supplied
from backend.schemas.decisions import DecisionBody
from backend.settings import DEFAULT_POLICY_FILE
from backend.vocab import ItemFlag, MaterialCode, OrderStatus, Reason

SHANGHAI = ZoneInfo("Asia/Shanghai")
# The fixed clock: a Wednesday in 2026, a year chinesecalendar covers.
FIXED_NOW = datetime(2026, 11, 18, 10, 0, tzinfo=SHANGHAI)

# policy.md §4, as the spec states it: the oracle the policy file is checked against.
SPEC_MATERIALS: dict[Reason, tuple[MaterialCode, ...]] = {
    Reason.NO_REASON: (MaterialCode.INTACT_CONFIRMATION,),
    Reason.QUALITY: (MaterialCode.DESCRIPTION, MaterialCode.DEFECT_PHOTO),
    Reason.NOT_AS_DESCRIBED: (MaterialCode.DESCRIPTION, MaterialCode.ITEM_PHOTO, MaterialCode.LABEL_PHOTO),
    Reason.WRONG_ITEM: (MaterialCode.ITEM_PHOTO, MaterialCode.LABEL_PHOTO),
    Reason.DAMAGED_IN_TRANSIT: (MaterialCode.PACKAGE_PHOTO, MaterialCode.DEFECT_PHOTO, MaterialCode.WAYBILL_PHOTO),
    Reason.MISSING_ITEM: (MaterialCode.CONTENTS_PHOTO, MaterialCode.WAYBILL_PHOTO),
    Reason.NOT_RECEIVED: (),
    Reason.OTHER: (MaterialCode.DESCRIPTION,),
}


def spec_materials(reason: Reason | str, flags: Iterable[ItemFlag | str] = ()) -> tuple[MaterialCode, ...]:
    """The codes policy.md §4 requires for a delivered item (functional quality adds a video)."""
    reason = Reason(reason)
    codes = SPEC_MATERIALS[reason]
    if reason == Reason.QUALITY and ItemFlag.FUNCTIONAL in {ItemFlag(f) for f in flags}:
        codes += (MaterialCode.DEFECT_VIDEO,)
    return codes


_KIND = {
    MaterialCode.DESCRIPTION: "text",
    MaterialCode.DEFECT_VIDEO: "video",
    MaterialCode.INTACT_CONFIRMATION: "confirmation",
    MaterialCode.RETURN_TRACKING: "tracking",
}


def supplied(code: MaterialCode | str, **overrides: object) -> Supplied:
    """One well-formed material of the right kind; override `kind`, `text` or `seal_intact` to spoil it."""
    code = MaterialCode(code)
    values: dict[str, object] = {"kind": _KIND.get(code, "image")}
    if code == MaterialCode.DESCRIPTION:
        values["text"] = "鞋底开胶，走路时整块脱落"
    if code == MaterialCode.INTACT_CONFIRMATION:
        values["seal_intact"] = True
    values.update(overrides)
    return Supplied(code=code, **values)  # type: ignore[arg-type]


def complete_materials(reason: Reason | str, flags: Iterable[ItemFlag | str] = ()) -> tuple[Supplied, ...]:
    flags = tuple(flags)
    return tuple(supplied(code) for code in spec_materials(reason, flags))


def local(day: date, hour: int = 10, minute: int = 0, second: int = 0) -> datetime:
    """A moment on a local (Asia/Shanghai) date."""
    return datetime.combine(day, time(hour, minute, second), tzinfo=SHANGHAI)


def days_before(now: datetime, days: int, hour: int = 9, minute: int = 0) -> datetime:
    """`hour:minute` local time on the local date `days` calendar days before `now`'s."""
    return local(now.astimezone(SHANGHAI).date() - timedelta(days=days), hour, minute)


@pytest.fixture(scope="session")
def policy() -> Policy:
    return load_policy(DEFAULT_POLICY_FILE)


@pytest.fixture
def clock() -> datetime:
    """The fixed 'now' of every test: 2026-11-18 10:00 in Asia/Shanghai."""
    return FIXED_NOW


@pytest.fixture
def make_item() -> Callable[..., ItemFacts]:
    def make(item_id: str = "1", *, quantity: int = 1, unit_price: str | Decimal = "299.00",
             flags: Iterable[ItemFlag | str] = (), warranty_days: int = 0) -> ItemFacts:
        return ItemFacts(item_id=item_id, quantity=quantity, unit_price=Decimal(unit_price),
                         flags=frozenset(ItemFlag(f) for f in flags), warranty_days=warranty_days)

    return make


@pytest.fixture
def make_order(make_item: Callable[..., ItemFacts], clock: datetime) -> Callable[..., OrderFacts]:
    """An order in a given status. A delivered order is signed for `delivered_days_ago` local days
    before the clock (09:00 local); a shipped one is in transit with fresh logistics by default."""

    def make(status: OrderStatus | str = OrderStatus.DELIVERED, *, items: Iterable[ItemFacts] | None = None,
             delivered_days_ago: int = 1, shipping_fee: str = "10.00", discount_total: str = "0.00",
             freight_insurance: bool = False, **times: datetime | None) -> OrderFacts:
        status = OrderStatus(status)
        moments: dict[str, datetime | None] = {"paid_at": days_before(clock, 20)}
        if status in (OrderStatus.SHIPPED, OrderStatus.DELIVERED):
            moments["shipped_at"] = days_before(clock, delivered_days_ago + 2 if status == OrderStatus.DELIVERED else 1)
        if status == OrderStatus.SHIPPED:
            moments["last_logistics_event_at"] = clock - timedelta(hours=2)
            moments["promised_delivery_by"] = days_before(clock, -2, hour=23, minute=59)
        if status == OrderStatus.DELIVERED:
            moments["delivered_at"] = days_before(clock, delivered_days_ago)
        moments.update(times)
        return OrderFacts(
            order_id="2026111812345678",
            buyer_id="b_1001",
            status=status,
            items=tuple(items) if items is not None else (make_item(),),
            shipping_fee=Decimal(shipping_fee),
            discount_total=Decimal(discount_total),
            freight_insurance=freight_insurance,
            **moments,  # type: ignore[arg-type]
        )

    return make


@pytest.fixture
def make_request() -> Callable[..., Request]:
    def make(order: OrderFacts, reason: Reason | str, remedy: str | None = None, *, item_id: str | None = None,
             quantity: int | None = None, materials: Iterable[Supplied] = ()) -> Request:
        return Request(order=order, item_id=item_id or order.items[0].item_id, reason=str(reason),
                       remedy=remedy, quantity=quantity, supplied=tuple(materials))

    return make


@pytest.fixture
def decide(policy: Policy, clock: datetime) -> Callable[..., DecisionBody]:
    """evaluate() on the fixed clock, with a clean history unless one is given."""

    def run(request: Request, history: History | None = None, *, at: datetime | None = None,
            now: datetime | None = None, materials_since: datetime | None = None) -> DecisionBody:
        return evaluate(policy, request, history or History(), decided_at=at or clock, now=now or clock,
                        materials_since=materials_since)

    return run
