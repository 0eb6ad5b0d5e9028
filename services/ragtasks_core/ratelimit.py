"""A rate limit shared by every replica: GCRA in one Redis Lua script.

Celery's own ``rate_limit`` is per worker process; ``10/m`` with three replicas would be 30/m.
Here every caller asks Redis, atomically, whether a slot is free now; if not, Redis answers
how long until one is, and nothing is consumed (so a caller that gives up loses nothing).
The script touches one key, so it runs unchanged on Redis Cluster; through Sentinel the client
(``redis_client.sync_client``) follows a failover.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import redis

from . import metrics, tracing

# GCRA (generic cell rate algorithm): one key holds the "theoretical arrival time" (TAT).
# A request is allowed when now >= TAT - burst_tolerance; then TAT = max(TAT, now) + interval.
# Time comes from Redis (TIME), so clocks of the replicas never matter.
_GCRA = """
local key = KEYS[1]
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local tat = tonumber(redis.call('GET', key) or now)
if tat < now then tat = now end
local allow_at = tat - tolerance
if now < allow_at then
  return tostring(allow_at - now)
end
local new_tat = tat + interval
redis.call('SET', key, tostring(new_tat), 'PX', math.ceil((new_tat - now + interval) * 1000))
return '0'
"""


class SharedRateLimiter:
    """``count`` requests per ``period`` seconds across every process using the same key."""

    def __init__(
        self, client: redis.Redis, key: str, *, count: float, period: float, burst: int = 1, name: str = "llm"
    ) -> None:
        if count <= 0 or period <= 0 or burst < 1:
            raise ValueError("count, period and burst must be positive")
        self._client = client
        self._key = key
        self.interval = period / count
        self._tolerance = self.interval * (burst - 1)
        self._script = client.register_script(_GCRA)
        self.name = name
        # Zero-valued series from the start, so "no waits yet" reads 0, not "no data".
        metrics.RATE_LIMITER_WAIT.labels(name)
        metrics.RATE_LIMITER_DEFERRALS.labels(name)

    def try_acquire(self) -> float:
        """Take a slot if one is free now (returns 0.0), else return the seconds until one is."""
        result = self._script(keys=[self._key], args=[self.interval, self._tolerance])
        return float(result)

    def acquire(
        self,
        max_wait: float,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> float | None:
        """Wait up to ``max_wait`` seconds for a slot.

        Returns the seconds waited when a slot was taken, or ``None`` with nothing consumed
        when none came in time (the caller should defer its work rather than hold a worker).
        The wait is a ``ragtasks.ratelimit.wait`` span (docs/tracing.md).
        """
        attributes: dict[str, str | float] = {
            "ragtasks.ratelimit.name": self.name,
            "ragtasks.ratelimit.max_wait_seconds": max_wait,
        }
        with tracing.span("ragtasks.ratelimit.wait", attributes) as span:
            waited = self._wait(max_wait, sleep, clock)
            span.set_attribute("ragtasks.ratelimit.outcome", "deferred" if waited is None else "acquired")
            if waited is not None:
                span.set_attribute("ragtasks.ratelimit.waited_seconds", round(waited, 6))
            return waited

    def _wait(self, max_wait: float, sleep: Callable[[float], None], clock: Callable[[], float]) -> float | None:
        started = clock()
        while True:
            wait = self.try_acquire()
            waited = clock() - started
            if wait <= 0:
                metrics.RATE_LIMITER_WAIT.labels(self.name).observe(waited)
                return waited
            if waited + wait > max_wait:
                metrics.RATE_LIMITER_DEFERRALS.labels(self.name).inc()
                return None
            # Sleep until the slot, plus a hair so we do not race the boundary.
            sleep(wait + 0.005)

    def seconds_until_free(self) -> float:
        """Peek: how long until a slot frees up (without taking one)."""
        tat = self._client.get(self._key)
        if tat is None:
            return 0.0
        now_s, now_us = self._client.time()
        now = now_s + now_us / 1_000_000
        return max(0.0, float(tat) - self._tolerance - now)
