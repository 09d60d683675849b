"""The gateway's client of the Rasa server: the REST channel for messages, the HTTP API to resume a
tracker that a handoff paused."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx


class RasaUnavailable(Exception):
    """Rasa (or, behind it, the action server) gave no usable answer."""


class RasaClient:
    def __init__(self, base_url: str, token: str | None, timeout: float) -> None:
        self._client = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout)
        self._params = {"token": token} if token else {}

    async def send(self, sender: str, message: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            response = await self._client.post("/webhooks/rest/webhook",
                                                json={"sender": sender, "message": message, "metadata": metadata})
        except httpx.HTTPError as exc:
            raise RasaUnavailable(type(exc).__name__) from exc
        if response.status_code != 200:
            raise RasaUnavailable(f"HTTP {response.status_code}")
        try:
            replies = response.json()
        except ValueError as exc:
            raise RasaUnavailable("not JSON") from exc
        if not isinstance(replies, list):
            raise RasaUnavailable("not a list")
        return [r for r in replies if isinstance(r, dict)]

    async def resume(self, sender: str) -> None:
        """Undo the ConversationPaused of a handoff, so the bot answers again. The paused turn ended
        without an action_listen; without one the policies see a half-finished turn and mispredict."""
        events = [{"event": "resume"}, {"event": "action", "name": "action_listen"}]
        try:
            # Rasa (Sanic) does not decode %3A in the path: an encoded colon would name another tracker.
            response = await self._client.post(f"/conversations/{quote(sender, safe=':@')}/tracker/events",
                                               params=self._params, json=events)
        except httpx.HTTPError as exc:
            raise RasaUnavailable(type(exc).__name__) from exc
        if response.status_code != 200:
            raise RasaUnavailable(f"HTTP {response.status_code}")

    async def aclose(self) -> None:
        await self._client.aclose()
