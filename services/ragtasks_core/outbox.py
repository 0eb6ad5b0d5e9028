"""The generic Mongo outbox: publishes that must not be lost when RabbitMQ is away.

Write the record first, then publish, then mark it published:

    {_id: task_id, task, kwargs, created_at, published_at: null, attempts, expires_at?, last_error?}

If the publish fails (broker down), the record stands and the outbox sweep
(``ragtasks.summarizer.sweep_outbox``, run by beat) publishes it later with the *same* task id.
Delivery is therefore at-least-once: a crash between publish and mark, or a sweep racing a slow
publish, can publish a record twice; consumers are idempotent by task id or by design.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from celery import Celery
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from . import metrics
from .contract import queue_for
from .mongo import OUTBOX

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


def new_record(
    task: str, kwargs: dict[str, Any], task_id: str, *, now: datetime | None = None, expires_at: datetime | None = None
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "_id": task_id,
        "task": task,
        "kwargs": kwargs,
        "created_at": now or datetime.now(UTC),
        "published_at": None,
        "attempts": 0,
    }
    if expires_at is not None:
        doc["expires_at"] = expires_at
    return doc


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


def _published() -> dict[str, Any]:
    return {"$set": {"published_at": datetime.now(UTC)}, "$inc": {"attempts": 1}}


def _failed(error: str) -> dict[str, Any]:
    return {"$set": {"last_error": error[:500]}, "$inc": {"attempts": 1}}


def mark_published(db: Database, task_id: str) -> None:
    db[OUTBOX].update_one({"_id": task_id}, _published())


async def mark_published_async(db: AsyncDatabase, task_id: str) -> None:
    await db[OUTBOX].update_one({"_id": task_id}, _published())


def mark_failed(db: Database, task_id: str, error: str) -> None:
    db[OUTBOX].update_one({"_id": task_id}, _failed(error))


async def mark_failed_async(db: AsyncDatabase, task_id: str, error: str) -> None:
    await db[OUTBOX].update_one({"_id": task_id}, _failed(error))


def mark_expired(db: Database, task_id: str) -> None:
    db[OUTBOX].update_one({"_id": task_id}, {"$set": {"expired_at": datetime.now(UTC)}})


def unpublished(db: Database, *, older_than: datetime, limit: int) -> list[dict[str, Any]]:
    """Records not yet published (nor expired), oldest first."""
    query = {"published_at": None, "expired_at": None, "created_at": {"$lt": older_than}}
    return list(db[OUTBOX].find(query).sort("created_at", ASCENDING).limit(limit))


def send(app: Celery, task: str, kwargs: dict[str, Any], task_id: str, **options: Any) -> None:
    """``send_task`` by name with a fail-fast retry policy and publisher confirms; raises on failure."""
    queue = queue_for(task).value
    try:
        app.send_task(task, kwargs=kwargs, task_id=task_id, retry=True, retry_policy=FAST_RETRY_POLICY, **options)
    except Exception:
        metrics.TASKS_PUBLISHED.labels(task, queue, "error").inc()
        raise
    metrics.TASKS_PUBLISHED.labels(task, queue, "ok").inc()


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
    try:
        send(app, task, kwargs, task_id, **options)
    except Exception as exc:
        log.warning("publish of %s %s failed, the outbox sweep will retry: %s", task, task_id, exc, exc_info=True)
        mark_failed(db, task_id, repr(exc))
        return False
    mark_published(db, task_id)
    return True


def remaining_expiry(doc: dict[str, Any], now: datetime) -> float | None:
    """Seconds left before the record's task expires; None if it never does. <= 0: expired."""
    expires_at = doc.get("expires_at")
    if expires_at is None:
        return None
    if expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    return (expires_at - now) / timedelta(seconds=1)
