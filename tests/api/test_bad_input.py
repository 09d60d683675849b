"""Bad input on every write: a clear 4xx with a Chinese `detail`, and nothing changed.

Each refused write is checked against a snapshot of every table taken just before it: not one row
may appear, vanish or change. The world: buyer b_1001's delivered order with one case awaiting
materials, a second order of b_1001 with no case yet, b_2002's order, and a cancelled order of b_1001.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import json

import pytest

from backend.db.models import Base
from backend.policy.engine import MSG_QUANTITY_TOO_LARGE
from tests.support.api import Api

ORDER = "2026111812345678"
FOREIGN_ORDER = "2026111800000099"  # b_2002's
CANCELLED_ORDER = "2026111800000055"
FRESH_ORDER = "2026111800000066"  # b_1001's, no case yet
UNKNOWN_ORDER = "2026111800000000"

INVALID = "请求内容不正确"
BAD_JSON = "请求体不是有效的 JSON"
TOO_LARGE = "请求内容过大"
ORDER_NOT_FOUND = {"detail": "未找到该订单，请核对订单号"}
CASE_NOT_FOUND = {"detail": "未找到该售后单，请核对售后单号"}
ITEM_NOT_FOUND = {"detail": "该订单中没有这件商品，请核对商品"}
ORDER_CANCELLED = {"detail": "该订单已取消，无需申请售后；如已付款，退款会按原路退回"}

SQL_STRINGS = ["'; DROP TABLE cases; --", "Robert'); DELETE FROM case_events WHERE ('1'='1",
               "1' OR '1'='1", "\" OR 1=1 --", "%' UNION SELECT token_hash FROM agent_sessions --"]
XSS_STRINGS = ["<script>alert(document.cookie)</script>", "<img src=x onerror=alert(1)>",
               "javascript:alert(1)", "\"><svg onload=alert(1)>", "{{7*7}}${7*7}"]


@dataclass
class World:
    api: Api
    case_id: str

    def state(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table: the yardstick for "nothing changed"."""
        with self.api.client.app.state.engine.connect() as conn:  # type: ignore[attr-defined]
            return {table.name: sorted((tuple(row) for row in conn.execute(table.select())), key=repr)
                    for table in Base.metadata.sorted_tables}

    def send(self, endpoint: str, *, headers: dict[str, str] | None = None, **kwargs: Any):  # type: ignore[no-untyped-def]
        method, path = ENDPOINTS[endpoint]
        return self.api.client.request(method, path.format(case_id=self.case_id), headers=headers or self.api.service,
                                       **kwargs)


ENDPOINTS = {
    "put_order": ("PUT", f"/api/v1/orders/{ORDER}"),
    "eligibility": ("POST", "/api/v1/eligibility"),
    "file_case": ("POST", "/api/v1/cases"),
    "materials": ("POST", "/api/v1/cases/{case_id}/materials"),
    "transition": ("POST", "/api/v1/cases/{case_id}/transitions"),
}
ALL = list(ENDPOINTS)
REQUESTS = ["eligibility", "file_case"]


@pytest.fixture
def world(api: Api) -> Iterator[World]:
    api.order()
    api.order(FOREIGN_ORDER, buyer_id="b_2002")
    api.order(CANCELLED_ORDER, status="cancelled")
    api.order(FRESH_ORDER)
    filed = api.file()
    assert filed.status_code == 201, filed.text
    yield World(api, filed.json()["case_id"])


def order_body(api: Api, **overrides: Any) -> dict[str, Any]:
    """The body api.order() sends for ORDER: delivered 3 days ago, one pair of shoes at 299.00."""
    now = api.clock.now
    body: dict[str, Any] = {
        "order_id": ORDER, "buyer_id": "b_1001", "status": "delivered",
        "paid_at": (now - timedelta(days=6)).isoformat(), "shipped_at": (now - timedelta(days=5)).isoformat(),
        "delivered_at": (now - timedelta(days=3)).isoformat(), "shipping_fee": "10.00", "discount_total": "20.00",
        "items": [item()],
    }
    body.update(overrides)
    return body


def item(**overrides: Any) -> dict[str, Any]:
    return {"item_id": "1", "sku": "SHOE-42", "title": "男士跑步鞋 黑色 42码", "category": "shoes", "quantity": 1,
            "unit_price": "299.00", "flags": ["functional"], "warranty_days": 0, **overrides}


def valid_body(world: World, endpoint: str) -> dict[str, Any]:
    return {
        "put_order": order_body(world.api),
        "eligibility": world.api.request(),
        "file_case": world.api.request(order_id=FRESH_ORDER, reason="no_reason", remedy="return_refund"),
        "materials": {"materials": [{"code": "description", "text": "鞋底开胶了"}]},
        "transition": {"action": "note", "reason": "已联系买家"},
    }[endpoint]


def refused(response: Any, status: int, detail: str, field: list[str] | None = None,
            message: str | None = None) -> None:
    """The status, the exact Chinese detail, and (for validation errors) the field named in `errors`."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["detail"] == detail, body
    if field is not None:
        locs = [e["loc"] for e in body["errors"]]
        assert field in locs, locs
        if message is not None:
            assert any(message in e["msg"] for e in body["errors"] if e["loc"] == field), body["errors"]


def has_chinese(text: str) -> bool:
    return any("\u4e00" <= c <= "\u9fff" for c in text)


JSON = {"Content-Type": "application/json"}


# ---------------------------------------------------------------- not JSON, or not an object


@pytest.mark.parametrize("endpoint", ALL)
@pytest.mark.parametrize("raw", [b'{"order_id": ', b"{'order_id': '2026111812345678'}", b'{"a": 1,}',
                                 b'{"a": 1} {"b": 2}', b"{order_id: 1}", b'{"a": "unterminated}'],
                         ids=["cut_off", "single_quotes", "trailing_comma", "two_documents", "bare_key", "open_string"])
def test_malformed_json_is_refused_with_422_and_changes_nothing(world: World, endpoint: str, raw: bytes) -> None:
    before = world.state()
    response = world.send(endpoint, content=raw, headers={**world.api.service, **JSON})
    assert response.status_code == 422, response.text
    assert response.json() == {"detail": BAD_JSON}
    assert world.state() == before


@pytest.mark.parametrize("endpoint", ALL)
@pytest.mark.parametrize("raw", [b'{"order_id": "\xff\xfe\xfd"}', b'{"quantity": ' + b"9" * 5000 + b"}",
                                 b"[" * 50_000 + b"]" * 50_000],
                         ids=["invalid_utf8", "5000_digit_number", "nested_50000_deep"])
def test_json_the_parser_cannot_read_is_refused_as_invalid_json_in_chinese(
        world: World, endpoint: str, raw: bytes) -> None:
    before = world.state()
    response = world.send(endpoint, content=raw, headers={**world.api.service, **JSON})
    assert response.status_code == 422, response.text
    assert response.json() == {"detail": BAD_JSON}
    assert world.state() == before


@pytest.mark.parametrize("endpoint", ALL)
@pytest.mark.parametrize("payload", [[{"order_id": ORDER}], "a string", 42, None, True],
                         ids=["list", "string", "number", "null", "boolean"])
def test_json_that_is_not_an_object_is_refused_and_changes_nothing(world: World, endpoint: str, payload: Any) -> None:
    before = world.state()
    response = world.send(endpoint, json=payload)
    refused(response, 422, INVALID, ["body"])
    assert world.state() == before


@pytest.mark.parametrize("endpoint", ALL)
def test_a_valid_body_sent_as_plain_text_is_refused(world: World, endpoint: str) -> None:
    before = world.state()
    response = world.send(endpoint, content=json.dumps(valid_body(world, endpoint)).encode(),
                          headers={**world.api.service, "Content-Type": "text/plain"})
    refused(response, 422, INVALID, ["body"])
    assert world.state() == before


# ---------------------------------------------------------------- unknown enum values and fields


@pytest.mark.parametrize("endpoint", REQUESTS)
@pytest.mark.parametrize(("overrides", "field"), [
    ({"reason": "broken"}, ["body", "reason"]),
    ({"remedy": "free_money"}, ["body", "remedy"]),
    ({"materials": [{"code": "selfie", "text": "x"}]}, ["body", "materials", "0", "code"]),
    ({"reason": "QUALITY"}, ["body", "reason"]),
    ({"reason": ""}, ["body", "reason"]),
], ids=["reason", "remedy", "material_code", "reason_upper_case", "reason_empty"])
def test_an_unknown_reason_remedy_or_material_code_is_refused_naming_the_field(
        world: World, endpoint: str, overrides: dict[str, Any], field: list[str]) -> None:
    before = world.state()
    refused(world.send(endpoint, json=world.api.request(**overrides)), 422, INVALID, field)
    assert world.state() == before


@pytest.mark.parametrize(("overrides", "field"), [
    ({"status": "lost"}, ["body", "status"]),
    ({"items": [item(flags=["free_money"])]}, ["body", "items", "0", "flags", "0"]),
    ({"items": [item(flags="functional")]}, ["body", "items", "0", "flags"]),
], ids=["order_status", "item_flag", "flags_not_a_list"])
def test_an_unknown_order_status_or_item_flag_is_refused_naming_the_field(
        world: World, overrides: dict[str, Any], field: list[str]) -> None:
    before = world.state()
    refused(world.send("put_order", json=order_body(world.api, **overrides)), 422, INVALID, field)
    assert world.state() == before


@pytest.mark.parametrize(("body", "field"), [
    ({"materials": [{"code": "selfie", "text": "x"}]}, ["body", "materials", "0", "code"]),
    ({"materials": []}, ["body", "materials"]),
    ({"materials": [{"code": "description", "text": "x"}] * 21}, ["body", "materials"]),
    ({"materials": [{"code": "defect_photo", "upload_id": "../../etc/passwd"}]}, ["body", "materials", "0", "upload_id"]),
    ({"materials": [{"code": "description", "text": "x" * 2001}]}, ["body", "materials", "0", "text"]),
], ids=["unknown_code", "empty_list", "too_many", "upload_id_format", "text_too_long"])
def test_bad_materials_are_refused_naming_the_field(world: World, body: dict[str, Any], field: list[str]) -> None:
    before = world.state()
    refused(world.send("materials", json=body), 422, INVALID, field)
    assert world.state() == before


@pytest.mark.parametrize(("body", "field"), [
    ({"action": "teleport"}, ["body", "action"]),
    ({"action": "change_remedy", "remedy": "free_money"}, ["body", "remedy"]),
    ({"action": "approve", "actor_role": "god"}, ["body", "actor_role"]),
    ({"action": "approve", "actor_role": "system"}, ["body", "actor_role"]),
    ({"reason": "no action"}, ["body", "action"]),
    ({"action": "note", "reason": "x" * 501}, ["body", "reason"]),
], ids=["action", "remedy", "actor_role", "actor_role_system", "missing_action", "reason_too_long"])
def test_bad_transitions_are_refused_naming_the_field(world: World, body: dict[str, Any], field: list[str]) -> None:
    before = world.state()
    refused(world.send("transition", json=body), 422, INVALID, field)
    assert world.state() == before


@pytest.mark.parametrize(("action", "status", "wording"), [
    ("file", 422, "不能直接调用"),
    ("materials_complete", 422, "不能直接调用"),
    ("proceed", 422, "不能直接调用"),
    ("timeout", 403, "您无权执行“超时关闭”操作"),
    ("remind", 403, "您无权执行“已提醒补充凭证”操作"),
    ("escalate", 403, "您无权执行“已升级至平台客服”操作"),
    ("flag_overdue", 403, "您无权执行“商家处理超时”操作"),
])
def test_system_only_actions_cannot_be_called_through_the_api(
        world: World, action: str, status: int, wording: str) -> None:
    before = world.state()
    for headers in (world.api.service, world.api.buyer()):
        response = world.send("transition", json={"action": action, "reason": "试试看"}, headers=headers)
        assert response.status_code == status, response.text
        assert wording in response.json()["detail"], response.json()
        assert world.state() == before


@pytest.mark.parametrize("endpoint", ALL)
def test_an_unknown_top_level_field_is_refused_naming_it(world: World, endpoint: str) -> None:
    before = world.state()
    body = {**valid_body(world, endpoint), "is_admin": True}
    refused(world.send(endpoint, json=body), 422, INVALID, ["body", "is_admin"])
    assert world.state() == before


@pytest.mark.parametrize(("endpoint", "body", "field"), [
    ("put_order", lambda w: order_body(w.api, items=[item(cost_price="1.00")]), ["body", "items", "0", "cost_price"]),
    ("file_case", lambda w: w.api.request(materials=[{"code": "description", "text": "x", "path": "/etc/passwd"}]),
     ["body", "materials", "0", "path"]),
    ("materials", lambda w: {"materials": [{"code": "description", "text": "x", "verified": True}]},
     ["body", "materials", "0", "verified"]),
    ("transition", lambda w: {"action": "note", "reason": "x", "status": "completed"}, ["body", "status"]),
    ("file_case", lambda w: w.api.request(status="approved", refund_amount="9999.00"), ["body", "status"]),
], ids=["order_item_field", "material_field", "materials_field", "transition_status", "case_status"])
def test_an_unknown_nested_field_or_an_attempt_to_set_the_status_is_refused(
        world: World, endpoint: str, body: Any, field: list[str]) -> None:
    before = world.state()
    refused(world.send(endpoint, json=body(world)), 422, INVALID, field)
    assert world.state() == before


# ---------------------------------------------------------------- money


MONEY_NOT_A_STRING = "金额须为字符串形式的数字"
MONEY_RANGE = "金额须在 0 到 10000000.00 之间"
MONEY_DECIMALS = "金额最多两位小数"
MONEY_FORMAT = "金额格式不正确"


@pytest.mark.parametrize(("value", "message"), [
    (299.0, MONEY_NOT_A_STRING), (299.5, MONEY_NOT_A_STRING), (True, MONEY_NOT_A_STRING), (None, MONEY_NOT_A_STRING),
    ({"amount": "299.00"}, MONEY_NOT_A_STRING), (["299.00"], MONEY_NOT_A_STRING),
    ("-1.00", MONEY_RANGE), (-1, MONEY_RANGE), ("-0.01", MONEY_RANGE),
    ("299.001", MONEY_DECIMALS), ("0.005", MONEY_DECIMALS),
    ("10000000.01", MONEY_RANGE), ("99999999999999999999.00", MONEY_RANGE), (10**30, MONEY_RANGE),
    ("1e400", MONEY_RANGE), ("NaN", MONEY_RANGE), ("Infinity", MONEY_RANGE), ("-Infinity", MONEY_RANGE),
    ("abc", MONEY_FORMAT), ("", MONEY_FORMAT), ("299,00", MONEY_FORMAT), ("¥299", MONEY_FORMAT), ("0x10", MONEY_FORMAT),
], ids=lambda v: repr(v)[:30])
def test_money_that_is_a_float_negative_too_precise_too_large_or_not_a_number_is_refused(
        world: World, value: Any, message: str) -> None:
    before = world.state()
    response = world.send("put_order", json=order_body(world.api, items=[item(unit_price=value)]))
    refused(response, 422, INVALID, ["body", "items", "0", "unit_price"], message)
    assert world.state() == before


@pytest.mark.parametrize("field", ["shipping_fee", "discount_total"])
@pytest.mark.parametrize(("value", "message"), [(10.0, MONEY_NOT_A_STRING), ("-5.00", MONEY_RANGE),
                                                ("1.234", MONEY_DECIMALS), ("10000000.01", MONEY_RANGE)])
def test_order_level_money_is_checked_the_same_way(world: World, field: str, value: Any, message: str) -> None:
    before = world.state()
    refused(world.send("put_order", json=order_body(world.api, **{field: value})), 422, INVALID, ["body", field], message)
    assert world.state() == before


@pytest.mark.parametrize("value", ["1_000.00", "１２３.００", "١٢٣.٠٠"], ids=["underscore", "full_width", "arabic_indic"])
def test_money_in_a_notation_other_than_plain_ascii_digits_is_refused(world: World, value: str) -> None:
    before = world.state()
    response = world.send("put_order", json=order_body(world.api, items=[item(unit_price=value)]))
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == INVALID
    assert world.state() == before


def test_money_with_at_most_two_decimals_and_an_integer_are_accepted_as_exact_amounts(world: World) -> None:
    response = world.send("put_order", json=order_body(world.api, shipping_fee=10, discount_total="20.5",
                                                        items=[item(unit_price="10000000.00")]))
    assert response.status_code == 200, response.text
    assert (response.json()["shipping_fee"], response.json()["discount_total"]) == ("10.00", "20.50")
    assert response.json()["items"][0]["unit_price"] == "10000000.00"


def test_an_order_whose_total_money_cannot_hold_is_refused_and_not_stored(world: World) -> None:
    """10000 units at the largest unit price: 100 billion, beyond every amount the API can express."""
    before = world.state()
    body = order_body(world.api, order_id="2026111800000001", items=[item(unit_price="10000000.00", quantity=10000)])
    response = world.api.client.put("/api/v1/orders/2026111800000001", json=body, headers=world.api.service)
    assert response.status_code == 422, response.text
    assert has_chinese(response.json()["detail"])
    assert world.state() == before
    assert world.api.client.get("/api/v1/orders/2026111800000001", headers=world.api.service).json() == ORDER_NOT_FOUND


@pytest.mark.parametrize(("value", "message"), [(100.0, MONEY_NOT_A_STRING), ("-1.00", MONEY_RANGE),
                                                ("1.001", MONEY_DECIMALS), ("10000000.01", MONEY_RANGE)])
def test_a_refund_amount_on_a_transition_is_checked_like_all_money(world: World, value: Any, message: str) -> None:
    before = world.state()
    response = world.send("transition", json={"action": "approve", "refund_amount": value})
    refused(response, 422, INVALID, ["body", "refund_amount"], message)
    assert world.state() == before


def test_a_discount_larger_than_the_order_total_is_refused(world: World) -> None:
    before = world.state()
    response = world.send("put_order", json=order_body(world.api, discount_total="299.01"))
    refused(response, 422, INVALID, ["body"], "优惠金额不能超过商品总额")
    assert world.state() == before
    assert world.send("put_order", json=order_body(world.api, discount_total="299.00")).status_code == 200


# ---------------------------------------------------------------- times and order consistency


@pytest.mark.parametrize("field", ["paid_at", "shipped_at", "delivered_at", "promised_delivery_by",
                                   "last_logistics_event_at"])
@pytest.mark.parametrize("value", ["2026-11-18T10:00:00", "2026-11-18 10:00:00", "2026-11-18"],
                         ids=["naive", "naive_with_space", "date_only"])
def test_a_time_without_an_offset_is_refused_naming_the_field(world: World, field: str, value: str) -> None:
    before = world.state()
    response = world.send("put_order", json=order_body(world.api, **{field: value}))
    refused(response, 422, INVALID, ["body", field], "时间须带时区")
    assert world.state() == before


@pytest.mark.parametrize("value", ["yesterday", "2026-02-30T10:00:00+08:00", "2026-11-18T25:00:00+08:00", ""])
def test_a_time_that_is_not_a_time_is_refused_naming_the_field(world: World, value: str) -> None:
    before = world.state()
    refused(world.send("put_order", json=order_body(world.api, delivered_at=value)), 422, INVALID,
            ["body", "delivered_at"])
    assert world.state() == before


@pytest.mark.parametrize(("overrides", "message"), [
    ({"delivered_at": None}, "已签收的订单需要 delivered_at"),
    ({"shipped_at": None}, "已发货的订单需要 shipped_at"),
    ({"status": "shipped"}, "未签收的订单不能有 delivered_at"),
    ({"status": "paid", "shipped_at": None}, "未签收的订单不能有 delivered_at"),
    ({"delivered_at": "2026-11-01T10:00:00+08:00"}, "delivered_at 不能早于 shipped_at"),
    ({"items": [item(), item(sku="OTHER")]}, "订单中的 item_id 不能重复"),
], ids=["delivered_without_delivered_at", "delivered_without_shipped_at", "shipped_with_delivered_at",
        "paid_with_delivered_at", "delivered_before_shipped", "duplicate_item_ids"])
def test_an_inconsistent_order_is_refused_and_the_stored_order_is_unchanged(
        world: World, overrides: dict[str, Any], message: str) -> None:
    before = world.state()
    response = world.send("put_order", json=order_body(world.api, **overrides))
    refused(response, 422, INVALID, ["body"], message)
    assert world.state() == before


@pytest.mark.parametrize(("items", "field"), [
    ([], ["body", "items"]),
    ([item(quantity=0)], ["body", "items", "0", "quantity"]),
    ([item(quantity=-1)], ["body", "items", "0", "quantity"]),
    ([item(quantity=1.5)], ["body", "items", "0", "quantity"]),
    ([item(quantity=10001)], ["body", "items", "0", "quantity"]),
    ([item(title="")], ["body", "items", "0", "title"]),
    ([item(warranty_days=-1)], ["body", "items", "0", "warranty_days"]),
], ids=["no_items", "quantity_0", "quantity_negative", "quantity_fraction", "quantity_huge", "empty_title",
        "negative_warranty"])
def test_bad_order_lines_are_refused_naming_the_field(world: World, items: list[Any], field: list[str]) -> None:
    before = world.state()
    refused(world.send("put_order", json=order_body(world.api, items=items)), 422, INVALID, field)
    assert world.state() == before


# ---------------------------------------------------------------- ids


@pytest.mark.parametrize("order_id", ["202611181234567", "20261118123456789", "202611181234567a", "2026-11-18-1234",
                                      "0", "2026111812345678%20OR%201=1"])
def test_an_order_id_path_that_is_not_16_digits_is_refused(world: World, order_id: str) -> None:
    before = world.state()
    response = world.api.client.put(f"/api/v1/orders/{order_id}", json=order_body(world.api, order_id=order_id),
                                    headers=world.api.service)
    refused(response, 422, INVALID, ["path", "order_id"])
    assert world.state() == before


@pytest.mark.parametrize("endpoint", REQUESTS)
@pytest.mark.parametrize("order_id", ["202611181234567", "20261118123456789", "ORDER-1", 2026111812345678])
def test_an_order_id_in_a_request_that_is_not_16_digits_is_refused(world: World, endpoint: str, order_id: Any) -> None:
    before = world.state()
    refused(world.send(endpoint, json=world.api.request(order_id=order_id)), 422, INVALID, ["body", "order_id"])
    assert world.state() == before


def test_an_order_body_for_another_order_id_than_the_path_is_refused(world: World) -> None:
    before = world.state()
    response = world.send("put_order", json=order_body(world.api, order_id=FOREIGN_ORDER))
    assert response.status_code == 422
    assert response.json() == {"detail": "路径中的订单号与请求体中的 order_id 不一致"}
    assert world.state() == before


def test_an_order_id_in_full_width_digits_is_refused_as_not_16_digits(world: World) -> None:
    before = world.state()
    full_width = "２０２６１１１８１２３４５６７８"
    response = world.api.client.put(f"/api/v1/orders/{full_width}", json=order_body(world.api, order_id=full_width),
                                    headers=world.api.service)
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == INVALID
    assert world.state() == before


@pytest.mark.parametrize("endpoint", ["materials", "transition"])
@pytest.mark.parametrize("case_id", ["AS123456789", "AS123456789012345", "as2611200123", "AS2611200123X", "2611200123",
                                     "AS%202611200123", "AS2611200123'%20OR%20'1'='1", "AS２６１１２００１２３"],
                         ids=["9_digits", "15_digits", "lower_case", "trailing_letter", "no_prefix", "space", "sql",
                              "full_width_digits"])
def test_a_case_id_that_is_not_as_and_10_to_14_digits_is_refused(world: World, endpoint: str, case_id: str) -> None:
    before = world.state()
    body = valid_body(world, endpoint)
    response = world.api.client.post(ENDPOINTS[endpoint][1].format(case_id=case_id), json=body,
                                     headers=world.api.service)
    refused(response, 422, INVALID, ["path", "case_id"])
    assert world.state() == before


@pytest.mark.parametrize("endpoint", ["materials", "transition"])
def test_a_well_formed_but_unknown_case_id_gets_404(world: World, endpoint: str) -> None:
    before = world.state()
    response = world.api.client.post(ENDPOINTS[endpoint][1].format(case_id="AS261120999999"),
                                     json=valid_body(world, endpoint), headers=world.api.service)
    assert response.status_code == 404
    assert response.json() == CASE_NOT_FOUND
    assert world.state() == before


# ---------------------------------------------------------------- quantities, orders and items that do not fit


@pytest.mark.parametrize("endpoint", REQUESTS)
@pytest.mark.parametrize("quantity", [0, -1, 1.5, 10001, "lots"])
def test_a_quantity_that_is_not_a_positive_whole_number_is_refused_naming_it(
        world: World, endpoint: str, quantity: Any) -> None:
    before = world.state()
    response = world.send(endpoint, json=world.api.request(order_id=FRESH_ORDER, quantity=quantity))
    refused(response, 422, INVALID, ["body", "quantity"])
    assert world.state() == before


@pytest.mark.parametrize("endpoint", REQUESTS)
def test_a_quantity_larger_than_was_bought_is_refused(world: World, endpoint: str) -> None:
    before = world.state()
    response = world.send(endpoint, json=world.api.request(order_id=FRESH_ORDER, quantity=2))
    assert response.status_code == 422
    assert response.json() == {"detail": MSG_QUANTITY_TOO_LARGE.format(of_units=1)}
    assert has_chinese(response.json()["detail"]) and "1件" in response.json()["detail"]
    assert world.state() == before


@pytest.mark.parametrize("endpoint", REQUESTS)
def test_an_unknown_order_gets_404(world: World, endpoint: str) -> None:
    before = world.state()
    response = world.send(endpoint, json=world.api.request(order_id=UNKNOWN_ORDER), headers=world.api.buyer())
    assert response.status_code == 404
    assert response.json() == ORDER_NOT_FOUND
    assert world.state() == before


@pytest.mark.parametrize("endpoint", REQUESTS)
@pytest.mark.parametrize("item_id", ["99", "2", "1.0"])
def test_an_item_the_order_does_not_have_gets_404(world: World, endpoint: str, item_id: str) -> None:
    before = world.state()
    response = world.send(endpoint, json=world.api.request(order_id=FOREIGN_ORDER, buyer_id="b_2002", item_id=item_id),
                          headers=world.api.buyer("b_2002"))
    assert response.status_code == 404
    assert response.json() == ITEM_NOT_FOUND
    assert world.state() == before


@pytest.mark.parametrize("endpoint", REQUESTS)
def test_a_cancelled_order_is_refused_with_the_chinese_explanation(world: World, endpoint: str) -> None:
    before = world.state()
    response = world.send(endpoint, json=world.api.request(order_id=CANCELLED_ORDER), headers=world.api.buyer())
    assert response.status_code == 422
    assert response.json() == ORDER_CANCELLED
    assert world.state() == before


@pytest.mark.parametrize("endpoint", REQUESTS)
@pytest.mark.parametrize("who", ["buyer_naming_self", "buyer_naming_owner", "service_naming_wrong_buyer"])
def test_another_buyers_order_gets_the_same_404_as_an_unknown_one(world: World, endpoint: str, who: str) -> None:
    api = world.api
    headers, buyer_id = {
        "buyer_naming_self": (api.buyer("b_1001"), "b_1001"),
        "buyer_naming_owner": (api.buyer("b_1001"), "b_2002"),
        "service_naming_wrong_buyer": (api.service, "b_1001"),
    }[who]
    before = world.state()
    foreign = world.send(endpoint, json=api.request(order_id=FOREIGN_ORDER, buyer_id=buyer_id), headers=headers)
    unknown = world.send(endpoint, json=api.request(order_id=UNKNOWN_ORDER, buyer_id=buyer_id), headers=headers)
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json() == unknown.json() == ORDER_NOT_FOUND
    assert world.state() == before


# ---------------------------------------------------------------- hostile strings


@pytest.mark.parametrize("endpoint", REQUESTS)
@pytest.mark.parametrize("field", ["buyer_id", "item_id"])
@pytest.mark.parametrize("value", SQL_STRINGS + XSS_STRINGS[:2] + ["b 1001", "", "x" * 65])
def test_sql_or_markup_in_an_id_is_refused_by_its_pattern(world: World, endpoint: str, field: str, value: str) -> None:
    before = world.state()
    refused(world.send(endpoint, json=world.api.request(**{field: value})), 422, INVALID, ["body", field])
    assert world.state() == before
    assert world.api.client.get("/api/v1/cases", headers=world.api.service).json()["total"] == 1


@pytest.mark.parametrize("value", SQL_STRINGS[:2] + XSS_STRINGS[:1])
def test_sql_or_markup_in_the_ids_of_an_order_is_refused_by_their_patterns(world: World, value: str) -> None:
    before = world.state()
    refused(world.send("put_order", json=order_body(world.api, buyer_id=value)), 422, INVALID, ["body", "buyer_id"])
    refused(world.send("put_order", json=order_body(world.api, items=[item(item_id=value)])), 422, INVALID,
            ["body", "items", "0", "item_id"])
    assert world.state() == before


@pytest.mark.parametrize("value", SQL_STRINGS[:2] + XSS_STRINGS[:1])
def test_sql_or_markup_in_query_and_path_ids_is_refused(world: World, value: str) -> None:
    api = world.api
    refused(api.client.get("/api/v1/cases", params={"buyer_id": value}, headers=api.service), 422, INVALID,
            ["query", "buyer_id"])
    refused(api.client.get("/api/v1/cases", params={"order_id": value}, headers=api.service), 422, INVALID,
            ["query", "order_id"])
    refused(api.client.get("/api/v1/cases", params={"status": value}, headers=api.service), 422, INVALID,
            ["query", "status", "0"])
    response = api.client.get(f"/api/v1/buyers/{value}/orders", headers=api.service)
    assert response.status_code in (404, 422), response.text  # a "/" in the value may make it another path
    assert has_chinese(response.json()["detail"])
    assert api.client.get("/api/v1/cases", headers=api.service).json()["total"] == 1


@pytest.mark.parametrize("text", SQL_STRINGS + XSS_STRINGS + ["多行\n文本\t和制表符", "emoji 👟💧", "\\x00 is not a NUL"])
def test_sql_or_markup_in_a_description_is_stored_verbatim_as_text_and_returned_unchanged(
        world: World, text: str) -> None:
    api = world.api
    response = api.materials(world.case_id, [{"code": "description", "text": text}])
    assert response.status_code == 200, response.text
    assert [m["text"] for m in response.json()["materials"]] == [text]
    assert [m["text"] for m in api.case(world.case_id)["materials"]] == [text]
    # the tables are all still there and answer
    assert api.client.get("/api/v1/cases", headers=api.service).json()["total"] == 1
    assert len(api.case(world.case_id)["events"]) == 1
    assert api.client.get(f"/api/v1/orders/{ORDER}", headers=api.service).status_code == 200


@pytest.mark.parametrize("text", SQL_STRINGS + XSS_STRINGS)
def test_sql_or_markup_in_a_transition_reason_is_stored_verbatim_and_returned_unchanged(
        world: World, text: str) -> None:
    api = world.api
    response = api.act(world.case_id, "note", reason=text)
    assert response.status_code == 200, response.text
    assert response.json()["events"][-1]["reason"] == text
    assert api.case(world.case_id)["events"][-1]["reason"] == text
    assert api.case(world.case_id)["status"] == "awaiting_materials"
    progress = api.client.get(f"/api/v1/cases/{world.case_id}/progress", headers=api.buyer())
    assert progress.status_code == 200
    assert api.client.get("/api/v1/cases", headers=api.service).json()["total"] == 1


@pytest.mark.parametrize("text", SQL_STRINGS[:1] + XSS_STRINGS[:2])
def test_sql_or_markup_in_an_order_title_is_stored_verbatim(world: World, text: str) -> None:
    response = world.send("put_order", json=order_body(world.api, items=[item(title=text, sku=text[:64])]))
    assert response.status_code == 200, response.text
    stored = world.api.client.get(f"/api/v1/orders/{ORDER}", headers=world.api.service).json()["items"][0]
    assert (stored["title"], stored["sku"]) == (text, text[:64])
    assert world.api.case(world.case_id)["item_title"] == text


@pytest.mark.parametrize("where", ["description", "reason", "title"])
def test_a_nul_character_in_free_text_is_refused_or_stored_never_a_500(world: World, where: str) -> None:
    api = world.api
    text = "鞋底\x00开胶"
    before = world.state()
    if where == "description":
        response = api.materials(world.case_id, [{"code": "description", "text": text}])
        stored = lambda: api.case(world.case_id)["materials"][-1]["text"]  # noqa: E731
    elif where == "reason":
        response = api.act(world.case_id, "note", reason=text)
        stored = lambda: api.case(world.case_id)["events"][-1]["reason"]  # noqa: E731
    else:
        response = world.send("put_order", json=order_body(api, items=[item(title=text)]))
        stored = lambda: api.client.get(f"/api/v1/orders/{ORDER}", headers=api.service).json()["items"][0]["title"]  # noqa: E731
    assert response.status_code in (200, 422), response.text
    if response.status_code == 422:
        assert has_chinese(response.json()["detail"])
        assert world.state() == before
    else:
        assert stored() == text


# ---------------------------------------------------------------- size limits


@pytest.mark.parametrize("endpoint", ALL)
def test_a_body_over_the_json_limit_is_refused_with_413_before_it_is_read(world: World, endpoint: str) -> None:
    limit = world.api.settings.max_json_bytes
    assert limit == 256 * 1024
    body = valid_body(world, endpoint)
    raw = (b'{"padding": "' + b"x" * limit + b'", ' + json.dumps(body).encode()[1:])
    assert len(raw) > limit
    before = world.state()
    response = world.send(endpoint, content=raw, headers={**world.api.service, **JSON})
    assert response.status_code == 413
    assert response.json() == {"detail": TOO_LARGE}
    assert world.state() == before


def test_a_body_just_under_the_json_limit_is_read_and_judged_on_its_content(world: World) -> None:
    limit = world.api.settings.max_json_bytes
    text = "x" * (limit - 200)
    raw = ('{"materials": [{"code": "description", "text": "' + text + '"}]}').encode()
    assert len(raw) <= limit
    before = world.state()
    response = world.send("materials", content=raw, headers={**world.api.service, **JSON})
    refused(response, 422, INVALID, ["body", "materials", "0", "text"])
    assert world.state() == before


def test_a_chunked_body_over_the_json_limit_without_content_length_is_refused_with_413(world: World) -> None:
    limit = world.api.settings.max_json_bytes

    def chunks() -> Iterator[bytes]:
        yield b'{"materials": [{"code": "description", "text": "'
        for _ in range(limit // 1024 + 16):
            yield b"x" * 1024
        yield b'"}]}'

    before = world.state()
    response = world.send("materials", content=chunks(), headers={**world.api.service, **JSON})
    assert response.status_code == 413, response.text
    assert response.json() == {"detail": TOO_LARGE}
    assert world.state() == before


# ---------------------------------------------------------------- Idempotency-Key


@pytest.mark.parametrize("key", [b"chat 42 turn 7", b"x" * 129, b"x" * 200, "键-1".encode(), b"tab\there", b"a,b c"],
                         ids=["spaces", "129_chars", "200_chars", "non_ascii", "tab", "comma_space"])
def test_an_idempotency_key_with_spaces_or_too_long_is_refused_and_files_nothing(world: World, key: bytes) -> None:
    api = world.api
    before = world.state()
    response = world.send("file_case", json=valid_body(world, "file_case"),
                          headers={**api.buyer(), "Idempotency-Key": key})  # type: ignore[dict-item]
    refused(response, 422, INVALID, ["header", "Idempotency-Key"])
    assert world.state() == before


def test_an_idempotency_key_of_128_visible_characters_is_accepted(world: World) -> None:
    api = world.api
    key = "k-" + "x" * 120 + "';--!~"
    assert len(key) == 128
    headers = {**api.buyer(), "Idempotency-Key": key}
    first = api.file(headers=headers, order_id=FRESH_ORDER)
    again = api.file(headers=headers, order_id=FRESH_ORDER)
    assert (first.status_code, again.status_code) == (201, 200), first.text
    assert first.json()["case_id"] == again.json()["case_id"]
