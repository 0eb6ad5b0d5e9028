"""The generic Mongo outbox: publishes that must not be lost when RabbitMQ is away.

Write the record first (its shape: :mod:`ragtasks_core.documents.outbox`), then publish, then mark
it published (:func:`publish_after_write`, the step every producer shares). If the publish fails
(broker down), the record stands and the outbox sweep
(``ragtasks.summarizer.sweep_outbox``, run by beat) publishes it later with the *same* task id.
A record has one publisher at a time (the writer, then a sweep that claims it: :func:`claim`), so
two sweeps side by side or a sweep and a slow writer do not both publish it. Delivery is still
at-least-once: a crash between publish and mark publishes a record twice; consumers are idempotent
by task id or by design.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from celery import Celery
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from . import metrics
from .contract import queue_for
from .documents import outbox as docs
from .documents.outbox import COLLECTION as OUTBOX
from .documents.outbox import new_record

log = logging.getLogger(__name__)

# Publishing must fail fast: the outbox owns retrying later. Two quick retries (< 1 s in all).
FAST_RETRY_POLICY = {"max_retries": 2, "interval_start": 0.1, "interval_step": 0.2, "interval_max": 0.5}


def fail_fast(app: Celery, timeout: float) -> None:
    """Bound every step of a publish on ``app``'s connections by about ``timeout`` seconds.

    kombu's defaults reconnect for minutes when the broker is down; a producer with an outbox
    behind it should give up quickly instead (connect timeout, one reconnect, confirm timeout).
    """
    app.conf.broker_connection_timeout = timeout
    app.conf.broker_transport_options = {
        **(app.conf.broker_transport_options or {}),
        "max_retries": 1,
        "interval_start": 0,
        "interval_step": 0.2,
        "interval_max": 0.2,
        "connect_retries_timeout": timeout,
    }


def new_task_id() -> str:
    return str(uuid.uuid4())


def record(db: Database, doc: dict[str, Any]) -> bool:
    """Insert the record; False if one with this task id exists already (a replayed write)."""
    try:
        db[OUTBOX].insert_one(doc)
        return True
    except DuplicateKeyError:
        return False


async def record_async(db: AsyncDatabase, doc: dict[str, Any]) -> bool:
    try:
        await db[OUTBOX].insert_one(doc)
        return True
    except DuplicateKeyError:
        return False


def mark_published(db: Database, task_id: str) -> None:
    db[OUTBOX].update_one(docs.by_id(task_id), docs.published())


async def mark_published_async(db: AsyncDatabase, task_id: str) -> None:
    await db[OUTBOX].update_one(docs.by_id(task_id), docs.published())


def mark_failed(db: Database, task_id: str, error: str) -> None:
    db[OUTBOX].update_one(docs.by_id(task_id), docs.failed(error))


async def mark_failed_async(db: AsyncDatabase, task_id: str, error: str) -> None:
    await db[OUTBOX].update_one(docs.by_id(task_id), docs.failed(error))


def claim(db: Database, task_id: str, now: datetime) -> bool:
    """Take the record for publishing; False if it is published, expired or held by another publisher."""
    return db[OUTBOX].update_one(docs.claimable(task_id, now), docs.claim(now)).modified_count == 1


def mark_expired(db: Database, task_id: str) -> None:
    db[OUTBOX].update_one(docs.by_id(task_id), docs.expired())


def unpublished(db: Database, *, older_than: datetime, limit: int) -> list[dict[str, Any]]:
    """Records not yet published (nor expired), oldest first."""
    return list(db[OUTBOX].find(docs.unpublished(older_than)).sort(docs.OLDEST_FIRST).limit(limit))


def send(app: Celery, task: str, kwargs: dict[str, Any], task_id: str, **options: Any) -> None:
    """``send_task`` by name with a fail-fast retry policy and publisher confirms; raises on failure."""
    queue = queue_for(task).value
    try:
        app.send_task(task, kwargs=kwargs, task_id=task_id, retry=True, retry_policy=FAST_RETRY_POLICY, **options)
    except Exception:
        metrics.TASKS_PUBLISHED.labels(task, queue, "error").inc()
        raise
    metrics.TASKS_PUBLISHED.labels(task, queue, "ok").inc()


def publish_after_write(
    send: Callable[[], object],
    mark: Callable[[], object],
    *,
    failed: Callable[[Exception], object] | None = None,
) -> bool:
    """The publish-after-write step, for every producer (the async twin is :func:`publish_after_write_async`).

    What must survive a broker outage is in Mongo already (an outbox record, a session's pending
    summary, a requested evaluation, a re-armed notification): ``send()`` publishes it, then
    ``mark()`` records that it was published. When the publish fails the written state stands
    for a sweep to publish later: ``failed(exc)`` is called and False returned; without
    ``failed`` the error propagates (the outbox sweep stops at its first failure).
    """
    try:
        send()
    except Exception as exc:
        if failed is None:
            raise
        failed(exc)
        return False
    mark()
    return True


async def publish_after_write_async(
    send: Callable[[], Awaitable[object]],
    mark: Callable[[], Awaitable[object]],
    *,
    failed: Callable[[Exception], Awaitable[object]] | None = None,
    errors: tuple[type[Exception], ...] = (Exception,),
) -> bool:
    """:func:`publish_after_write` from the event loop; only ``errors`` count as a failed publish."""
    try:
        await send()
    except errors as exc:
        if failed is None:
            raise
        await failed(exc)
        return False
    await mark()
    return True


def publish_reliably_sync(
    app: Celery,
    db: Database,
    task: str,
    kwargs: dict[str, Any],
    task_id: str,
    *,
    expires_at: datetime | None = None,
    **options: Any,
) -> bool:
    """Record, publish, mark. True if published now; False if left for the sweep (or already
    recorded under this task id, in which case the first writer or the sweep publishes it)."""
    if not record(db, new_record(task, kwargs, task_id, expires_at=expires_at)):
        return False

    def failed(exc: Exception) -> None:
        log.warning("publish of %s %s failed, the outbox sweep will retry: %s", task, task_id, exc, exc_info=True)
        mark_failed(db, task_id, repr(exc))

    return publish_after_write(
        lambda: send(app, task, kwargs, task_id, **options), lambda: mark_published(db, task_id), failed=failed
    )


def remaining_expiry(doc: dict[str, Any], now: datetime) -> float | None:
    """Seconds left before the record's task expires; None if it never does. <= 0: expired."""
    expires_at = doc.get("expires_at")
    if expires_at is None:
        return None
    if expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    return (expires_at - now) / timedelta(seconds=1)
