"""Mongo side of the alerter: alerts (one document per fingerprint episode), groups, notifications.

The collections' names and indexes are :mod:`ragtasks_core.documents.alerts`.

Correctness rests on single-document atomic updates only:
- an open episode per fingerprint is unique (partial unique index on ``fingerprint`` where
  ``open``), so racing ``raise_alert`` tasks count occurrences on one document;
- a group's flush timer is armed by an upsert that only one caller wins, and claimed by
  ``find_one_and_update`` that only one flush wins;
- a notification is claimed for sending the same way, with a lease, so a redelivered or
  duplicate ``deliver`` task never sends it twice while another holds it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from ragtasks_core import documents
from ragtasks_core.contract.alerter import RaiseAlert
from ragtasks_core.documents import alerts as alerts_doc
from ragtasks_core.documents.alerts import ALERTS, GROUPS, NOTIFICATIONS

from .format import AlertView

HISTORY_LIMIT = 50


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


# Every index, alert ones included, is declared in ``ragtasks_core.documents``; the alerter's
# tasks create them once per process (``Runtime.set_up_once``) through this name.
ensure_indexes = documents.ensure_indexes


# --- alerts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ingested:
    alert_id: str
    group_key: str
    # True when the change needs a notification (a new episode, or a resolution).
    changed: bool


def ingest(
    db: Database, alert: RaiseAlert, now: datetime, *, default_expiry: datetime | None = None
) -> Ingested | None:
    """Record one raised or resolved alert; ``None`` for a resolution of nothing open."""
    ends_at = alert.ends_at
    if alert.status == "resolved" or (ends_at is not None and ends_at <= now):
        return _resolve(db, alert.fingerprint, ends_at or now, now, note=alert.body)
    return _fire(db, alert, now, expires_at=ends_at or default_expiry)


def _fire(db: Database, alert: RaiseAlert, now: datetime, *, expires_at: datetime | None) -> Ingested:
    owner = alerts_doc.owner_fields(db, alert.labels, alert.created_by)  # who may see it (docs/security.md)
    update = {
        "$setOnInsert": {
            "_id": new_id("al"),
            "fingerprint": alert.fingerprint,
            "source": alert.source,
            "group_key": alert.source,
            "status": "firing",
            "open": True,
            "starts_at": alert.starts_at or now,
            "ends_at": None,
            "notified_status": None,
            "last_notified_at": None,
            "delivery": {"state": "pending"},
            "attempts": [],
            "created_at": now,
            **owner,
        },
        "$set": {
            "severity": alert.severity,
            "title": alert.title,
            "body": alert.body,
            "labels": alert.labels,
            "last_seen_at": now,
            "expires_at": expires_at,
            "updated_at": now,
        },
        "$inc": {"occurrences": 1},
    }
    for _ in range(3):
        try:
            doc = db[ALERTS].find_one_and_update(
                {"fingerprint": alert.fingerprint, "open": True},
                update,
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            continue  # a racing task opened the episode first: count on that one
        assert doc is not None
        return Ingested(doc["_id"], doc["group_key"], changed=doc["occurrences"] == 1)
    raise RuntimeError(f"could not record alert {alert.fingerprint!r}")


def _resolve(db: Database, fingerprint: str, ends_at: datetime, now: datetime, *, note: str) -> Ingested | None:
    fields = {"status": "resolved", "open": False, "ends_at": ends_at, "updated_at": now}
    doc = db[ALERTS].find_one_and_update(
        {"fingerprint": fingerprint, "open": True},
        # The resolution's own body (e.g. the window's counts now) is what its message shows.
        {"$set": fields | ({"resolved_note": note} if note.strip() else {})},
        return_document=ReturnDocument.AFTER,
    )
    if doc is None:
        return None
    return Ingested(doc["_id"], doc["group_key"], changed=True)


def expired_open_alerts(db: Database, now: datetime) -> list[dict[str, Any]]:
    return list(db[ALERTS].find({"open": True, "expires_at": {"$ne": None, "$lte": now}}, {"fingerprint": 1}))


def groups_needing_flush(db: Database, now: datetime, *, repeat_seconds: float, settle_seconds: float) -> set[str]:
    """Groups with an alert whose change was never notified (a lost flush), or due to repeat."""
    settled = now - timedelta(seconds=settle_seconds)
    cursor = db[ALERTS].find(
        {
            "$or": [
                {"status": "firing", "notified_status": {"$ne": "firing"}, "updated_at": {"$lte": settled}},
                {"status": "resolved", "notified_status": {"$ne": "resolved"}, "updated_at": {"$lte": settled}},
                {
                    "status": "firing",
                    "notified_status": "firing",
                    "last_notified_at": {"$lte": now - timedelta(seconds=repeat_seconds)},
                },
            ]
        },
        {"group_key": 1},
    )
    return {doc["group_key"] for doc in cursor}


# --- groups ------------------------------------------------------------------------------------


def arm_group(db: Database, group_key: str, flush_at: datetime) -> bool:
    """Start the group's wait unless it is already waiting; True for the caller that started it."""
    try:
        result = db[GROUPS].update_one(
            {"_id": group_key, "flush_at": None}, {"$set": {"flush_at": flush_at}}, upsert=True
        )
    except DuplicateKeyError:
        return False  # armed already: this alert joins the pending flush
    return bool(result.modified_count or result.upserted_id is not None)


def due_groups(db: Database, now: datetime) -> list[str]:
    return [doc["_id"] for doc in db[GROUPS].find({"flush_at": {"$ne": None, "$lte": now}}, {"_id": 1})]


def claim_group(db: Database, group_key: str, now: datetime) -> bool:
    doc = db[GROUPS].find_one_and_update(
        {"_id": group_key, "flush_at": {"$ne": None, "$lte": now}},
        {"$set": {"flush_at": None, "last_flush_at": now}},
    )
    return doc is not None


def alerts_to_notify(db: Database, group_key: str, now: datetime, *, repeat_seconds: float) -> list[dict[str, Any]]:
    repeat_before = now - timedelta(seconds=repeat_seconds)
    return list(
        db[ALERTS]
        .find(
            {
                "group_key": group_key,
                "$or": [
                    {"status": "firing", "notified_status": {"$ne": "firing"}},
                    {"status": "resolved", "notified_status": {"$ne": "resolved"}},
                    {"status": "firing", "last_notified_at": {"$lte": repeat_before}},
                ],
            }
        )
        .sort("created_at", ASCENDING)
    )


def view(doc: dict[str, Any]) -> AlertView:
    return AlertView(
        id=doc["_id"],
        fingerprint=doc["fingerprint"],
        status=doc["status"],
        severity=doc["severity"],
        title=doc["title"],
        body=(doc.get("resolved_note") or doc["body"]) if doc["status"] == "resolved" else doc["body"],
        source=doc["source"],
        labels=dict(doc.get("labels") or {}),
        starts_at=doc.get("starts_at"),
        ends_at=doc.get("ends_at"),
        occurrences=int(doc.get("occurrences") or 1),
    )


def mark_notified(db: Database, alerts: list[dict[str, Any]], notifications: dict[str, str], now: datetime) -> None:
    """Record what was notified (``notifications``: channel -> notification id); a status that
    changed meanwhile stays due for the next flush."""
    notification_ids = list(notifications.values())
    pending = {"delivery.state": "pending"} | {f"delivery.channels.{ch}": "pending" for ch in notifications}
    for doc in alerts:
        db[ALERTS].update_one(
            {"_id": doc["_id"], "status": doc["status"]},
            {
                "$set": {"notified_status": doc["status"], "last_notified_at": now} | pending,
                "$push": {"notifications": {"$each": notification_ids, "$slice": -HISTORY_LIMIT}},
            },
        )


# --- notifications (the outbox) ----------------------------------------------------------------


def create_notification(
    db: Database,
    group_key: str,
    channel: str,
    alerts: list[AlertView],
    now: datetime,
    *,
    extra: dict[str, Any] | None = None,
) -> str:
    """``extra``: a routed notification's ``receiver`` (its robot, bucket and dead letters) and ``title``."""
    nid = new_id("nt")
    db[NOTIFICATIONS].insert_one(
        (extra or {})
        | {
            "_id": nid,
            "group_key": group_key,
            "channel": channel,
            "alert_ids": [a.id for a in alerts],
            "alerts": [a.as_json() | {"starts_at": a.starts_at, "ends_at": a.ends_at} for a in alerts],
            "state": "pending",
            "attempts": 0,
            "failures": 0,
            "next_attempt_at": now,
            "history": [],
            "created_at": now,
            "updated_at": now,
        }
    )
    return nid


def claim_notification(db: Database, nid: str, now: datetime, lease_seconds: float) -> dict[str, Any] | None:
    result: dict[str, Any] | None = db[NOTIFICATIONS].find_one_and_update(
        {"_id": nid, "state": "pending", "next_attempt_at": {"$lte": now}},
        {"$set": {"state": "sending", "lease_until": now + timedelta(seconds=lease_seconds), "updated_at": now}},
        return_document=ReturnDocument.AFTER,
    )
    return result


def get_notification(db: Database, nid: str) -> dict[str, Any] | None:
    result: dict[str, Any] | None = db[NOTIFICATIONS].find_one({"_id": nid})
    return result


def release_notification(db: Database, nid: str, next_attempt_at: datetime, now: datetime) -> None:
    """Give a claimed notification back without an attempt (no rate-limiter slot yet)."""
    db[NOTIFICATIONS].update_one(
        {"_id": nid, "state": "sending"},
        {"$set": {"state": "pending", "next_attempt_at": next_attempt_at, "updated_at": now}},
    )


def record_attempt(
    db: Database,
    note: dict[str, Any],
    *,
    state: str,
    outcome: str,
    detail: str,
    worker: str,
    now: datetime,
    next_attempt_at: datetime | None = None,
    failed: bool = False,
) -> None:
    """Write one attempt to the notification and to each of its alerts' history.

    An alert keeps a state per channel (``delivery.channels.<channel>``), set path by path so
    that racing deliveries on two channels never overwrite each other; ``delivery.state`` and
    ``delivery.channel`` are the latest attempt's. Dead letters are the notifications in state
    ``dead``, so one stays listed until it is redelivered whatever the other channel does.
    """
    key = alerts_doc.delivery_key(note)
    entry = {"at": now, "outcome": outcome, "detail": detail, "worker": worker, "channel": key}
    fields: dict[str, Any] = {"state": state, "updated_at": now, "last_error": None if outcome == "sent" else detail}
    if next_attempt_at is not None:
        fields["next_attempt_at"] = next_attempt_at
    if state in ("sent", "dead"):
        fields[f"{state}_at"] = now
    db[NOTIFICATIONS].update_one(
        {"_id": note["_id"], "state": "sending"},
        {
            "$set": fields,
            "$inc": {"attempts": 1, "failures": 1 if failed else 0},
            "$push": {"history": {"$each": [entry], "$slice": -HISTORY_LIMIT}},
        },
    )
    alert_state = {"sent": "sent", "dead": "dead"}.get(state, "retrying")
    db[ALERTS].update_many(
        {"_id": {"$in": note["alert_ids"]}},
        {
            "$set": {
                "delivery.state": alert_state,
                "delivery.channel": key,
                "delivery.updated_at": now,
                f"delivery.channels.{key}": alert_state,
            },
            "$push": {"attempts": {"$each": [entry | {"notification_id": note["_id"]}], "$slice": -HISTORY_LIMIT}},
        },
    )


def stuck_notifications(db: Database, now: datetime, grace_seconds: float) -> list[str]:
    """Notifications whose deliver task was lost: a lease that ran out, or long overdue."""
    db[NOTIFICATIONS].update_many(
        {"state": "sending", "lease_until": {"$lte": now}}, {"$set": {"state": "pending", "updated_at": now}}
    )
    overdue = now - timedelta(seconds=grace_seconds)
    return [d["_id"] for d in db[NOTIFICATIONS].find({"state": "pending", "next_attempt_at": {"$lte": overdue}})]
