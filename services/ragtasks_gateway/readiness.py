"""``/readyz``'s checks, cached and over long-lived connections.

``/readyz`` is unauthenticated (kubelet calls it), so anyone can call it in a loop. One check
used to open a new broker connection and two Redis clients; now the gateway keeps one broker
connection and one Redis client per URL for its lifetime, and the result is cached for
``RAGTASKS_READINESS_CACHE_SECONDS`` behind one ``asyncio.Lock``: however many calls arrive
together, one of them runs the checks and the others read its result.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from kombu import Connection
from starlette.concurrency import run_in_threadpool

from ragtasks_core import redis_client
from ragtasks_core.celery_app import broker_reachable
from ragtasks_core.settings import Settings

CHECK_TIMEOUT_SECONDS = 3.0


class Readiness:
    def __init__(self, settings: Settings, db: Any) -> None:
        self._db = db
        self._ttl = settings.readiness_cache_seconds
        # The result backend (task state) and the Redis of the limiters and windows may be two servers.
        urls = dict.fromkeys((settings.effective_redis_url, settings.result_backend))
        self._redis = [
            redis_client.async_client(settings, u, socket_connect_timeout=CHECK_TIMEOUT_SECONDS) for u in urls
        ]
        self._broker = Connection(settings.broker_url, connect_timeout=CHECK_TIMEOUT_SECONDS)
        # The broker check runs in a thread; a timed-out one may still be running when the next starts.
        self._broker_lock = threading.Lock()
        self._lock = asyncio.Lock()
        self._result: dict[str, str] | None = None
        self._at = 0.0

    def _fresh(self) -> dict[str, str] | None:
        if self._result is not None and time.monotonic() - self._at < self._ttl:
            return self._result
        return None

    async def results(self) -> dict[str, str]:
        """``{"mongo": "ok", "redis": "error: ...", "broker": "ok"}``, at most ``ttl`` old."""
        cached = self._fresh()
        if cached is not None:
            return cached
        async with self._lock:
            cached = self._fresh()  # another caller refreshed it while this one waited
            if cached is not None:
                return cached
            self._result = await self._run()
            self._at = time.monotonic()
            return self._result

    async def _run(self) -> dict[str, str]:
        checks: dict[str, Callable[[], Awaitable[None]]] = {
            "mongo": self._mongo,
            "redis": self._redis_ping,
            "broker": self._broker_check,
        }
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
                results[name] = "ok"
            except Exception as exc:  # noqa: BLE001 - a probe reports, never raises
                results[name] = f"error: {type(exc).__name__}"
        return results

    async def _mongo(self) -> None:
        await self._db.command("ping")

    async def _redis_ping(self) -> None:
        for client in self._redis:
            await client.ping()

    def _broker_sync(self) -> bool:
        if not self._broker_lock.acquire(timeout=CHECK_TIMEOUT_SECONDS):
            return False
        try:
            return broker_reachable(self._broker, CHECK_TIMEOUT_SECONDS)
        finally:
            self._broker_lock.release()

    async def _broker_check(self) -> None:
        if not await run_in_threadpool(self._broker_sync):
            raise ConnectionError("broker unreachable")

    async def close(self) -> None:
        for client in self._redis:
            with contextlib.suppress(Exception):
                await client.aclose()
        with contextlib.suppress(Exception):
            await run_in_threadpool(self._broker.release)
