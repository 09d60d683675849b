"""The real assistant for end-to-end tests (the `stack` fixture in tests/conftest.py starts it) and a
buyer's conversation with it over the REST channel."""

from __future__ import annotations

import itertools
import socket
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from stack import MODEL, Stack  # noqa: E402, F401 - MODEL: the trained model the stack fixture needs

TOKEN = "bot-test-token-0123456789abcdef"
_order_numbers = itertools.count(1)
SHOES = {"item_id": "1", "sku": "SHOE-42-BLK", "title": "男士跑步鞋 黑色 42码", "category": "shoes", "quantity": 1,
         "unit_price": "299.00", "flags": [], "warranty_days": 0}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Chat:
    """One buyer's conversation over the REST channel, as the chat gateway holds it."""

    stack: Stack
    sender: str
    buyer_id: str | None

    def say(self, text: str, attachments: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        metadata: dict[str, Any] = {"channel": "web"}
        if self.buyer_id:
            metadata["buyer_id"] = self.buyer_id
        if attachments:
            metadata["attachments"] = attachments
        response = httpx.post(f"{self.stack.rasa_url}/webhooks/rest/webhook", timeout=60,
                              json={"sender": self.sender, "message": text, "metadata": metadata})
        response.raise_for_status()
        return response.json()

    def text(self, message: str, attachments: list[dict[str, Any]] | None = None) -> str:
        return "\n".join(m.get("text", "") for m in self.say(message, attachments))

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {TOKEN}", **kwargs.pop("headers", {})}
        if self.buyer_id:
            headers["X-Buyer-Id"] = self.buyer_id
        return httpx.request(method, f"{self.stack.backend_url}/api/v1{path}", headers=headers, timeout=30, **kwargs)

    def order(self, *, status: str = "delivered", delivered_days: int = 3,
              items: list[dict[str, Any]] | None = None, **extra: Any) -> str:
        """A new order of this chat's buyer (through the order feed API); returns its id."""
        order_id = f"2026{next(_order_numbers):012d}"
        now = datetime.now(timezone.utc)
        shipped = now - timedelta(days=delivered_days + 2)
        body = {"order_id": order_id, "buyer_id": self.buyer_id, "status": status,
                "paid_at": (shipped - timedelta(days=1)).isoformat(),
                "shipped_at": shipped.isoformat() if status in ("shipped", "delivered") else None,
                "delivered_at": (now - timedelta(days=delivered_days)).isoformat() if status == "delivered" else None,
                "shipping_fee": "10.00", "discount_total": "20.00", "items": items or [SHOES], **extra}
        response = httpx.put(f"{self.stack.backend_url}/api/v1/orders/{order_id}", json=body, timeout=30,
                             headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 201, response.text
        return order_id

    def tracker(self) -> dict[str, Any]:
        return httpx.get(f"{self.stack.rasa_url}/conversations/{self.sender}/tracker", timeout=30,
                         params={"token": self.stack.rasa_token}).json()
