"""Orders as the shop's order feed sends them (api.md "Order")."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints, field_validator, model_validator

from backend.schemas.common import MAX_MONEY, AwareDatetime, BuyerId, ItemId, Money, OrderId, Page, WireModel
from backend.vocab import ItemFlag, OrderStatus


class OrderItemIn(WireModel):
    item_id: ItemId
    sku: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    title: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    category: Annotated[str, StringConstraints(min_length=1, max_length=64)] = "general"
    quantity: int = Field(ge=1, le=10000)
    unit_price: Money
    flags: list[ItemFlag] = Field(default_factory=list, max_length=len(ItemFlag))
    warranty_days: int = Field(0, ge=0, le=3650)

    @field_validator("flags")
    @classmethod
    def _unique_flags(cls, flags: list[ItemFlag]) -> list[ItemFlag]:
        return sorted(set(flags), key=lambda f: f.value)


class OrderIn(WireModel):
    order_id: OrderId
    buyer_id: BuyerId
    status: OrderStatus
    paid_at: AwareDatetime | None = None
    shipped_at: AwareDatetime | None = None
    delivered_at: AwareDatetime | None = None
    promised_delivery_by: AwareDatetime | None = None
    last_logistics_event_at: AwareDatetime | None = None
    shipping_fee: Money = Decimal("0.00")
    discount_total: Money = Decimal("0.00")
    freight_insurance: bool = False
    return_address: Annotated[str, StringConstraints(max_length=300)] | None = None
    # The last 4 digits of the receiver's phone (never the full number): a buyer proves an order is
    # theirs with it when binding a messaging-app account (docs/wechat.md).
    receiver_phone_tail: Annotated[str, StringConstraints(pattern=r"^[0-9]{4}$")] | None = None
    items: list[OrderItemIn] = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _consistent(self) -> "OrderIn":
        ids = [i.item_id for i in self.items]
        if len(ids) != len(set(ids)):
            raise ValueError("订单中的 item_id 不能重复")
        if self.status in (OrderStatus.SHIPPED, OrderStatus.DELIVERED) and self.shipped_at is None:
            raise ValueError("已发货的订单需要 shipped_at")
        if self.status == OrderStatus.DELIVERED and self.delivered_at is None:
            raise ValueError("已签收的订单需要 delivered_at")
        if self.status in (OrderStatus.PAID, OrderStatus.SHIPPED) and self.delivered_at is not None:
            raise ValueError("未签收的订单不能有 delivered_at")
        if self.shipped_at and self.delivered_at and self.delivered_at < self.shipped_at:
            raise ValueError("delivered_at 不能早于 shipped_at")
        total = sum((i.unit_price * i.quantity for i in self.items), Decimal(0))
        if any(i.unit_price * i.quantity > MAX_MONEY for i in self.items) or total > MAX_MONEY:
            raise ValueError("订单金额超出上限（10000000.00 元）")
        if self.discount_total > total:
            raise ValueError("优惠金额不能超过商品总额")
        return self


class OrderItemOut(OrderItemIn):
    paid_amount: Money


class OrderOut(BaseModel):
    order_id: str
    buyer_id: str
    status: OrderStatus
    paid_at: AwareDatetime | None
    shipped_at: AwareDatetime | None
    delivered_at: AwareDatetime | None
    promised_delivery_by: AwareDatetime | None
    last_logistics_event_at: AwareDatetime | None
    shipping_fee: Money
    discount_total: Money
    freight_insurance: bool
    return_address: str | None
    items: list[OrderItemOut]


class OrderList(Page):
    orders: list[OrderOut]
