"""The order feed's `receiver_phone_tail`: four digits or nothing, stored, never shown back."""

from __future__ import annotations

import pytest

from backend.db.models import Order
from tests.wechat.conftest import ORDER, Wx


@pytest.mark.parametrize("tail", ["13812345678", "567", "56789", "５６７８", "12a4", ""])
def test_anything_but_four_ascii_digits_is_refused(wx: Wx, tail: str) -> None:
    body = wx.api.client.put(f"/api/v1/orders/{ORDER}", headers=wx.api.service, json={
        "order_id": ORDER, "buyer_id": "b_1001", "status": "paid", "receiver_phone_tail": tail,
        "items": [{"item_id": "1", "sku": "S", "title": "T", "quantity": 1, "unit_price": "1.00"}]})
    assert body.status_code == 422, body.text


def test_the_tail_is_stored_and_not_returned(wx: Wx) -> None:
    out = wx.api.order(ORDER, receiver_phone_tail="0123")
    assert "receiver_phone_tail" not in out and "0123" not in str(out)
    with wx.db() as session:
        assert session.get(Order, ORDER).receiver_phone_tail == "0123"  # type: ignore[union-attr]
    wx.api.order(ORDER)  # the feed sends the whole order each time: no tail now means none
    with wx.db() as session:
        assert session.get(Order, ORDER).receiver_phone_tail is None  # type: ignore[union-attr]
