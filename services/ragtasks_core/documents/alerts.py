"""The alerting collections: ``alerts``, ``alert_groups`` and ``alert_notifications``.

- an alert: one document per fingerprint *episode* (``open`` until resolved or expired), with its
  delivery state per channel (``delivery.channels.<channel>``) and its attempts;
- a group: ``{_id: group_key, flush_at, last_flush_at}``, the flush timer of alerts sent together;
- a notification: one message to one channel (the alerter's outbox), ``state`` pending, sending,
  sent or dead. The dead letters the API lists are the notifications in state ``dead``.

The alerter writes them all; the gateway's alert API reads them and re-arms dead notifications.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING

from .indexes import Index

ALERTS = "alerts"
GROUPS = "alert_groups"
NOTIFICATIONS = "alert_notifications"

INDEXES: tuple[Index, ...] = (
    # At most one open episode per fingerprint: racing raise_alert tasks count on one document.
    Index(ALERTS, [("fingerprint", ASCENDING)], {"unique": True, "partialFilterExpression": {"open": True}}),
    Index(ALERTS, [("group_key", ASCENDING), ("status", ASCENDING)]),
    Index(ALERTS, [("delivery.state", ASCENDING), ("updated_at", DESCENDING)]),
    Index(ALERTS, [("open", ASCENDING), ("expires_at", ASCENDING)]),
    Index(ALERTS, [("created_at", DESCENDING)]),
    Index(GROUPS, [("flush_at", ASCENDING)]),
    Index(NOTIFICATIONS, [("state", ASCENDING), ("next_attempt_at", ASCENDING)]),
    Index(NOTIFICATIONS, [("alert_ids", ASCENDING)]),
    Index(NOTIFICATIONS, [("state", ASCENDING), ("updated_at", DESCENDING)]),
)


def dead_notifications(alert_ids: Sequence[str] | None = None) -> dict[str, Any]:
    """Dead-lettered notifications (carrying one of ``alert_ids``, when given)."""
    query: dict[str, Any] = {"state": "dead"}
    if alert_ids is not None:
        query["alert_ids"] = {"$in": list(alert_ids)}
    return query


def rearm_update(now: datetime, detail: str) -> dict[str, Any]:
    """A dead notification made pending again, due now (a redelivery)."""
    return {
        "$set": {"state": "pending", "failures": 0, "next_attempt_at": now, "updated_at": now},
        "$push": {"history": {"at": now, "outcome": "redeliver", "detail": detail}},
    }


def channel_state_update(channel: str, state: str, now: datetime) -> dict[str, Any]:
    """The ``$set`` of one channel's delivery state on the alerts a notification carries."""
    return {f"delivery.channels.{channel}": state, "delivery.updated_at": now}


def delivery_key(note: dict[str, Any]) -> str:
    """What a notification's delivery state is kept under on its alerts: the receiver of a routed
    one (``RAGTASKS_ALERT_ROUTES_FILE``), else the channel (``wecom``, ``webhook``)."""
    return str(note.get("receiver") or note["channel"])
