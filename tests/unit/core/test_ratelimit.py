"""The shared GCRA limiter, against the real Redis server (timing from Redis's clock)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from ragtasks_core.ratelimit import SharedRateLimiter
from tests.support.services import redis_url

pytestmark = pytest.mark.integration


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url(), decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def key(client: redis.Redis) -> Iterator[str]:
    name = f"rt-test:ratelimit:{uuid.uuid4().hex}"
    yield name
    client.delete(name)


def test_first_slot_free_then_spaced(client: redis.Redis, key: str) -> None:
    limiter = SharedRateLimiter(client, key, count=10, period=1)
    assert limiter.try_acquire() == 0.0
    wait = limiter.try_acquire()
    assert 0.05 < wait <= 0.1
    # A refused caller consumes nothing: the wait only shrinks.
    assert limiter.try_acquire() <= wait
    assert 0 < limiter.seconds_until_free() <= 0.1


def test_burst_tolerance(client: redis.Redis, key: str) -> None:
    limiter = SharedRateLimiter(client, key, count=1, period=10, burst=3)
    assert [limiter.try_acquire() == 0.0 for _ in range(4)] == [True, True, True, False]


def test_acquire_spaces_calls_across_threads(client: redis.Redis, key: str) -> None:
    limiter = SharedRateLimiter(client, key, count=20, period=1)  # one slot per 50 ms

    def take(_: int) -> float:
        assert limiter.acquire(max_wait=5) is not None
        return time.monotonic()

    with ThreadPoolExecutor(6) as pool:
        times = sorted(pool.map(take, range(12)))
    span = times[-1] - times[0]
    # 12 slots at 50 ms spacing need at least 11 intervals (less jitter), burst 1.
    assert span >= 11 * 0.05 - 0.03, span
    assert span < 2.0


def test_acquire_gives_up_without_consuming(client: redis.Redis, key: str) -> None:
    limiter = SharedRateLimiter(client, key, count=1, period=60)
    assert limiter.acquire(max_wait=0) is not None
    slept: list[float] = []
    assert limiter.acquire(max_wait=1, sleep=slept.append) is None
    assert slept == []
    assert 59 < limiter.seconds_until_free() <= 60


def test_invalid_rates() -> None:
    with pytest.raises(ValueError):
        SharedRateLimiter(redis.Redis(), "k", count=0, period=1)
    with pytest.raises(ValueError):
        SharedRateLimiter(redis.Redis(), "k", count=1, period=1, burst=0)
