"""MongoDB clients and collection layout.

Workers use one sync ``MongoClient`` per *process*: created after fork (``worker_process_init``)
and closed at process shutdown, because a client must never cross a fork. The gateway uses
PyMongo's ``AsyncMongoClient`` (Motor's successor) created in the app's lifespan.
"""

from __future__ import annotations

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
OUTBOX_RETENTION_SECONDS = 7 * 86_400  # published records are kept a week (TTL), for audit

SUMMARY_KEY = [("session_id", ASCENDING), ("from_seq", ASCENDING), ("upto_seq", ASCENDING)]


def sync_client(settings: Settings, *, max_pool_size: int = 10) -> MongoClient:
    return MongoClient(
        settings.mongodb_url, maxPoolSize=max_pool_size, tz_aware=True, connect=False, appname="ragtasks"
    )


def async_client(settings: Settings, *, max_pool_size: int = 50) -> AsyncMongoClient:
    return AsyncMongoClient(
        settings.mongodb_url, maxPoolSize=max_pool_size, tz_aware=True, connect=False, appname="ragtasks"
    )


def ensure_indexes(db: Database) -> None:
    """Create the indexes correctness relies on (idempotent). PyMongo names them."""
    # Append-heavy chat history: one document per message, unique per (session, seq).
    db[MESSAGES].create_index([("session_id", ASCENDING), ("seq", ASCENDING)], unique=True)
    # Summary history: at most one summary per (session, from watermark, to watermark) -- the
    # idempotency key that makes a redelivered or racing summarize task harmless.
    db[SUMMARIES].create_index(SUMMARY_KEY, unique=True)
    db[SUMMARIES].create_index([("session_id", ASCENDING), ("created_at", DESCENDING)])
    # The outbox sweep looks for wanted-but-unpublished summaries.
    db[SESSIONS].create_index([("summary_pending.published", ASCENDING), ("summary_pending.requested_at", ASCENDING)])
    db[OUTBOX].create_index([("published_at", ASCENDING), ("created_at", ASCENDING)])
    db[OUTBOX].create_index("published_at", expireAfterSeconds=OUTBOX_RETENTION_SECONDS)


async def ensure_indexes_async(db: AsyncDatabase) -> None:
    await db[MESSAGES].create_index([("session_id", ASCENDING), ("seq", ASCENDING)], unique=True)
    await db[SUMMARIES].create_index(SUMMARY_KEY, unique=True)
    await db[SUMMARIES].create_index([("session_id", ASCENDING), ("created_at", DESCENDING)])
    await db[SESSIONS].create_index(
        [("summary_pending.published", ASCENDING), ("summary_pending.requested_at", ASCENDING)]
    )
    await db[OUTBOX].create_index([("published_at", ASCENDING), ("created_at", ASCENDING)])
    await db[OUTBOX].create_index("published_at", expireAfterSeconds=OUTBOX_RETENTION_SECONDS)
