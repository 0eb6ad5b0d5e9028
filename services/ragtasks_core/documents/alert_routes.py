"""The ``alert_routes`` collection: one document per alert and route node it is routed to.

Used only with a routes file (``RAGTASKS_ALERT_ROUTES_FILE``). An alert that a route tree sends
to two receivers (``continue: true``) has two documents, each with its own group, its own
notified state and its own repeat timer:

``{_id: "<alert_id>|<route path>", alert_id, receiver, route, group_id, group_key, title, status,
outcome: routed|silenced|inhibited|muted, hold_until, notified_status, last_notified_at,
next_repeat_at, group_wait, group_interval, repeat_interval, updated_at, created_at}``.

``group_key`` is Alertmanager's readable key (``route.routes[0]:{kb="k1"}``), ``group_id`` its
id-like hash, which names the group in ``alert_groups`` and in ``flush_alerts`` payloads.
``hold_until`` is when a held alert (muted, silenced) is looked at again; ``next_repeat_at`` is
when a notified, still-firing alert is said again (``repeat_interval`` of its route).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING

from .indexes import Index

ALERT_ROUTES = "alert_routes"

INDEXES: tuple[Index, ...] = (
    Index(ALERT_ROUTES, [("group_id", ASCENDING), ("status", ASCENDING)]),
    Index(ALERT_ROUTES, [("alert_id", ASCENDING)]),
    Index(ALERT_ROUTES, [("status", ASCENDING), ("outcome", ASCENDING), ("hold_until", ASCENDING)]),
    Index(ALERT_ROUTES, [("status", ASCENDING), ("notified_status", ASCENDING), ("next_repeat_at", ASCENDING)]),
)


def route_id(alert_id: str, route: str) -> str:
    return f"{alert_id}|{route}"


def due_in_group(group_id: str, now: datetime) -> dict[str, Any]:
    """What a flush of the group considers: new firings, resolutions of notified alerts, repeats,
    and held alerts whose hold is over (the flush decides again whether they go)."""
    return {
        "group_id": group_id,
        "$or": [
            {"status": "firing", "notified_status": {"$ne": "firing"}},
            {"status": "resolved", "notified_status": "firing"},
            {"status": "firing", "next_repeat_at": {"$lte": now}},
        ],
    }


def needing_flush(now: datetime, settle_seconds: float) -> dict[str, Any]:
    """Routes whose group should be flushed by the periodic sweep: a hold that is over, a held
    alert that may be released (inhibition is re-checked every sweep), a repeat that is due, or a
    change whose flush was lost."""
    settled = now - timedelta(seconds=settle_seconds)
    return {
        "$or": [
            {"status": "firing", "outcome": {"$ne": "routed"}, "hold_until": None},
            {"status": "firing", "outcome": {"$ne": "routed"}, "hold_until": {"$lte": now}},
            {"status": "firing", "notified_status": "firing", "next_repeat_at": {"$lte": now}},
            {"status": "firing", "notified_status": {"$ne": "firing"}, "updated_at": {"$lte": settled}},
            {"status": "resolved", "notified_status": "firing", "updated_at": {"$lte": settled}},
        ]
    }
