"""MongoDB clients and collection layout.

Workers use one sync ``MongoClient`` per *process*: created after fork (``worker_process_init``)
and closed at process shutdown, because a client must never cross a fork. The gateway uses
PyMongo's ``AsyncMongoClient`` (Motor's successor) created in the app's lifespan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, MongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.database import Database

from .settings import Settings

# Collection names (one place, so workers and the gateway agree).
SESSIONS = "sessions"
MESSAGES = "messages"
SUMMARIES = "summaries"
# Publishes that must not be lost: {_id: task_id, task, kwargs, created_at, published_at|null, attempts}.
OUTBOX = "outbox"
OUTBOX_RETENTION_SECONDS = 7 * 86_400  # published (or expired) records are kept a week (TTL), for audit

SUMMARY_KEY = [("session_id", ASCENDING), ("from_seq", ASCENDING), ("upto_seq", ASCENDING)]


def sync_client(settings: Settings, *, max_pool_size: int = 10) -> MongoClient:
    return MongoClient(
        settings.mongodb_url, maxPoolSize=max_pool_size, tz_aware=True, connect=False, appname="ragtasks"
    )


def async_client(settings: Settings, *, max_pool_size: int = 50) -> AsyncMongoClient:
    return AsyncMongoClient(
        settings.mongodb_url, maxPoolSize=max_pool_size, tz_aware=True, connect=False, appname="ragtasks"
    )


@dataclass(frozen=True)
class Index:
    collection: str
    keys: list[tuple[str, int]]
    options: dict[str, Any] = field(default_factory=dict)


# A session with no pending summary has ``summary_pending: null`` (set on insert, reset by the
# summarizer): the sweep's "missed" query matches it with ``$type: "null"``, the same expression
# as the partial index below, so the index is usable for it and holds only such sessions.
NO_PENDING_SUMMARY = {"summary_pending": {"$type": "null"}}

# The indexes correctness and the sweeps rely on. PyMongo names them.
INDEXES: tuple[Index, ...] = (
    # Append-heavy chat history: one document per message, unique per (session, seq).
    Index(MESSAGES, [("session_id", ASCENDING), ("seq", ASCENDING)], {"unique": True}),
    # Summary history: at most one summary per (session, from watermark, to watermark) -- the
    # idempotency key that makes a redelivered or racing summarize task harmless.
    Index(SUMMARIES, SUMMARY_KEY, {"unique": True}),
    Index(SUMMARIES, [("session_id", ASCENDING), ("created_at", DESCENDING)]),
    # The outbox sweep: pending summaries not yet published, or published long ago ...
    Index(SESSIONS, [("summary_pending.published", ASCENDING), ("summary_pending.requested_at", ASCENDING)]),
    Index(SESSIONS, [("summary_pending.published", ASCENDING), ("summary_pending.published_at", ASCENDING)]),
    # ... and sessions past the threshold with no pending summary at all ("missed").
    Index(
        SESSIONS,
        [("tokens_since_summary", ASCENDING), ("updated_at", ASCENDING)],
        {"partialFilterExpression": NO_PENDING_SUMMARY},
    ),
    # Generic outbox: unpublished records oldest first; published and expired records go after a week.
    Index(OUTBOX, [("published_at", ASCENDING), ("created_at", ASCENDING)]),
    Index(OUTBOX, [("published_at", ASCENDING)], {"expireAfterSeconds": OUTBOX_RETENTION_SECONDS}),
    Index(OUTBOX, [("expired_at", ASCENDING)], {"expireAfterSeconds": OUTBOX_RETENTION_SECONDS}),
)


def ensure_indexes(db: Database) -> None:
    """Create :data:`INDEXES` (idempotent)."""
    for index in INDEXES:
        db[index.collection].create_index(index.keys, **index.options)


async def ensure_indexes_async(db: AsyncDatabase) -> None:
    """Create :data:`INDEXES` (idempotent), from the gateway's async client."""
    for index in INDEXES:
        await db[index.collection].create_index(index.keys, **index.options)
