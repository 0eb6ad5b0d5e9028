"""One module per Mongo collection: its name, its indexes, and the pure builders of its documents,
filters and updates, used alike by the async gateway and the sync workers (a field is renamed in
one place). No module here does I/O; :mod:`.indexes` holds the one function that creates indexes.

:data:`INDEXES` is every index the code relies on; each process creates them all once at start
(the gateway in its lifespan, each worker through ``Runtime.set_up_once``), idempotently.
"""

from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.database import Database

from . import (
    alert_routes,
    alerts,
    chunks,
    evaluations,
    kbs,
    merges,
    messages,
    outbox,
    queries,
    sessions,
    silences,
    summaries,
)
from .indexes import Index, ensure, ensure_async

INDEXES: tuple[Index, ...] = (
    *sessions.INDEXES,
    *messages.INDEXES,
    *summaries.INDEXES,
    *outbox.INDEXES,
    *kbs.INDEXES,
    *chunks.INDEXES,
    *evaluations.INDEXES,
    *merges.INDEXES,
    *queries.INDEXES,
    *alerts.INDEXES,
    *alert_routes.INDEXES,
    *silences.INDEXES,
)


def ensure_indexes(db: Database) -> None:
    """Create :data:`INDEXES` (idempotent)."""
    ensure(db, INDEXES)


async def ensure_indexes_async(db: AsyncDatabase) -> None:
    """Create :data:`INDEXES` (idempotent), from the gateway's async client."""
    await ensure_async(db, INDEXES)


__all__ = [
    "INDEXES",
    "Index",
    "alert_routes",
    "alerts",
    "chunks",
    "ensure_indexes",
    "ensure_indexes_async",
    "evaluations",
    "kbs",
    "merges",
    "messages",
    "outbox",
    "queries",
    "sessions",
    "silences",
    "summaries",
]
