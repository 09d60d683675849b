"""One message of a conversation at a time, from the log to the bot and back.

In one process an asyncio lock is enough. With several backend workers the same conversation can be
open in two tabs whose sockets landed on different workers, so the lock is also taken in Redis
(production mode). The Redis lock expires by itself after `hold_seconds` (a worker that died while
holding it must not block the conversation for ever); it is sized to the longest bot round trip.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
from redis.exceptions import LockError, RedisError

log = logging.getLogger("backend.gateway")


class ConversationLocks:
    def __init__(self, redis_client: aioredis.Redis | None = None, hold_seconds: float = 60.0,
                 prefix: str = "aftersales") -> None:
        self._local: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._redis, self._hold, self._prefix = redis_client, hold_seconds, f"{prefix}:conv-lock:"

    def _local_lock(self, conversation_id: str) -> asyncio.Lock:
        lock = self._local.get(conversation_id)
        if lock is None:
            lock = asyncio.Lock()
            self._local[conversation_id] = lock
        return lock

    @asynccontextmanager
    async def hold(self, conversation_id: str) -> AsyncIterator[None]:
        async with self._local_lock(conversation_id):
            if self._redis is None:
                yield
                return
            lock = self._redis.lock(self._prefix + conversation_id, timeout=self._hold,
                                    blocking_timeout=self._hold, sleep=0.02)
            try:
                acquired = await lock.acquire()
            except RedisError as exc:  # better a rare overlap than a buyer who cannot write
                log.warning("conversation lock unavailable (%s); going on without it", type(exc).__name__)
                acquired = False
            try:
                yield
            finally:
                if acquired:
                    try:
                        await lock.release()
                    except (LockError, RedisError):
                        pass  # expired meanwhile, or Redis went away: it frees itself
