"""What the engine knows about an order, an item and a buyer's history: plain values, no ORM.

Keeping the engine's inputs free of the database lets the rule tests run as pure tables and lets
the service layer decide how the facts are fetched (and locked).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from backend.vocab import CaseStatus, ItemFlag, MaterialCode, OrderStatus


@dataclass(frozen=True, slots=True)
class ItemFacts:
    item_id: str
    quantity: int
    unit_price: Decimal
    flags: frozenset[ItemFlag] = frozenset()
    warranty_days: int = 0


@dataclass(frozen=True, slots=True)
class OrderFacts:
    order_id: str
    buyer_id: str
    status: OrderStatus
    items: tuple[ItemFacts, ...]
    shipping_fee: Decimal = Decimal("0.00")
    discount_total: Decimal = Decimal("0.00")
    freight_insurance: bool = False
    paid_at: datetime | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    promised_delivery_by: datetime | None = None
    last_logistics_event_at: datetime | None = None

    def item(self, item_id: str) -> ItemFacts | None:
        return next((i for i in self.items if i.item_id == item_id), None)


@dataclass(frozen=True, slots=True)
class OpenCase:
    case_id: str
    status: CaseStatus


@dataclass(frozen=True, slots=True)
class History:
    """The buyer's and the item's past, as policy.md §5 needs it."""

    open_case: OpenCase | None = None
    cases_for_item: int = 0
    buyer_recent_cases: int = 0
    shared_evidence: bool = False


@dataclass(frozen=True, slots=True)
class Supplied:
    """One material as supplied, with the kind of file behind it already resolved."""

    code: MaterialCode
    kind: str  # "image", "video", "text", "confirmation", "tracking"
    text: str | None = None
    seal_intact: bool | None = None


@dataclass(frozen=True, slots=True)
class Request:
    order: OrderFacts
    item_id: str
    reason: str
    remedy: str | None = None
    quantity: int | None = None
    supplied: tuple[Supplied, ...] = field(default_factory=tuple)
