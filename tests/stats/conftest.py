"""Fixtures for the statistics tests: the shared `api` app (SQLite and PostgreSQL), a supervisor's
session, and the moves that build cases at chosen local times.

Agent passwords are hashed with cheap argon2 parameters here (as in tests/gateway): login still runs
the real code, only the hash costs less.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from argon2 import PasswordHasher

from backend import agents
from tests.support.api import TZ, Api

PASSWORD = "stats-password-2026"
_orders = itertools.count(1)


@pytest.fixture(scope="package", autouse=True)
def cheap_password_hashes() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(agents, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        yield


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A local (Asia/Shanghai) time in November 2026."""
    return datetime(2026, 11, day, hour, minute, tzinfo=TZ)


def login(api: Api, username: str, role: str) -> dict[str, str]:
    """Create the account and log in; the session cookie as headers (the shared jar stays empty)."""
    with api.client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        agents.create_agent(session, username, PASSWORD, display_name=username, role=role, now=api.clock.now)
        session.commit()
    response = api.client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    token = response.cookies["agent_session"]
    api.client.cookies.clear()
    return {"Cookie": f"agent_session={token}"}


@pytest.fixture
def boss(api: Api) -> dict[str, str]:
    return login(api, "zhang", "supervisor")


class Shop:
    """Orders and cases of many buyers (one each, so no buyer reaches the frequent-requests review)."""

    def __init__(self, api: Api) -> None:
        self.api = api

    def order(self, when: datetime, buyer: str, *, sku: str = "SHOE-42", delivered_days: int = 2) -> str:
        self.api.clock.now = when
        order_id = f"2026{next(_orders):012d}"
        self.api.order(order_id, buyer_id=buyer, delivered_days=delivered_days, items=[
            {"item_id": "1", "sku": sku, "title": f"商品 {sku}", "category": "shoes", "quantity": 1,
             "unit_price": "299.00", "flags": [], "warranty_days": 0}])
        return order_id

    def file(self, when: datetime, buyer: str, reason: str, remedy: str, materials: list[dict[str, Any]] | None = None,
             *, sku: str = "SHOE-42", order_id: str | None = None) -> dict[str, Any]:
        order_id = order_id or self.order(when, buyer, sku=sku)
        self.api.clock.now = when
        response = self.api.file(headers=self.api.buyer(buyer), order_id=order_id, buyer_id=buyer, reason=reason,
                                 remedy=remedy, materials=materials or [])
        assert response.status_code == 201, response.text
        return response.json()

    def review(self, when: datetime, buyer: str, **kw: Any) -> dict[str, Any]:
        """A request the policy sends to a person (R-OTHER): pending_review from `when`."""
        case = self.file(when, buyer, "other", "return_refund", [{"code": "description", "text": "鞋子左右两只颜色不一样"}], **kw)
        assert case["status"] == "pending_review"
        return case

    def no_reason(self, when: datetime, buyer: str, **kw: Any) -> dict[str, Any]:
        """A seven-day return, approved at once: awaiting_return."""
        case = self.file(when, buyer, "no_reason", "return_refund", [{"code": "intact_confirmation"}], **kw)
        assert case["status"] == "awaiting_return"
        return case

    def act(self, when: datetime, case_id: str, action: str, headers: dict[str, str] | None = None,
            **body: Any) -> dict[str, Any]:
        self.api.clock.now = when
        response = self.api.act(case_id, action, headers=headers, **body)
        assert response.status_code == 200, response.text
        return response.json()

    def ship_back(self, when: datetime, case_id: str, buyer: str) -> None:
        self.api.clock.now = when
        response = self.api.materials(case_id, [{"code": "return_tracking", "text": "SF1234567890123"}], buyer_id=buyer)
        assert response.status_code == 200, response.text


@pytest.fixture
def shop(api: Api) -> Shop:
    return Shop(api)
