"""Upserting orders from the feed and shaping them for readers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from backend.db.models import Case, Order, OrderItem
from backend.errors import ServiceError
from backend.policy.money import Line, paid_amounts
from backend.schemas.orders import OrderIn, OrderItemOut, OrderList, OrderOut

MSG_ORDER_ID_MISMATCH = "路径中的订单号与请求体中的 order_id 不一致"
MSG_BUYER_CHANGED = "订单的买家不能更改"
MSG_ITEM_REMOVED = "已有售后单的商品不能从订单中删除"


def upsert_order(session: Session, order_id: str, body: OrderIn, now: datetime) -> tuple[Order, bool]:
    """Idempotent: the same body twice leaves one identical order. Returns (order, created)."""
    if body.order_id != order_id:
        raise ServiceError(422, MSG_ORDER_ID_MISMATCH)
    order = session.get(Order, order_id, options=[selectinload(Order.items)])
    created = order is None
    if order is None:
        order = Order(order_id=order_id, buyer_id=body.buyer_id, created_at=now, items=[])
        session.add(order)
    elif order.buyer_id != body.buyer_id:
        raise ServiceError(409, MSG_BUYER_CHANGED)
    fields = body.model_dump(exclude={"items", "order_id", "buyer_id"})
    for name, value in fields.items():
        setattr(order, name, value.value if hasattr(value, "value") else value)
    order.updated_at = now

    existing = {i.item_id: i for i in order.items}
    incoming = {i.item_id for i in body.items}
    if not created:
        removed = set(existing) - incoming
        if removed and session.scalar(
            select(func.count()).select_from(Case).where(Case.order_id == order_id, Case.item_id.in_(removed))
        ):
            raise ServiceError(409, MSG_ITEM_REMOVED)
        for item_id in removed:
            order.items.remove(existing[item_id])
    for position, item in enumerate(body.items):
        row = existing.get(item.item_id)
        if row is None:
            row = OrderItem(item_id=item.item_id)
            order.items.append(row)
        row.position = position
        row.sku, row.title, row.category = item.sku, item.title, item.category
        row.quantity, row.unit_price = item.quantity, item.unit_price
        row.flags = [f.value for f in item.flags]
        row.warranty_days = item.warranty_days
    session.flush()
    return order, created


def order_out(order: Order) -> OrderOut:
    paid = paid_amounts([Line(i.item_id, i.quantity, i.unit_price) for i in order.items], order.discount_total)
    return OrderOut(
        order_id=order.order_id,
        buyer_id=order.buyer_id,
        status=order.status,  # type: ignore[arg-type]
        paid_at=order.paid_at,
        shipped_at=order.shipped_at,
        delivered_at=order.delivered_at,
        promised_delivery_by=order.promised_delivery_by,
        last_logistics_event_at=order.last_logistics_event_at,
        shipping_fee=order.shipping_fee,
        discount_total=order.discount_total,
        freight_insurance=order.freight_insurance,
        return_address=order.return_address,
        items=[
            OrderItemOut(
                item_id=i.item_id, sku=i.sku, title=i.title, category=i.category, quantity=i.quantity,
                unit_price=i.unit_price, flags=i.flags, warranty_days=i.warranty_days,  # type: ignore[arg-type]
                paid_amount=paid[i.item_id],
            )
            for i in order.items
        ],
    )


def buyer_orders(session: Session, buyer_id: str, limit: int, offset: int) -> OrderList:
    total = session.scalar(select(func.count()).select_from(Order).where(Order.buyer_id == buyer_id)) or 0
    rows = session.scalars(
        select(Order)
        .where(Order.buyer_id == buyer_id)
        .options(selectinload(Order.items))
        .order_by(Order.paid_at.desc().nulls_last(), Order.order_id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return OrderList(total=total, limit=limit, offset=offset, orders=[order_out(o) for o in rows])
