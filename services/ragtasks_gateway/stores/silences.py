"""Silences for the HTTP API (async): create, list, expire. Shapes: :mod:`ragtasks_core.documents.silences`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from ragtasks_core.alerting.matchers import Matcher
from ragtasks_core.documents import silences
from ragtasks_core.documents.silences import SILENCES


async def create(
    db: AsyncDatabase,
    matchers: list[Matcher],
    *,
    starts_at: datetime,
    ends_at: datetime,
    comment: str,
    created_by: str,
    now: datetime,
) -> dict[str, Any]:
    doc = silences.new_silence(
        matchers, starts_at=starts_at, ends_at=ends_at, comment=comment, created_by=created_by, now=now
    )
    await db[SILENCES].insert_one(doc)
    return doc


async def list_silences(db: AsyncDatabase, *, limit: int) -> list[dict[str, Any]]:
    cursor = db[SILENCES].find({}).sort("created_at", DESCENDING).limit(limit)
    return [doc async for doc in cursor]


async def expire(db: AsyncDatabase, silence_id: str, now: datetime) -> dict[str, Any] | None:
    """End the silence now (Alertmanager's DELETE expires, it does not forget); None if unknown."""
    doc: dict[str, Any] | None = await db[SILENCES].find_one({"_id": silence_id})
    if doc is None or doc["ends_at"] <= now:
        return doc
    updated: dict[str, Any] | None = await db[SILENCES].find_one_and_update(
        {"_id": silence_id}, silences.expire_update(doc, now), return_document=ReturnDocument.AFTER
    )
    return updated
