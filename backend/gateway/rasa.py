"""The gateway's client of the Rasa server: the REST channel for messages, the HTTP API to resume a
tracker that a handoff paused."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import httpx


class RasaUnavailable(Exception):
    """Rasa (or, behind it, the action server) gave no usable answer."""


class RasaUnreachable(RasaUnavailable):
    """The connection was refused: the message never reached this instance, so another may take it."""


class RasaClient:
    def __init__(self, base_url: str, token: str | None, timeout: float) -> None:
        self._client = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout)
        self._params = {"token": token} if token else {}

    async def send(self, sender: str, message: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            response = await self._client.post("/webhooks/rest/webhook",
                                                json={"sender": sender, "message": message, "metadata": metadata})
        except httpx.ConnectError as exc:
            raise RasaUnreachable(type(exc).__name__) from exc
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
        except httpx.ConnectError as exc:
            raise RasaUnreachable(type(exc).__name__) from exc
        except httpx.HTTPError as exc:
            raise RasaUnavailable(type(exc).__name__) from exc
        if response.status_code != 200:
            raise RasaUnavailable(f"HTTP {response.status_code}")

    async def aclose(self) -> None:
        await self._client.aclose()


class RasaPool:
    """Several Rasa instances sharing one tracker store and lock store (production mode).

    A conversation always goes to the same instance while it is up (the open-source RedisLockStore
    has a race between instances, so one conversation should not be spread across them); when its
    instance refuses the connection, the next one takes the message, which is safe because the
    tracker is shared. A timeout is not retried elsewhere: the first instance may still be working
    on the message, and a second delivery would answer it twice.
    """

    def __init__(self, base_urls: Sequence[str], token: str | None, timeout: float) -> None:
        if not base_urls:
            raise ValueError("at least one Rasa URL is needed")
        self.clients = [RasaClient(url, token, timeout) for url in base_urls]

    def instances_for(self, sender: str) -> list[RasaClient]:
        first = zlib.crc32(sender.encode()) % len(self.clients)
        return self.clients[first:] + self.clients[:first]

    async def send(self, sender: str, message: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        error: RasaUnavailable | None = None
        for client in self.instances_for(sender):
            try:
                return await client.send(sender, message, metadata)
            except RasaUnreachable as exc:
                error = exc
        assert error is not None
        raise error

    async def resume(self, sender: str) -> None:
        error: RasaUnavailable | None = None
        for client in self.instances_for(sender):
            try:
                return await client.resume(sender)
            except RasaUnreachable as exc:
                error = exc
        assert error is not None
        raise error

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()
