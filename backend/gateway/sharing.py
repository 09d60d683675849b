"""What several backend workers share through Redis in production mode: the rate limits and the
per-conversation locks (the hub's events go through the same Redis, see redis_hub.py)."""

from __future__ import annotations

import redis
import redis.asyncio as aioredis

from backend.gateway.locks import ConversationLocks
from backend.gateway.rate_limits import RedisRateLimiter
from backend.gateway.redis_hub import RedisHub


class Sharing:
    def __init__(self, url: str, hub: RedisHub, lock_seconds: float, prefix: str = "aftersales") -> None:
        # Short socket timeouts: a Redis that hangs must cost a buyer a moment, not the chat.
        self._sync = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._async = aioredis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
        self.hub = hub
        self.prefix = prefix
        self.locks = ConversationLocks(self._async, hold_seconds=lock_seconds, prefix=prefix)

    def limiter(self, name: str, limit: int, window: float) -> RedisRateLimiter:
        return RedisRateLimiter(self._sync, name, limit, window, self.prefix)

    async def start(self) -> None:
        await self.hub.start()

    async def stop(self) -> None:
        await self.hub.stop()
        await self._async.aclose()
        self._sync.close()
