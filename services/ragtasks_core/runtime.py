"""Per-process resources of a worker: one Mongo client, one Redis client, one LLM client.

Created lazily in the process that uses them and re-created if the process forked since
(a client must never cross a fork). ``worker_process_init`` warms them in each prefork child
and ``worker_process_shutdown`` closes them, so the server's connection count stays flat no
matter how many tasks run.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import pymongo
import redis
from pymongo import MongoClient
from pymongo.database import Database

from . import mongo, redis_client
from .llm import LLMClient
from .ratelimit import SharedRateLimiter
from .settings import Settings

# How long closing the Mongo client may try to end its sessions on the server (see Runtime.close).
CLOSE_TIMEOUT_SECONDS = 1.0


@dataclass
class Runtime:
    settings: Settings
    pid: int = field(default_factory=os.getpid)
    _set_up: set[str] = field(default_factory=set)

    def set_up_once(self, name: str, setup: Callable[[Database], None]) -> Runtime:
        """Run ``setup(db)`` once per process -- e.g. create the indexes correctness rests on.

        Workers create their own indexes rather than trusting the gateway to have started first.
        """
        if name not in self._set_up:
            setup(self.db)
            self._set_up.add(name)
        return self

    @cached_property
    def mongo_client(self) -> MongoClient:
        return mongo.sync_client(self.settings, max_pool_size=4)

    @cached_property
    def db(self) -> Database:
        return self.mongo_client[self.settings.mongodb_db]

    @cached_property
    def redis(self) -> redis.Redis:
        return redis_client.sync_client(self.settings)  # a plain URL or a Sentinel-managed master

    @cached_property
    def llm(self) -> LLMClient | None:
        """The configured LLM, or ``None`` when running offline (no ``LLM_BASE_URL``)."""
        return LLMClient(self.settings) if self.settings.llm_base_url else None

    @cached_property
    def llm_limiter(self) -> SharedRateLimiter:
        count, period = self.settings.llm_rate
        key = f"{self.settings.key_prefix}:ratelimit:llm:{self.settings.llm_model}"
        return SharedRateLimiter(self.redis, key, count=count, period=period, name="llm")

    def close(self) -> None:
        cache = self.__dict__
        if "mongo_client" in cache:
            # close() ends the client's server sessions on the server: with Mongo gone it would wait
            # out server selection (30 s) in every pool child a stopping worker closes. Best effort.
            with contextlib.suppress(pymongo.errors.PyMongoError), pymongo.timeout(CLOSE_TIMEOUT_SECONDS):
                cache["mongo_client"].close()
        if "redis" in cache:
            cache["redis"].close()
        if cache.get("llm") is not None:
            cache["llm"].close()
        for name in ("mongo_client", "db", "redis", "llm", "llm_limiter"):
            cache.pop(name, None)


_lock = threading.Lock()
_settings: Settings | None = None
_runtime: Runtime | None = None


def configure(settings: Settings) -> None:
    """Set the settings this process (and its forked children) build their runtime from."""
    global _settings
    _settings = settings


def configured_settings() -> Settings:
    if _settings is None:
        configure(Settings())
    assert _settings is not None
    return _settings


def get_runtime() -> Runtime:
    global _runtime
    with _lock:
        if _runtime is None or _runtime.pid != os.getpid():
            # After a fork the parent's clients are unusable here: drop (not close) them.
            _runtime = Runtime(configured_settings())
        return _runtime


def close_runtime() -> None:
    global _runtime
    with _lock:
        if _runtime is not None and _runtime.pid == os.getpid():
            _runtime.close()
        _runtime = None
