"""The ``outbox`` collection: publishes that must not be lost when RabbitMQ is away.

``{_id: task_id, task, kwargs, created_at, published_at: null, attempts, claimed_until?, expires_at?,
last_error?, expired_at?}``. :mod:`ragtasks_core.outbox` records, publishes and marks them (sync and async) with
the builders below.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING

from ..tracing import current_traceparent
from .indexes import Index

COLLECTION = "outbox"
RETENTION_SECONDS = 7 * 86_400  # published (or expired) records are kept a week (TTL), for audit

INDEXES: tuple[Index, ...] = (
    # Unpublished records oldest first; published and expired records go after a week.
    Index(COLLECTION, [("published_at", ASCENDING), ("created_at", ASCENDING)]),
    Index(COLLECTION, [("published_at", ASCENDING)], {"expireAfterSeconds": RETENTION_SECONDS}),
    Index(COLLECTION, [("expired_at", ASCENDING)], {"expireAfterSeconds": RETENTION_SECONDS}),
)

OLDEST_FIRST = [("created_at", ASCENDING)]

# One publisher at a time per record: the writer holds it from the insert, a sweep from its claim,
# until it is published or the publish fails. Without it two sweeps running side by side (a backlog
# of sweep runs after an outage) or a sweep and a writer whose publish is still retrying both
# publish it, and a nightly run runs twice. Far longer than any fail-fast publish; a record whose
# holder crashed is swept once the claim has lapsed.
CLAIM_SECONDS = 30.0


def new_record(
    task: str, kwargs: dict[str, Any], task_id: str, *, now: datetime | None = None, expires_at: datetime | None = None
) -> dict[str, Any]:
    created_at = now or datetime.now(UTC)
    doc: dict[str, Any] = {
        "_id": task_id,
        "task": task,
        "kwargs": kwargs,
        "created_at": created_at,
        "published_at": None,
        "attempts": 0,
        "claimed_until": created_at + timedelta(seconds=CLAIM_SECONDS),  # the writer publishes it next
    }
    if expires_at is not None:
        doc["expires_at"] = expires_at
    # The writer's trace, so the sweep's later publish joins it (docs/tracing.md); None: untraced.
    traceparent = current_traceparent()
    if traceparent is not None:
        doc["traceparent"] = traceparent
    return doc


def by_id(task_id: str) -> dict[str, Any]:
    return {"_id": task_id}


def published() -> dict[str, Any]:
    return {"$set": {"published_at": datetime.now(UTC)}, "$inc": {"attempts": 1}}


def failed(error: str) -> dict[str, Any]:
    """The publish failed: the claim is released, so the next sweep takes the record."""
    return {"$set": {"last_error": error[:500]}, "$unset": {"claimed_until": ""}, "$inc": {"attempts": 1}}


def claimable(task_id: str, now: datetime) -> dict[str, Any]:
    """The record, if still unpublished and nobody holds it (no claim, or a lapsed one)."""
    free = [{"claimed_until": None}, {"claimed_until": {"$lte": now}}]
    return {"_id": task_id, "published_at": None, "expired_at": None, "$or": free}


def claim(now: datetime) -> dict[str, Any]:
    return {"$set": {"claimed_until": now + timedelta(seconds=CLAIM_SECONDS)}}


def expired() -> dict[str, Any]:
    return {"$set": {"expired_at": datetime.now(UTC)}}


def unpublished(older_than: datetime) -> dict[str, Any]:
    """Records not yet published (nor expired), created before ``older_than``: sort them :data:`OLDEST_FIRST`."""
    return {"published_at": None, "expired_at": None, "created_at": {"$lt": older_than}}
