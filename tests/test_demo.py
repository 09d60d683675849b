"""The demo data a newcomer meets under `make run` exercises every policy rule, whatever today is."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from backend.demo import demo_orders
from backend.orders.facts import order_facts
from backend.policy.config import RULE_REQUIREMENTS, load_policy
from backend.policy.engine import match_rule
from backend.db.models import Order, OrderItem
from backend.settings import DEFAULT_POLICY_FILE

# (order id, item id, reason) → the rule a buyer meets with it.
SCENARIOS = [
    ("2026111812345678", "1", "no_reason", "R-7DAY"),
    ("2026111812345678", "1", "quality", "R-QUALITY-7"),
    ("2026111700000002", "1", "no_reason", "R-7DAY-EXCLUDED"),
    ("2026111900000003", "1", "quality", "R-PERISHABLE"),
    ("2026101200000004", "1", "quality", "R-QUALITY-WARRANTY"),
    ("2025091500000005", "1", "quality", "R-QUALITY-PAID"),
    ("2026112100000006", "1", "no_reason", "R-UNSHIPPED"),
    ("2026111500000007", "1", "not_received", "R-TRANSIT-LATE"),
    ("2026112000000008", "1", "not_received", "R-TRANSIT-WAIT"),
    ("2026111600000009", "1", "missing_item", "R-MISSING"),
    ("2026111600000009", "2", "wrong_item", "R-MISMATCH"),
    ("2026111600000009", "3", "damaged_in_transit", "R-DAMAGED"),
    ("2026111600000009", "2", "not_received", "R-SIGNED-NOT-RECEIVED"),
    ("2026110900000012", "1", "no_reason", "R-7DAY-LATE"),
    ("2026110900000012", "1", "not_as_described", "R-MISMATCH"),
    ("2026110900000012", "1", "damaged_in_transit", "R-LATE"),
    ("2026110900000012", "1", "other", "R-OTHER"),
    ("2026110900000012", "1", "quality", "R-QUALITY-15"),
    ("2026111800000013", "1", "no_reason", "R-7DAY-EXCLUDED"),
    ("2026111800000013", "2", "quality", "R-QUALITY-7"),
]


def _orm(order_in) -> Order:  # type: ignore[no-untyped-def]
    order = Order(**order_in.model_dump(exclude={"items"}))
    order.items = [OrderItem(position=n, **{**i.model_dump(), "flags": [f.value for f in i.flags]})
                   for n, i in enumerate(order_in.items)]
    return order


@pytest.mark.parametrize("today", [datetime(2026, 11, 20, 10, tzinfo=ZoneInfo("Asia/Shanghai")),
                                   datetime(2027, 3, 1, 23, 30, tzinfo=ZoneInfo("Asia/Shanghai"))],
                         ids=["today", "months-later"])
def test_each_demo_scenario_meets_its_rule_on_any_day(today: datetime) -> None:
    policy = load_policy(DEFAULT_POLICY_FILE)
    orders = {o.order_id: order_facts(_orm(o)) for o in demo_orders(today)}
    met = set()
    for order_id, item_id, reason, rule_id in SCENARIOS:
        order = orders[order_id]
        match, _ = match_rule(policy, order, order.item(item_id), reason, today + timedelta(minutes=1))  # type: ignore[arg-type]
        assert match.rule_id == rule_id, (order_id, item_id, reason)
        met.add(rule_id)
    assert met == set(RULE_REQUIREMENTS) - {"R-CASE-LIMIT"}  # the case limit needs history, not an order


def test_demo_has_a_cancelled_order_and_an_order_of_another_buyer() -> None:
    orders = demo_orders(datetime(2026, 11, 20, tzinfo=ZoneInfo("Asia/Shanghai")))
    assert any(o.status == "cancelled" for o in orders)
    assert {o.buyer_id for o in orders} == {"b_1001", "b_2002"}
    assert len({o.order_id for o in orders}) == len(orders)
