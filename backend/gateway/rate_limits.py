"""How often a buyer may send messages or upload files: in this process, or shared by every backend
worker through Redis (production mode, where one buyer's requests land on different workers)."""

from __future__ import annotations

import logging
import time
import uuid
from collections import deque
from typing import Protocol

import redis
from redis.exceptions import RedisError

log = logging.getLogger("backend.gateway")


class Limiter(Protocol):
    def allow(self, key: str) -> bool: ...


class RateLimiter:
    """At most `limit` events per `window` seconds per key (in this process)."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self._hits: dict[str, deque[float]] = {}

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return False
        hits.append(now)
        if len(self._hits) > 10_000:  # forget idle keys rather than grow without bound
            for k in [k for k, v in self._hits.items() if not v][:5000]:
                del self._hits[k]
        return True


# A sliding window in a sorted set, checked and extended atomically (two workers cannot both take the
# last slot), on Redis's clock (the workers' clocks may differ).
_SLIDING_WINDOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return 1
"""


class RedisRateLimiter:
    """The same allowance shared by all workers. A local Redis answers in well under a millisecond,
    so it is called in place, like the in-process limiter. If Redis is unreachable the buyer is let
    through (and it is logged): a limiter outage must not silence the chat."""

    def __init__(self, client: redis.Redis, name: str, limit: int, window: float, prefix: str = "aftersales") -> None:
        self.limit, self.window_ms = limit, max(1, int(window * 1000))
        self._prefix = f"{prefix}:rate:{name}:"
        self._script = client.register_script(_SLIDING_WINDOW)

    def allow(self, key: str) -> bool:
        try:
            return bool(self._script(keys=[self._prefix + key], args=[self.window_ms, self.limit, uuid.uuid4().hex]))
        except RedisError as exc:
            log.warning("rate limiter unavailable (%s): request let through", type(exc).__name__)
            return True
