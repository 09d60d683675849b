"""Orders from the shop's order feed, and reads for the bot and consoles."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from backend.api.deps import ActorDep, NowDep, ServiceDep, SessionDep
from backend.cases.service import get_order
from backend.errors import MSG_ORDER_NOT_FOUND, ServiceError
from backend.orders.service import buyer_orders, order_out, upsert_order
from backend.schemas.common import ORDER_ID_PATTERN, BuyerId
from backend.schemas.orders import OrderIn, OrderList, OrderOut

router = APIRouter(tags=["orders"])
OrderIdPath = Annotated[str, Path(pattern=ORDER_ID_PATTERN, description="16-digit order number")]


@router.put("/orders/{order_id}", response_model=OrderOut, summary="Upsert an order from the order feed")
def put_order(order_id: OrderIdPath, body: OrderIn, session: SessionDep, now: NowDep, _: ServiceDep,
              response: Response) -> OrderOut:
    order, created = upsert_order(session, order_id, body, now)
    out = order_out(order)  # built before the commit: an order that cannot be shown is not stored
    session.commit()
    response.status_code = 201 if created else 200
    return out


@router.get("/orders/{order_id}", response_model=OrderOut)
def read_order(order_id: OrderIdPath, session: SessionDep, actor: ActorDep) -> OrderOut:
    order = get_order(session, order_id, actor)
    session.refresh(order, attribute_names=["items"])
    return order_out(order)


@router.get("/buyers/{buyer_id}/orders", response_model=OrderList)
def list_buyer_orders(
    buyer_id: Annotated[BuyerId, Path()],
    session: SessionDep,
    actor: ActorDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=100000)] = 0,
) -> OrderList:
    if actor.buyer_scope is not None and actor.buyer_scope != buyer_id:
        raise ServiceError(404, MSG_ORDER_NOT_FOUND)
    return buyer_orders(session, buyer_id, limit, offset)



