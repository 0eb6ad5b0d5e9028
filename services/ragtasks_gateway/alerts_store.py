"""Reading alerts and dead letters, and re-arming dead notifications, for the HTTP API (async)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from ragtasks_core.alerting import ALERTS, NOTIFICATIONS

ATTEMPTS_SHOWN = 20


async def list_alerts(db: AsyncDatabase, *, status: str | None, source: str | None, limit: int) -> list[dict[str, Any]]:
    query: dict[str, Any] = {}
    if status == "dead":
        query["delivery.state"] = "dead"
    elif status is not None:
        query["status"] = status
    if source is not None:
        query["source"] = source
    cursor = db[ALERTS].find(query).sort("created_at", DESCENDING).limit(limit)
    return [doc async for doc in cursor]


async def get_alert(db: AsyncDatabase, alert_id: str) -> dict[str, Any] | None:
    doc: dict[str, Any] | None = await db[ALERTS].find_one({"_id": alert_id})
    return doc


async def redeliver(db: AsyncDatabase, alert_id: str) -> list[str]:
    """Re-arm every dead notification carrying this alert; return their ids (to publish)."""
    now = datetime.now(UTC)
    ids: list[str] = []
    async for note in db[NOTIFICATIONS].find({"alert_ids": alert_id, "state": "dead"}, {"alert_ids": 1}):
        result = await db[NOTIFICATIONS].update_one(
            {"_id": note["_id"], "state": "dead"},
            {
                "$set": {"state": "pending", "failures": 0, "next_attempt_at": now, "updated_at": now},
                "$push": {"history": {"at": now, "outcome": "redeliver", "detail": "requested through the API"}},
            },
        )
        if result.modified_count:
            ids.append(note["_id"])
            await db[ALERTS].update_many(
                {"_id": {"$in": note["alert_ids"]}, "delivery.state": "dead"},
                {"$set": {"delivery.state": "pending", "delivery.updated_at": now}},
            )
    return ids
