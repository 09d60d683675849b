"""ORM order → the engine's plain facts."""

from __future__ import annotations

from backend.db.models import Order
from backend.policy.facts import ItemFacts, OrderFacts
from backend.vocab import ItemFlag, OrderStatus


def order_facts(order: Order) -> OrderFacts:
    return OrderFacts(
        order_id=order.order_id,
        buyer_id=order.buyer_id,
        status=OrderStatus(order.status),
        items=tuple(
            ItemFacts(
                item_id=i.item_id,
                quantity=i.quantity,
                unit_price=i.unit_price,
                flags=frozenset(ItemFlag(f) for f in i.flags),
                warranty_days=i.warranty_days,
            )
            for i in order.items
        ),
        shipping_fee=order.shipping_fee,
        discount_total=order.discount_total,
        freight_insurance=order.freight_insurance,
        paid_at=order.paid_at,
        shipped_at=order.shipped_at,
        delivered_at=order.delivered_at,
        promised_delivery_by=order.promised_delivery_by,
        last_logistics_event_at=order.last_logistics_event_at,
    )
