"""The one client of the case backend: URLs, auth, timeouts, retries and error shapes live here.

Blocking `requests` calls; actions run them with `asyncio.to_thread` (see `call`) so that one slow
backend call never stalls the other conversations on the action server's event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypedDict, TypeVar

import requests
from requests.adapters import HTTPAdapter

from actions.config import ActionSettings, get_settings

T = TypeVar("T")
Json = dict[str, Any]


class MissingMaterial(TypedDict):
    code: str
    label: str
    min_count: int
    have_count: int
    hint: str


class Decision(TypedDict, total=False):
    decision: str
    remedy: str | None
    allowed_remedies: list[str]
    missing_materials: list[MissingMaterial]
    rules: list[dict[str, str]]
    refund: dict[str, Any] | None
    return_shipping_paid_by: str | None
    deadlines: list[dict[str, Any]]
    existing_case_id: str | None
    existing_case_status: str | None


class BackendError(Exception):
    """The backend answered with an error; `message` is its Chinese detail, fit for the buyer."""

    def __init__(self, status: int, message: str, body: Json | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.body = status, message, body or {}


class BackendUnavailable(Exception):
    """The backend could not be reached in time."""


class BackendClient:
    def __init__(self, settings: ActionSettings | None = None) -> None:
        self.settings = settings or get_settings()
        self.http = requests.Session()
        # Retries are ours (below): only reads and idempotent writes are ever sent twice.
        self.http.mount("http://", HTTPAdapter(pool_maxsize=32))
        self.http.mount("https://", HTTPAdapter(pool_maxsize=32))
        self._cache: dict[str, tuple[float, Any]] = {}

    # ------------------------------------------------------------------ plumbing
    def _request(self, method: str, path: str, *, buyer_id: str | None = None, json: Json | None = None,
                 params: dict[str, Any] | None = None, idempotency_key: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self.settings.api_token}"}
        if buyer_id:
            headers["X-Buyer-Id"] = buyer_id
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        attempts = 1 + (self.settings.retries if idempotency_key or method == "GET" else 0)
        for attempt in range(attempts):
            try:
                response = self.http.request(method, f"{self.settings.backend_url}/api/v1{path}", headers=headers,
                                             json=json, params=params, timeout=self.settings.timeout_seconds)
            except requests.RequestException as exc:
                if attempt + 1 < attempts:
                    time.sleep(0.2 * (attempt + 1))
                    continue
                raise BackendUnavailable(str(exc)) from exc
            if response.status_code >= 500 and attempt + 1 < attempts:
                time.sleep(0.2 * (attempt + 1))
                continue
            break
        if response.status_code >= 500:
            raise BackendUnavailable(f"HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError as exc:
            raise BackendUnavailable("not JSON") from exc
        if response.status_code >= 400:
            detail = body.get("detail") if isinstance(body, dict) else None
            raise BackendError(response.status_code, detail if isinstance(detail, str) else "请求未成功", body)
        return body

    def _cached(self, key: str, ttl: float, load: Callable[[], T]) -> T:
        hit = self._cache.get(key)
        if hit and hit[0] > time.monotonic():
            return hit[1]  # type: ignore[no-any-return]
        value = load()
        self._cache[key] = (time.monotonic() + ttl, value)
        return value

    # ------------------------------------------------------------------ calls
    def buyer_orders(self, buyer_id: str, limit: int = 5) -> list[Json]:
        return self._request("GET", f"/buyers/{buyer_id}/orders", buyer_id=buyer_id, params={"limit": limit})["orders"]

    def order(self, order_id: str, buyer_id: str | None) -> Json:
        return self._request("GET", f"/orders/{order_id}", buyer_id=buyer_id)

    def eligibility(self, request: Json, buyer_id: str | None) -> Decision:
        return self._request("POST", "/eligibility", json=request, buyer_id=buyer_id)

    def file_case(self, request: Json, buyer_id: str | None, idempotency_key: str) -> Json:
        return self._request("POST", "/cases", json=request, buyer_id=buyer_id, idempotency_key=idempotency_key)

    def case(self, case_id: str, buyer_id: str | None) -> Json:
        return self._request("GET", f"/cases/{case_id}", buyer_id=buyer_id)

    def open_cases(self, buyer_id: str) -> list[Json]:
        closed = {"completed", "cancelled", "closed_timeout"}
        cases = self._request("GET", "/cases", buyer_id=buyer_id, params={"buyer_id": buyer_id, "limit": 20})["cases"]
        return [c for c in cases if c["status"] not in closed]

    def progress(self, case_id: str, buyer_id: str | None) -> Json:
        return self._request("GET", f"/cases/{case_id}/progress", buyer_id=buyer_id)

    def add_materials(self, case_id: str, materials: list[Json], buyer_id: str | None) -> Json:
        return self._request("POST", f"/cases/{case_id}/materials", json={"materials": materials}, buyer_id=buyer_id)

    def transition(self, case_id: str, action: str, buyer_id: str | None, **body: Any) -> Json:
        return self._request("POST", f"/cases/{case_id}/transitions", json={"action": action, **body},
                             buyer_id=buyer_id)

    def handoff(self, body: Json, buyer_id: str | None) -> Json:
        return self._request("POST", "/handoffs", json=body, buyer_id=buyer_id)

    def vocabulary(self) -> Json:
        return self._cached("vocabulary", 300, lambda: self._request("GET", "/policy/vocabulary"))


_client: BackendClient | None = None


def client() -> BackendClient:
    """The process-wide client (created on first use, not at import)."""
    global _client
    if _client is None:
        _client = BackendClient()
    return _client


async def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking client call off the event loop."""
    return await asyncio.to_thread(fn, *args, **kwargs)
