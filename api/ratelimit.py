"""Per-client rate limits of the public endpoints, counted with the `limits` library (fixed
one-minute windows).

With ``HEALTHPASS_REDIS_URL`` set the counters live in Redis, so every API worker and host
behind one proxy shares one budget per client; without it each process counts alone (N workers
then allow N × the limit). If Redis stops answering, this process counts alone until it answers
again: a rate limit never takes the API down."""
from __future__ import annotations

import asyncio
import logging
import time

from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter
from limits.errors import StorageError

from cases.settings import get_settings

log = logging.getLogger("healthpass.ratelimit")


class RateLimiter:
    def __init__(self) -> None:
        self._local = FixedWindowRateLimiter(MemoryStorage())
        # redis.asyncio clients belong to the event loop that made them (tests run several loops).
        self._shared: dict[int, tuple[asyncio.AbstractEventLoop, FixedWindowRateLimiter]] = {}
        self._items: dict[int, RateLimitItemPerMinute] = {}
        self._redis_down_until = 0.0

    def _limiter(self) -> tuple[FixedWindowRateLimiter, bool]:
        settings = get_settings()
        if not settings.redis_url or time.monotonic() < self._redis_down_until:
            return self._local, False
        loop = asyncio.get_running_loop()
        known = self._shared.get(id(loop))
        if known is None or known[0] is not loop:
            storage: Storage = RedisStorage(
                "async+" + settings.redis_url,
                implementation="redispy",
                key_prefix=f"{settings.redis_prefix}:ratelimit",
                wrap_exceptions=True,
                socket_timeout=0.5,
                socket_connect_timeout=0.5,
            )
            known = (loop, FixedWindowRateLimiter(storage))
            self._shared = {k: v for k, v in self._shared.items() if not v[0].is_closed()}
            self._shared[id(loop)] = known
        return known[1], True

    def _item(self, limit: int) -> RateLimitItemPerMinute:
        item = self._items.get(limit)
        if item is None:
            item = self._items[limit] = RateLimitItemPerMinute(limit)
        return item

    async def hit(self, *, client: str, bucket: str, limit: int) -> float | None:
        """Count one request; None when allowed, else the seconds until the window resets."""
        item = self._item(limit)
        limiter, shared = self._limiter()
        try:
            if await limiter.hit(item, bucket, client):
                return None
            reset_at, _ = await limiter.get_window_stats(item, bucket, client)
        except StorageError as exc:
            if not shared:
                raise
            log.warning("rate limits: Redis unavailable (%s); counting in this process for 30 s", exc)
            self._redis_down_until = time.monotonic() + 30
            return await self.hit(client=client, bucket=bucket, limit=limit)
        return max(reset_at - time.time(), 1.0)
