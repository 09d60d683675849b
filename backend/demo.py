"""Demo orders for `make run`, dated relative to today so they never go stale.

Each order exercises one row of the policy (the comment names the rule a buyer will meet).
Buyer b_1001 owns most of them; b_2002 exists to show that other buyers' orders stay invisible.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from backend.schemas.orders import OrderIn

TZ_OFFSET = "+08:00"
# Last four digits of each demo buyer's phone: "绑定 2026111812345678 5678" binds a WeChat openid to b_1001.
PHONE_TAILS = {"b_1001": "5678", "b_2002": "4321"}


def _order(order_id: str, buyer: str, status: str, now: datetime, *, delivered_days: int | None = None,
           shipped_days: int | None = None, promised_in_days: int | None = None, last_event_days: int | None = None,
           items: list[dict], shipping_fee: str = "0.00", discount_total: str = "0.00",
           freight_insurance: bool = False) -> OrderIn:
    def ago(days: int | None) -> str | None:
        return None if days is None else (now - timedelta(days=days)).isoformat()

    paid_days = max(d for d in (delivered_days, shipped_days, 0) if d is not None) + 2
    return OrderIn.model_validate({
        "order_id": order_id, "buyer_id": buyer, "status": status,
        "paid_at": ago(paid_days),
        "shipped_at": ago(shipped_days if shipped_days is not None else (delivered_days + 2 if delivered_days is not None else None)),
        "delivered_at": ago(delivered_days),
        "promised_delivery_by": None if promised_in_days is None else (now + timedelta(days=promised_in_days)).isoformat(),
        "last_logistics_event_at": ago(last_event_days),
        "shipping_fee": shipping_fee, "discount_total": discount_total, "freight_insurance": freight_insurance,
        "receiver_phone_tail": PHONE_TAILS.get(buyer),
        "items": items,
    })


def _item(item_id: str, sku: str, title: str, category: str, price: str, *, quantity: int = 1,
          flags: tuple[str, ...] = (), warranty_days: int = 0) -> dict:
    return {"item_id": item_id, "sku": sku, "title": title, "category": category, "quantity": quantity,
            "unit_price": price, "flags": list(flags), "warranty_days": warranty_days}


def demo_orders(now: datetime) -> list[OrderIn]:
    b = "b_1001"
    return [
        # R-7DAY / R-QUALITY-7: running shoes signed 3 days ago, coupon 20, shipping 10.
        _order("2026111812345678", b, "delivered", now, delivered_days=3, shipping_fee="10.00", discount_total="20.00",
               freight_insurance=True,
               items=[_item("1", "SHOE-42-BLK", "男士跑步鞋 黑色 42码", "shoes", "299.00")]),
        # R-7DAY-EXCLUDED (custom_made) but quality still allowed.
        _order("2026111700000002", b, "delivered", now, delivered_days=2,
               items=[_item("1", "TSHIRT-CUSTOM", "定制印字T恤 白色 L码", "apparel", "89.00", flags=("custom_made",))]),
        # R-PERISHABLE: fresh fruit signed yesterday.
        _order("2026111900000003", b, "delivered", now, delivered_days=1,
               items=[_item("1", "FRUIT-CHERRY-2KG", "智利车厘子 2kg 礼盒", "fresh", "198.00", flags=("perishable",))]),
        # R-QUALITY-WARRANTY: a kettle signed 40 days ago with one year of warranty.
        _order("2026101200000004", b, "delivered", now, delivered_days=40,
               items=[_item("1", "KETTLE-1.7L", "电热水壶 1.7L 不锈钢", "appliance", "159.00", flags=("functional",),
                            warranty_days=365)]),
        # R-QUALITY-PAID: a hair dryer past its 1-year warranty.
        _order("2025091500000005", b, "delivered", now, delivered_days=400,
               items=[_item("1", "DRYER-1800W", "负离子吹风机 1800W", "appliance", "259.00", flags=("functional",),
                            warranty_days=365)]),
        # R-UNSHIPPED: paid, not shipped yet.
        _order("2026112100000006", b, "paid", now,
               items=[_item("1", "BOOK-PY", "Python编程从入门到实践", "books", "69.00")], shipping_fee="6.00"),
        # R-TRANSIT-LATE: promised yesterday, no logistics update for 4 days.
        _order("2026111500000007", b, "shipped", now, shipped_days=5, promised_in_days=-1, last_event_days=4,
               items=[_item("1", "PHONE-CASE", "iPhone 15 手机壳 透明", "accessories", "39.00")], shipping_fee="0.00"),
        # R-TRANSIT-WAIT: shipped yesterday, promised in 2 days.
        _order("2026112000000008", b, "shipped", now, shipped_days=1, promised_in_days=2, last_event_days=0,
               items=[_item("1", "CHARGER-20W", "iPhone 20W 快充充电器", "electronics", "99.00", flags=("functional",))]),
        # Multi-item order with a coupon shared pro rata (R-MISSING, R-MISMATCH, R-DAMAGED).
        _order("2026111600000009", b, "delivered", now, delivered_days=4, shipping_fee="12.00", discount_total="50.00",
               items=[_item("1", "SOCKS-5P", "纯棉袜子 5双装", "apparel", "39.90", quantity=2),
                      _item("2", "JACKET-M", "防风夹克 藏青 M码", "apparel", "399.00"),
                      _item("3", "MUG-CERAMIC", "陶瓷马克杯 350ml", "home", "45.00", quantity=3)]),
        # Sealed hygiene goods: no-reason return needs the seal confirmed.
        _order("2026111700000010", b, "delivered", now, delivered_days=3,
               items=[_item("1", "CREAM-50ML", "保湿面霜 50ml", "cosmetics", "268.00", flags=("sealed_hygiene",))]),
        # High value: any complete request still goes to a person (≥ 5000).
        _order("2026111900000011", b, "delivered", now, delivered_days=2,
               items=[_item("1", "LAPTOP-14", "轻薄笔记本电脑 14英寸 16G/1T", "electronics", "6999.00",
                            flags=("functional",), warranty_days=365)]),
        # R-7DAY-LATE / R-MISMATCH second tier: signed 10 days ago.
        _order("2026110900000012", b, "delivered", now, delivered_days=10,
               items=[_item("1", "DRESS-S", "碎花连衣裙 S码", "apparel", "159.00")]),
        # Digital content and a periodical: never returnable without reason.
        _order("2026111800000013", b, "delivered", now, delivered_days=2,
               items=[_item("1", "GAME-CODE", "游戏兑换码（已发送）", "digital", "298.00", flags=("digital_content",)),
                      _item("2", "MAG-2026-11", "《读者》2026年11月刊", "periodical", "12.00", flags=("periodical",))]),
        # Cancelled: the assistant explains that no after-sales is needed.
        _order("2026111000000014", b, "cancelled", now,
               items=[_item("1", "LAMP-DESK", "LED护眼台灯", "home", "129.00")]),
        # Another buyer's order: invisible to b_1001.
        _order("2026111800000099", "b_2002", "delivered", now, delivered_days=2,
               items=[_item("1", "BAG-TOTE", "帆布托特包", "bags", "79.00")]),
    ]
