"""The alerts of seed 002 §8 around their thresholds (policy.yaml `stats.alerts`), on SQLite and
PostgreSQL: review time (average or p90 of the last 7 days above 24 h amber, 48 h red, at least 5
reviews), reviews waiting now, and a SKU's refund rate (≥ 15 %, ≥ 2× the platform, ≥ 30 orders)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from backend.policy.config import Policy
from backend.stats.alerts import sku_refund_alerts
from backend.vocab import Remedy
from tests.stats.conftest import Shop, at, login
from tests.support.api import Api


def alerts(api: Api, kind: str) -> list[dict[str, Any]]:
    boss = login(api, "zhang", "supervisor")  # a fresh session: the clock may have moved past the last one
    response = api.client.get("/api/v1/stats", headers=boss)
    assert response.status_code == 200, response.text
    return [a for a in response.json()["alerts"] if a["kind"] == kind]


def reviews(shop: Shop, hours: list[int], first: int = 0) -> None:
    """One review per entry, filed on the 14th–15th and approved after exactly that many hours."""
    for i, spent in enumerate(hours, start=first):
        case = shop.review(at(14, 8) + i * (at(14, 9) - at(14, 8)), f"b_r{i}")
        filed = at(14, 8) + i * (at(14, 9) - at(14, 8))
        shop.act(filed + spent * (at(14, 9) - at(14, 8)), case["case_id"], "approve")
    shop.api.clock.now = at(20, 10)


def test_review_time_at_24_hours_is_fine_and_above_it_amber(api: Api, shop: Shop) -> None:
    reviews(shop, [24] * 5)
    assert alerts(api, "review_time") == []  # average and p90 exactly 24 h: the standard is met

    reviews(shop, [30], first=5)  # average 25 h, p90 27 h
    [alert] = alerts(api, "review_time")
    assert (alert["level"], alert["title"], alert["value"], alert["threshold"], alert["window_days"]) == (
        "warning", "审核时长超过标准", 27.0, 24.0, 7)
    assert alert["message"] == "近7天共审核6笔，平均用时25.0小时，90%的审核在27.0小时内完成，超过24小时内完成审批的标准"


def test_review_time_above_48_hours_is_red_but_only_with_five_reviews(api: Api, shop: Shop) -> None:
    reviews(shop, [50] * 4)
    assert alerts(api, "review_time") == []  # four reviews are too few to judge
    reviews(shop, [50], first=4)
    [alert] = alerts(api, "review_time")
    assert (alert["level"], alert["title"], alert["value"], alert["threshold"]) == ("critical", "审核时长超过上限", 50.0, 48.0)
    assert alert["message"].endswith("超过48小时的最长时限")


def test_reviews_older_than_the_window_are_not_judged(api: Api, shop: Shop) -> None:
    reviews(shop, [50] * 5)
    api.clock.now = at(23, 15)  # the decisions (16th, 10:00–14:00) are more than 7 days old
    assert alerts(api, "review_time") == []


def test_a_review_waiting_more_than_24_hours_is_amber_and_more_than_48_red(api: Api, shop: Shop) -> None:
    case = shop.review(at(19, 10), "b_wait")
    api.clock.now = at(20, 10)
    assert alerts(api, "pending_review") == []  # exactly 24 h

    api.clock.now = at(20, 10, 1)
    [alert] = alerts(api, "pending_review")
    assert (alert["level"], alert["case_ids"], alert["threshold"]) == ("warning", [case["case_id"]], 24.0)
    assert alert["message"] == "1笔售后申请已等待审核超过24小时，最久已等待24小时，请尽快处理"

    api.clock.now = at(21, 10, 1)
    [alert] = alerts(api, "pending_review")
    assert (alert["level"], alert["title"]) == ("critical", "待审核申请积压")
    assert alert["message"] == "1笔售后申请已等待审核超过24小时，其中1笔超过48小时，最久已等待48小时，请尽快处理"

    api.clock.now = at(21, 11)
    shop.act(at(21, 11), case["case_id"], "approve")
    assert alerts(api, "pending_review") == []


def _shop_of_two_skus(api: Api, shop: Shop) -> list[dict[str, Any]]:
    """BAD-1: 40 orders, 6 refund requests (15 %). GOOD-1: 60 orders, none. Platform: 6 %."""
    bad = [shop.order(at(20, 9), f"b_bad{i}", sku="BAD-1") for i in range(40)]
    for i in range(60):
        shop.order(at(20, 9), f"b_good{i}", sku="GOOD-1")
    cases = [shop.no_reason(at(20, 9, 30), f"b_bad{i}", order_id=bad[i]) for i in range(6)]
    api.clock.now = at(20, 10)
    return cases


def with_sku_spec(policy: Policy, **changes: Any) -> Policy:
    alerts_spec = policy.stats.alerts
    sku = alerts_spec.sku_refund_rate.model_copy(update=changes)
    stats = policy.stats.model_copy(update={"alerts": alerts_spec.model_copy(update={"sku_refund_rate": sku})})
    return policy.model_copy(update={"stats": stats})


def test_a_sku_at_15_percent_and_twice_the_platform_rate_is_flagged(api: Api, shop: Shop) -> None:
    cases = _shop_of_two_skus(api, shop)
    [alert] = alerts(api, "sku_refund_rate")
    assert (alert["level"], alert["sku"], alert["title_of_sku"], alert["value"], alert["window_days"]) == (
        "warning", "BAD-1", "商品 BAD-1", 0.15, 30)
    assert alert["title"] == "退款率异常：商品 BAD-1"
    assert alert["message"] == ("商品 BAD-1 近30天40笔订单中6笔申请退款，退款率15.0%，平台平均6.0%（2.5倍），"
                                "请核查商品质量与描述")

    # Around each threshold, with the same data (the app's policy, one number changed).
    policy: Policy = api.client.app.state.policy  # type: ignore[attr-defined]
    with api.client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        def fired(**changes: Any) -> list[str]:
            found = sku_refund_alerts(session, with_sku_spec(policy, **changes), api.clock.now)
            return [f"{a.sku}:{a.level}" for a in found]

        assert fired() == ["BAD-1:warning"]
        assert fired(min_orders=40) == ["BAD-1:warning"] and fired(min_orders=41) == []
        assert fired(platform_multiple=Decimal("2.5")) == ["BAD-1:warning"]  # exactly 2.5 × 6 %
        assert fired(platform_multiple=Decimal("2.6")) == []
        assert fired(rate_warning=Decimal("0.16"), rate_critical=Decimal("0.3")) == []
        assert fired(rate_critical=Decimal("0.15")) == ["BAD-1:critical"]
        assert fired(refund_remedies=[Remedy.EXCHANGE]) == []  # returns for a refund only

    # A withdrawn request is no refund: 5 of 40 (12.5 %) is below 15 %.
    shop.act(at(20, 10), cases[0]["case_id"], "cancel", headers=api.buyer("b_bad0"))
    assert alerts(api, "sku_refund_rate") == []


def test_old_orders_and_requests_leave_the_window(api: Api, shop: Shop) -> None:
    _shop_of_two_skus(api, shop)
    api.clock.now = at(20, 10) + 31 * (at(21, 10) - at(20, 10))
    assert alerts(api, "sku_refund_rate") == []
