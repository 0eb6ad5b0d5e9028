"""Run Celery beat with the ragtasks schedule -- as a single replica, enforced by a Redis lock.

Two beats would publish every periodic task twice. Before scheduling anything, beat takes the
lock ``<key_prefix>:beat:lock`` (``SET NX`` with a TTL) and refreshes it in a thread; a second
beat waits (standby) until the lock is free. A beat that loses its lock (Redis lost the key, or it
was frozen past the TTL while another took over) stops itself at once rather than run alongside.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable

import redis

from ragtasks_core import redis_client, runtime
from ragtasks_core.celery_app import create_celery
from ragtasks_core.settings import Settings

from .schedule import beat_schedule

log = logging.getLogger(__name__)
LOCK_TTL_SECONDS = 30
REFRESH_SECONDS = 10
WAIT_SECONDS = 2.0

# Extend the TTL only if we still hold the lock; delete only our own lock.
_REFRESH = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('expire', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


def lock_key(settings: Settings) -> str:
    return f"{settings.key_prefix}:beat:lock"


class BeatLock:
    """A single-holder Redis lock with a TTL, refreshed while held."""

    def __init__(self, client: redis.Redis, key: str, *, ttl: int = LOCK_TTL_SECONDS) -> None:
        self.client = client
        self.key = key
        self.ttl = ttl
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()

    def try_acquire(self) -> bool:
        return bool(self.client.set(self.key, self.token, nx=True, ex=self.ttl))

    def acquire(self, *, wait_seconds: float = WAIT_SECONDS) -> None:
        """Block until held; a standby beat logs who holds it and keeps trying."""
        while not self.try_acquire():
            holder = self.client.get(self.key)
            log.warning("another beat holds %s (%s); waiting as standby", self.key, holder)
            time.sleep(wait_seconds)
        log.info("acquired beat lock %s as %s", self.key, self.token)

    def refresh(self) -> bool:
        return bool(self.client.eval(_REFRESH, 1, self.key, self.token, self.ttl))

    def release(self) -> None:
        self._stop.set()
        try:
            self.client.eval(_RELEASE, 1, self.key, self.token)
        except redis.RedisError as exc:
            log.warning("could not release beat lock: %s", exc)

    def keep_alive(self, on_lost: Callable[[], None]) -> threading.Thread:
        def loop() -> None:
            while not self._stop.wait(REFRESH_SECONDS):
                try:
                    held = self.refresh()
                except redis.RedisError as exc:
                    log.warning("could not refresh beat lock: %s", exc)
                    continue  # keep trying until the TTL says otherwise
                if not held:
                    log.error("lost beat lock %s; stopping so that only one beat runs", self.key)
                    on_lost()
                    return

        thread = threading.Thread(target=loop, name="beat-lock", daemon=True)
        thread.start()
        return thread


def run_beat(settings: Settings, *, schedule_file: str | None = None, loglevel: str = "INFO") -> None:
    runtime.configure(settings)  # the scheduler's outbox and publish timeout read these settings
    client = redis_client.sync_client(settings)  # a plain URL or a Sentinel-managed master
    lock = BeatLock(client, lock_key(settings))
    lock.acquire()
    lock.keep_alive(lambda: os.kill(os.getpid(), signal.SIGTERM))
    try:
        app = create_celery(settings, waits_on_results=False)  # beat publishes, never waits
        app.conf.beat_schedule = beat_schedule(settings)
        app.conf.beat_scheduler = "ragtasks_scheduler.outbox_scheduler:OutboxScheduler"  # runs survive outages
        # Beat's state file needs a writable place; the container's root filesystem is read-only.
        schedule_file = schedule_file or os.path.join(tempfile.gettempdir(), "ragtasks-beat-schedule")
        app.Beat(schedule=schedule_file, loglevel=loglevel, quiet=True).run()
    finally:
        lock.release()
        client.close()
