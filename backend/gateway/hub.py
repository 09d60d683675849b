"""In-process publish/subscribe between the gateway's sockets and the rest of the backend.

Publishers may be request threads (sync routes) or the event loop; subscribers are asyncio queues,
so publishing hops onto each subscriber's loop. One process only: with several backend workers
the same interface is backed by a broker (issue: production mode).
"""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict
from typing import Any

QUEUE_LIMIT = 500  # a subscriber this far behind is a dead client: it is dropped, not waited for


class Subscription:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(QUEUE_LIMIT)
        self.topics: set[str] = set()

    def add(self, topic: str) -> None:
        self.hub._add(self, topic)

    def close(self) -> None:
        self.hub._remove(self)

    async def get(self) -> dict[str, Any] | None:
        return await self.queue.get()

    def _deliver(self, event: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.close()
            self.queue.get_nowait()
            self.queue.put_nowait(None)  # tells the socket to close


class Hub:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._topics: dict[str, set[Subscription]] = defaultdict(set)

    def subscribe(self, *topics: str) -> Subscription:
        sub = Subscription(self)
        for topic in topics:
            sub.add(topic)
        return sub

    def _add(self, sub: Subscription, topic: str) -> None:
        with self._lock:
            self._topics[topic].add(sub)
            sub.topics.add(topic)

    def _remove(self, sub: Subscription) -> None:
        with self._lock:
            for topic in sub.topics:
                subs = self._topics.get(topic)
                if subs is not None:
                    subs.discard(sub)
                    if not subs:
                        del self._topics[topic]
            sub.topics.clear()

    async def flush(self) -> None:
        """Delivery here is immediate; the Redis hub of several workers waits for its queue."""

    def publish(self, topic: str, event: dict[str, Any]) -> None:
        with self._lock:
            subs = list(self._topics.get(topic, ()))
        for sub in subs:
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is sub.loop:
                sub._deliver(event)
            elif not sub.loop.is_closed():
                sub.loop.call_soon_threadsafe(sub._deliver, event)


AGENTS = "agents"


def conversation_topic(conversation_id: str) -> str:
    return f"conv:{conversation_id}"


def channel_topic(channel: str) -> str:
    """Every message of every conversation of one channel (what a channel adapter delivers)."""
    return f"channel:{channel}"


def message_topics(conversation_id: str) -> tuple[str, str]:
    return conversation_topic(conversation_id), channel_topic(conversation_id.split(":", 1)[0])
