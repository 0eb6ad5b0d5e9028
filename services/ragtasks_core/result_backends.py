"""Result backends for processes that publish tasks and read their states, but never wait on one.

Celery's Redis backend SUBSCRIBEs to a task's result channel when the task is sent (so that a
later ``AsyncResult.get()`` hears of the result at once) and UNSUBSCRIBEs when that AsyncResult is
collected: two Redis round trips per publish. The gateway and beat never call ``get()``: the
gateway reads states by id (``GET /v1/tasks/{id}``), beat reads nothing. Their apps use these
backends, which skip the subscription and nothing else (issue 17: ~20% of a confirmed publish).
"""

from __future__ import annotations

from typing import Any

from celery.backends.redis import RedisBackend, SentinelBackend

# Celery's "<backend class>+<url>" form (celery.app.backends.by_url) names these by import path.
_CLASSES = {
    "redis": "ragtasks_core.result_backends:PublisherRedisBackend",
    "rediss": "ragtasks_core.result_backends:PublisherRedisBackend",
    "sentinel": "ragtasks_core.result_backends:PublisherSentinelBackend",
}


class PublisherRedisBackend(RedisBackend):
    def on_task_call(self, producer: Any, task_id: str) -> None:
        """Nobody in this process waits on the result: no subscription to its channel."""


class PublisherSentinelBackend(SentinelBackend):
    def on_task_call(self, producer: Any, task_id: str) -> None:
        """As :class:`PublisherRedisBackend`, through Sentinel."""


def publisher_backend_url(url: str) -> str:
    """``url`` with the publisher's backend class in front; other backends (a database) as given."""
    scheme = url.partition("://")[0].lower()
    return f"{_CLASSES[scheme]}+{url}" if scheme in _CLASSES else url
