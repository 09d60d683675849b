"""Money rules of policy.md §6: paid amounts after discounts, refunds, overdue penalties.

Everything is Decimal, rounded half-up to the fen, because a buyer compares our figure with the
one on their payment record and a one-fen drift is a complaint.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Sequence

CENT = Decimal("0.01")


def to_cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Line:
    item_id: str
    quantity: int
    unit_price: Decimal

    @property
    def amount(self) -> Decimal:
        return self.unit_price * self.quantity


def allocate_discount(lines: Sequence[Line], discount_total: Decimal) -> dict[str, Decimal]:
    """Share the order discount pro rata by line amount so that the shares sum exactly.

    Each share is rounded half-up; the rounding difference goes to the line with the largest
    line amount (the first one on a tie).
    """
    if not lines:
        return {}
    total = sum((line.amount for line in lines), Decimal(0))
    if discount_total == 0 or total == 0:
        return {line.item_id: Decimal("0.00") for line in lines}
    shares = {line.item_id: to_cents(discount_total * line.amount / total) for line in lines}
    largest = max(lines, key=lambda line: line.amount)  # max() keeps the first on a tie
    shares[largest.item_id] += to_cents(discount_total) - sum(shares.values(), Decimal(0))
    return shares


def paid_amounts(lines: Sequence[Line], discount_total: Decimal) -> dict[str, Decimal]:
    """Each line's paid amount: line amount less its share of the order's discount."""
    shares = allocate_discount(lines, discount_total)
    return {line.item_id: to_cents(line.amount - shares[line.item_id]) for line in lines}


def refund_for_units(paid: Decimal, units: int, of_units: int) -> Decimal:
    if not 0 < units <= of_units:
        raise ValueError("units must be between 1 and the line quantity")
    return to_cents(paid * units / of_units)


def overdue_penalty(paid: Decimal, rate_per_day: Decimal, days_late: int) -> Decimal:
    return to_cents(paid * rate_per_day * max(days_late, 0))
