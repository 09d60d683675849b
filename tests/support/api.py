"""The test client of the case backend API: a frozen clock and the calls every API test makes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from backend.settings import Settings
from tests.support import media

TZ = ZoneInfo("Asia/Shanghai")
# A Friday in a year chinesecalendar covers, so working-day deadlines are exact.
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=TZ)
TOKEN = "test-service-token-0123456789"


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now = self.now + timedelta(**delta)


@dataclass
class Api:
    """The HTTP client plus the calls every test makes, as the service or as a buyer."""

    client: TestClient
    clock: Clock
    settings: Settings
    service: dict[str, str] = field(default_factory=lambda: {"Authorization": f"Bearer {TOKEN}"})

    def buyer(self, buyer_id: str = "b_1001") -> dict[str, str]:
        return {**self.service, "X-Buyer-Id": buyer_id}

    def order(self, order_id: str = "2026111812345678", *, buyer_id: str = "b_1001", status: str = "delivered",
              delivered_days: int | None = 3, items: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
        now = self.clock.now
        shipped_days = (delivered_days or 0) + 2
        body: dict[str, Any] = {
            "order_id": order_id, "buyer_id": buyer_id, "status": status,
            "paid_at": (now - timedelta(days=shipped_days + 1)).isoformat(),
            "shipped_at": (now - timedelta(days=shipped_days)).isoformat() if status in ("shipped", "delivered") else None,
            "delivered_at": (now - timedelta(days=delivered_days)).isoformat()
            if status == "delivered" and delivered_days is not None else None,
            "shipping_fee": "10.00", "discount_total": "20.00",
            "items": items or [{"item_id": "1", "sku": "SHOE-42", "title": "男士跑步鞋 黑色 42码", "category": "shoes",
                                "quantity": 1, "unit_price": "299.00", "flags": ["functional"], "warranty_days": 0}],
        }
        body.update(extra)
        response = self.client.put(f"/api/v1/orders/{order_id}", json=body, headers=self.service)
        assert response.status_code in (200, 201), response.text
        return response.json()

    def request(self, **overrides: Any) -> dict[str, Any]:
        body = {"order_id": "2026111812345678", "item_id": "1", "buyer_id": "b_1001", "reason": "quality",
                "remedy": "exchange"}
        body.update(overrides)
        return body

    def file(self, headers: dict[str, str] | None = None, **overrides: Any):  # type: ignore[no-untyped-def]
        return self.client.post("/api/v1/cases", json=self.request(**overrides), headers=headers or self.buyer())

    def upload(self, data: bytes | None = None, *, name: str = "photo.png", buyer_id: str = "b_1001") -> str:
        response = self.client.post("/api/v1/uploads", files={"file": (name, data or media.png(), "image/png")},
                                    headers=self.buyer(buyer_id))
        assert response.status_code == 201, response.text
        return response.json()["upload_id"]

    def materials(self, case_id: str, materials: list[dict[str, Any]], buyer_id: str = "b_1001"):  # type: ignore[no-untyped-def]
        return self.client.post(f"/api/v1/cases/{case_id}/materials", json={"materials": materials},
                                headers=self.buyer(buyer_id))

    def act(self, case_id: str, action: str, headers: dict[str, str] | None = None, **body: Any):  # type: ignore[no-untyped-def]
        return self.client.post(f"/api/v1/cases/{case_id}/transitions", json={"action": action, **body},
                                headers=headers or self.service)

    def case(self, case_id: str) -> dict[str, Any]:
        response = self.client.get(f"/api/v1/cases/{case_id}", headers=self.service)
        assert response.status_code == 200, response.text
        return response.json()

    def complete_quality_case(self) -> str:
        """File a quality exchange and supply everything: the case ends up awaiting the return."""
        photo, video = self.upload(), self.upload(media.mp4(), name="clip.mp4")
        response = self.file(materials=[
            {"code": "description", "text": "鞋底开胶了，走路进水"},
            {"code": "defect_photo", "upload_id": photo},
            {"code": "defect_video", "upload_id": video},
        ])
        assert response.status_code == 201, response.text
        return response.json()["case_id"]
