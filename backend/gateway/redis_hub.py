"""The hub across several backend workers: every publish goes through Redis pub/sub, so a buyer's
socket on one worker sees the agent's reply typed into a console served by another.

Each worker keeps its subscribers local (the in-process Hub) and listens to one Redis pattern; what
it hears it delivers locally. Publishes leave through a single queue and connection, so the events of
one worker reach every worker in the order they were published (typing on → message → typing off).
Every worker reads every event: right for a handful of workers per Redis; shard the prefix beyond.

If Redis fails for a moment, events published meanwhile reach only this worker's sockets; nothing is
lost for good, because every message is in the conversation log and clients catch up by sequence
number when they reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from backend.gateway.hub import Hub

log = logging.getLogger("backend.gateway.hub")


class RedisHub(Hub):
    def __init__(self, url: str, prefix: str = "aftersales") -> None:
        super().__init__()
        self._url, self._prefix = url, f"{prefix}:hub:"
        self._loop: asyncio.AbstractEventLoop | None = None
        # (topic, event) to publish, or a future to resolve once everything before it is published
        self._outbox: asyncio.Queue[tuple[str, dict[str, Any]] | asyncio.Future[None]] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._redis: aioredis.Redis | None = None
        self.connected = False

    async def start(self, timeout: float = 5.0) -> None:
        """Subscribes before the worker takes traffic, so no event published after start-up is missed."""
        self._loop = asyncio.get_running_loop()
        self._outbox = asyncio.Queue()
        self._redis = aioredis.from_url(self._url, socket_connect_timeout=timeout, health_check_interval=30)
        subscribed = asyncio.Event()
        self._tasks = [asyncio.create_task(self._listen(subscribed)), asyncio.create_task(self._send())]
        try:
            await asyncio.wait_for(subscribed.wait(), timeout)
        except TimeoutError:
            await self.stop()
            raise RuntimeError(f"Redis at {self._url} did not answer: the gateway cannot share events") from None

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None
        self._loop = None

    def publish(self, topic: str, event: dict[str, Any]) -> None:
        loop, outbox = self._loop, self._outbox
        if loop is None or outbox is None or loop.is_closed():
            super().publish(topic, event)  # not started (tests, CLI): this process only
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            outbox.put_nowait((topic, event))
        else:  # a request thread of a sync route
            loop.call_soon_threadsafe(outbox.put_nowait, (topic, event))

    async def flush(self, timeout: float = 5.0) -> None:
        """Wait until what this worker published so far has reached Redis. The gateway calls it before
        it lets go of a conversation, so that the next message of the conversation, perhaps handled by
        another worker, cannot overtake this one's frames on their way to the other tabs."""
        loop, outbox = self._loop, self._outbox
        if loop is None or outbox is None or asyncio.get_running_loop() is not loop:
            return
        done: asyncio.Future[None] = loop.create_future()
        outbox.put_nowait(done)
        try:
            await asyncio.wait_for(done, timeout)
        except TimeoutError:
            log.warning("redis publish queue did not drain within %.0f s", timeout)

    async def _send(self) -> None:
        assert self._outbox is not None and self._redis is not None
        while True:
            item = await self._outbox.get()
            if isinstance(item, asyncio.Future):
                if not item.done():
                    item.set_result(None)
                continue
            topic, event = item
            try:
                await self._redis.publish(self._prefix + topic, json.dumps(event, ensure_ascii=False, default=str))
            except RedisError as exc:
                log.warning("redis publish failed (%s): delivering on this worker only", type(exc).__name__)
                super().publish(topic, event)

    async def _listen(self, subscribed: asyncio.Event) -> None:
        assert self._redis is not None
        delay = 0.5
        while True:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.psubscribe(self._prefix + "*")
                self.connected, delay = True, 0.5
                subscribed.set()
                async for message in pubsub.listen():
                    if message.get("type") != "pmessage":
                        continue
                    channel = message["channel"]
                    topic = (channel.decode() if isinstance(channel, bytes) else channel)[len(self._prefix):]
                    try:
                        event = json.loads(message["data"])
                    except ValueError:
                        continue
                    Hub.publish(self, topic, event)
            except RedisError as exc:
                self.connected = False
                log.warning("redis subscription lost (%s); retrying in %.1f s", type(exc).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
