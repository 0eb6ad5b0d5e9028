"""The gateway's and beat's Celery app does not subscribe to each published task's result channel.

Celery's Redis backend SUBSCRIBEs when a task is sent, for an ``AsyncResult.get()`` that the
gateway and beat never make (they read states by id): two Redis round trips per publish. With
``waits_on_results=False`` the publish makes no subscription, and the states still read back.
"""

from __future__ import annotations

from typing import Any

import redis

from ragtasks_core.celery_app import create_celery
from ragtasks_core.contract import TaskName
from ragtasks_core.settings import Settings
from tests.support.procs import wait_until


def _subscribers(settings: Settings, task_id: str) -> int:
    with redis.Redis.from_url(settings.effective_redis_url) as client:
        [(_, count)] = client.pubsub_numsub(f"celery-task-meta-{task_id}")
        return int(count)


def test_a_publisher_app_makes_no_result_subscription_and_reads_states(
    settings: Settings, worker_env: dict[str, str], start_worker: Any
) -> None:
    waiting, publisher = create_celery(settings), create_celery(settings, waits_on_results=False)
    try:
        # Nothing consumes yet: each task stays PENDING, and its subscription (if any) stays open.
        waits = waiting.send_task(TaskName.SUMMARIZER_PING.value, kwargs={})
        wait_until(lambda: _subscribers(settings, waits.id) == 1, 10, 0.1, "Celery's own subscription")
        sent = publisher.send_task(TaskName.SUMMARIZER_PING.value, kwargs={})
        assert _subscribers(settings, sent.id) == 0
        assert type(publisher.backend).__name__ == "PublisherRedisBackend"

        start_worker("summarizer", worker_env, concurrency=1)
        wait_until(lambda: publisher.AsyncResult(sent.id).state == "SUCCESS", 60, 0.2, "the state, read by id")
        assert publisher.AsyncResult(sent.id).result == "pong"
        assert waits.get(timeout=60) == "pong"  # the waiting app still hears its result
    finally:
        waiting.close()
        publisher.close()
