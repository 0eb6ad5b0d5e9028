"""The alerting collections: ``alerts``, ``alert_groups`` and ``alert_notifications``.

- an alert: one document per fingerprint *episode* (``open`` until resolved or expired), with its
  delivery state per channel (``delivery.channels.<channel>``) and its attempts;
- a group: ``{_id: group_key, flush_at, last_flush_at}``, the flush timer of alerts sent together;
- a notification: one message to one channel (the alerter's outbox), ``state`` pending, sending,
  sent or dead. The dead letters the API lists are the notifications in state ``dead``.

The alerter writes them all; the gateway's alert API reads them and re-arms dead notifications.

An alert's ``created_by`` (``RAGTASKS_API_KEY_ISOLATION``, docs/security.md) is set when its
episode opens (:func:`owner_fields`): the key that raised it through the API (the gateway sets
``RaiseAlert.created_by``); else, for an alert about a KB (the empty-retrieval rule's ``kb_id``, a recall drop's
``kb``), the KB's owner; else none: a system alert (a worker failing), for admin keys only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database

from . import kbs
from .indexes import CREATED_BY, Index

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
    # A confined key's alerts (RAGTASKS_API_KEY_ISOLATION), newest first.
    Index(ALERTS, [(CREATED_BY, ASCENDING), ("created_at", DESCENDING)]),
    Index(GROUPS, [("flush_at", ASCENDING)]),
    Index(NOTIFICATIONS, [("state", ASCENDING), ("next_attempt_at", ASCENDING)]),
    Index(NOTIFICATIONS, [("alert_ids", ASCENDING)]),
    Index(NOTIFICATIONS, [("state", ASCENDING), ("updated_at", DESCENDING)]),
)


# The labels that name the KB an alert is about.
KB_LABELS = ("kb_id", "kb")


def kb_of(labels: dict[str, str]) -> str | None:
    return next((labels[name] for name in KB_LABELS if labels.get(name)), None)


def owner_fields(db: Database, labels: dict[str, str], raised_by: str | None) -> dict[str, Any]:
    """The ``created_by`` fields of a new episode: the raising key, else the KB's owner, else none."""
    owner = raised_by
    kb_id = kb_of(labels)
    if owner is None and kb_id is not None:
        owner = kbs.owner_of(db, kb_id)
    return {CREATED_BY: owner} if owner else {}


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
