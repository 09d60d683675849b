"""PUT/GET orders: idempotent upsert from the feed, paid amounts, ownership."""

from __future__ import annotations

from tests.support.api import Api


def test_put_order_creates_then_updates_without_duplicating(api: Api) -> None:
    first = api.client.put("/api/v1/orders/2026111812345678", json=_body(), headers=api.service)
    again = api.client.put("/api/v1/orders/2026111812345678", json=_body(), headers=api.service)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    listing = api.client.get("/api/v1/buyers/b_1001/orders", headers=api.service).json()
    assert listing["total"] == 1


def test_order_read_shows_pro_rata_paid_amounts_that_sum_to_total_less_discount(api: Api) -> None:
    body = _body(items=[_item("1", "39.90", 2), _item("2", "399.00", 1), _item("3", "45.00", 3)], discount_total="50.00")
    api.client.put("/api/v1/orders/2026111812345678", json=body, headers=api.service)
    order = api.client.get("/api/v1/orders/2026111812345678", headers=api.service).json()
    paid = {i["item_id"]: i["paid_amount"] for i in order["items"]}
    # 79.80 + 399.00 + 135.00 = 613.80; shares 6.50 + 32.50 + 11.00 = 50.00
    assert paid == {"1": "73.30", "2": "366.50", "3": "124.00"}
    assert order["discount_total"] == "50.00" and order["shipping_fee"] == "10.00"


def test_updating_an_order_replaces_its_items(api: Api) -> None:
    api.client.put("/api/v1/orders/2026111812345678", json=_body(), headers=api.service)
    body = _body(status="delivered", items=[_item("1", "299.00", 1), _item("2", "19.90", 1)])
    updated = api.client.put("/api/v1/orders/2026111812345678", json=body, headers=api.service).json()
    assert [i["item_id"] for i in updated["items"]] == ["1", "2"]
    assert updated["status"] == "delivered"


def test_a_buyer_cannot_read_another_buyers_order_and_learns_nothing(api: Api) -> None:
    api.order("2026111800000099", buyer_id="b_2002")
    foreign = api.client.get("/api/v1/orders/2026111800000099", headers=api.buyer("b_1001"))
    unknown = api.client.get("/api/v1/orders/2026111800000098", headers=api.buyer("b_1001"))
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json() == unknown.json() == {"detail": "未找到该订单，请核对订单号"}
    others = api.client.get("/api/v1/buyers/b_2002/orders", headers=api.buyer("b_1001"))
    assert others.status_code == 404


def test_only_the_service_may_write_orders(api: Api) -> None:
    as_buyer = api.client.put("/api/v1/orders/2026111812345678", json=_body(), headers=api.buyer())
    anonymous = api.client.put("/api/v1/orders/2026111812345678", json=_body())
    wrong_token = api.client.put("/api/v1/orders/2026111812345678", json=_body(),
                                 headers={"Authorization": "Bearer nope"})
    assert (as_buyer.status_code, anonymous.status_code, wrong_token.status_code) == (403, 401, 401)
    assert api.client.get("/api/v1/orders/2026111812345678", headers=api.service).status_code == 404


def test_the_buyer_of_an_order_cannot_be_changed(api: Api) -> None:
    api.client.put("/api/v1/orders/2026111812345678", json=_body(), headers=api.service)
    response = api.client.put("/api/v1/orders/2026111812345678", json=_body(buyer_id="b_9"), headers=api.service)
    assert response.status_code == 409
    assert api.client.get("/api/v1/orders/2026111812345678", headers=api.service).json()["buyer_id"] == "b_1001"


def test_buyer_order_list_is_paginated(api: Api) -> None:
    for n in range(5):
        api.client.put(f"/api/v1/orders/202611180000000{n}", json=_body(order_id=f"202611180000000{n}"),
                       headers=api.service)
    page = api.client.get("/api/v1/buyers/b_1001/orders?limit=2&offset=2", headers=api.buyer()).json()
    assert page["total"] == 5 and page["limit"] == 2 and len(page["orders"]) == 2


def _item(item_id: str, price: str, quantity: int) -> dict:
    return {"item_id": item_id, "sku": f"SKU-{item_id}", "title": f"商品{item_id}", "quantity": quantity,
            "unit_price": price}


def _body(**overrides: object) -> dict:
    body = {"order_id": "2026111812345678", "buyer_id": "b_1001", "status": "shipped",
            "paid_at": "2026-11-15T10:00:00+08:00", "shipped_at": "2026-11-16T10:00:00+08:00",
            "delivered_at": None, "shipping_fee": "10.00", "discount_total": "0.00",
            "items": [_item("1", "299.00", 1)]}
    body.update(overrides)
    if body["status"] == "delivered" and not body.get("delivered_at"):
        body["delivered_at"] = "2026-11-18T10:00:00+08:00"
    return body
