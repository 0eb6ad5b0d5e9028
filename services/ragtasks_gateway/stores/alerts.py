"""Reading alerts and dead letters, and re-arming dead notifications, for the HTTP API (async).

The dead letters are the notifications in state ``dead`` (one per channel and message), not a
flag on the alert: with WeCom dead and the generic webhook sent, the WeCom letter stays listed
until it is redelivered.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from ragtasks_core.documents import alerts
from ragtasks_core.documents.alerts import ALERTS, NOTIFICATIONS

from .. import ownership
from ..ownership import Caller

ATTEMPTS_SHOWN = 20
# How many dead notifications a dead-letter listing looks through (newest first).
DEAD_SCAN_LIMIT = 5_000


async def list_alerts(
    db: AsyncDatabase, *, status: str | None, source: str | None, limit: int, caller: Caller = ownership.UNCONFINED
) -> list[dict[str, Any]]:
    """Newest first; a confined caller's own only (RAGTASKS_API_KEY_ISOLATION)."""
    query: dict[str, Any] = ownership.visible(caller)
    if status == "dead":
        query["_id"] = {"$in": await _dead_alert_ids(db, caller)}
    elif status is not None:
        query["status"] = status
    if source is not None:
        query["source"] = source
    cursor = db[ALERTS].find(query).sort("created_at", DESCENDING).limit(limit)
    return [doc async for doc in cursor]


async def _dead_alert_ids(db: AsyncDatabase, caller: Caller) -> list[str]:
    """Alerts with a dead letter, newest letters first. A confined caller's scan starts from its
    own alerts: the newest dead letters of everyone else must not crowd its own out."""
    wanted = None
    if caller.confined:
        own = db[ALERTS].find(ownership.visible(caller), {"_id": 1}).sort("created_at", DESCENDING)
        wanted = [d["_id"] async for d in own.limit(DEAD_SCAN_LIMIT)]
        if not wanted:
            return []
    ids: dict[str, None] = {}  # ordered and unique
    cursor = (
        db[NOTIFICATIONS]
        .find(alerts.dead_notifications(wanted), {"alert_ids": 1})
        .sort("updated_at", DESCENDING)
        .limit(DEAD_SCAN_LIMIT)
    )
    async for note in cursor:
        ids.update(dict.fromkeys(note.get("alert_ids") or []))
    return list(ids)


async def dead_channels(db: AsyncDatabase, alert_ids: list[str]) -> dict[str, set[str]]:
    """alert id -> the channels on which a notification carrying it is dead-lettered."""
    found: dict[str, set[str]] = defaultdict(set)
    if not alert_ids:
        return found
    wanted = set(alert_ids)
    cursor = db[NOTIFICATIONS].find(alerts.dead_notifications(alert_ids), {"alert_ids": 1, "channel": 1, "receiver": 1})
    async for note in cursor:
        for alert_id in note.get("alert_ids") or []:
            if alert_id in wanted:
                found[alert_id].add(alerts.delivery_key(note))
    return found


async def get_alert(db: AsyncDatabase, alert_id: str) -> dict[str, Any] | None:
    doc: dict[str, Any] | None = await db[ALERTS].find_one({"_id": alert_id})
    return doc


async def redeliver(db: AsyncDatabase, alert_id: str) -> list[str]:
    """Re-arm every dead notification carrying this alert; return their ids (to publish)."""
    now = datetime.now(UTC)
    ids: list[str] = []
    wanted = {"alert_ids": 1, "channel": 1, "receiver": 1}
    async for note in db[NOTIFICATIONS].find({"alert_ids": alert_id, "state": "dead"}, wanted):
        result = await db[NOTIFICATIONS].update_one(
            {"_id": note["_id"], "state": "dead"}, alerts.rearm_update(now, "requested through the API")
        )
        if result.modified_count:
            ids.append(note["_id"])
            channel = alerts.delivery_key(note | {"channel": note.get("channel", "wecom")})
            await db[ALERTS].update_many(
                {"_id": {"$in": note["alert_ids"]}},
                {"$set": alerts.channel_state_update(channel, "pending", now)},
            )
            await db[ALERTS].update_many(
                {"_id": {"$in": note["alert_ids"]}, "delivery.state": "dead"},
                {"$set": {"delivery.state": "pending"}},
            )
    return ids
