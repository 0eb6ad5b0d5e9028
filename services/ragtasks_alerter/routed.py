"""The alert pipeline with a routes file: decide -> per-route group -> one notification per receiver.

Used only when ``RAGTASKS_ALERT_ROUTES_FILE`` is set (``service.py`` keeps today's path otherwise).
Each alert is decided by ``routing.Router`` (routes, silences, inhibition, quiet hours) when it is
raised, again when its group flushes, and again by the periodic sweep while it is held, so a
silence that ends, a source alert that resolves or a quiet window that closes releases it. The
decision is kept on the alert (``routing``) and per route in ``alert_routes``. Celery-free: time
and the database come in as arguments; ``tasks.py`` counts the outcomes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.database import Database

from ragtasks_core.alerting.matchers import MatcherError
from ragtasks_core.alerting.silences import Silence, next_change
from ragtasks_core.contract.alerter import RaiseAlert
from ragtasks_core.documents import alert_routes as routes_doc
from ragtasks_core.documents import silences as silences_doc
from ragtasks_core.documents.alert_routes import ALERT_ROUTES
from ragtasks_core.documents.alerts import ALERTS, GROUPS

from . import store
from .routing import Decision, FiringAlert, RouteDecision, Router, routing_labels
from .routing.inhibit import source_candidates

log = logging.getLogger(__name__)


@dataclass
class Routed:
    """What raising or flushing did: groups to flush (and when), notifications, counted outcomes."""

    alert_id: str | None = None
    armed: list[tuple[str, datetime]] = field(default_factory=list)
    notifications: list[str] = field(default_factory=list)
    # (receiver kind, outcome) for each route whose outcome is new: ragtasks_alerts_total.
    outcomes: list[tuple[str, str]] = field(default_factory=list)

    def merge(self, other: Routed) -> None:
        self.armed += other.armed
        self.notifications += other.notifications
        self.outcomes += other.outcomes


# --- deciding ----------------------------------------------------------------------------------


def decide(db: Database, router: Router, doc: dict[str, Any], now: datetime) -> tuple[Decision, list[tuple[str, str]]]:
    """Decide one alert now, record the decision on it and on its routes; the changed outcomes."""
    labels = _labels(doc)
    silences = _unexpired_silences(db, now)
    decision = router.decide(doc["_id"], labels, now, silences=silences, firing=_sources(db, router, now))
    db[ALERTS].update_one({"_id": doc["_id"]}, {"$set": {"routing": decision.as_record() | {"decided_at": now}}})
    changed: list[tuple[str, str]] = []
    for route in decision.routes:
        before = _record_route(db, doc, route, _hold_until(route, silences, labels, now), now)
        if before is None or before.get("outcome") != route.outcome:
            changed.append((router.config.receiver(route.receiver).kind, route.outcome))
    # A resolution reaches every route the alert was ever on, matched now or not.
    db[ALERT_ROUTES].update_many(
        {"alert_id": doc["_id"], "status": {"$ne": doc["status"]}},
        {"$set": {"status": doc["status"], "updated_at": now}},
    )
    return decision, changed


def _unexpired_silences(db: Database, now: datetime) -> list[Silence]:
    """The silences in force or pending. One whose matchers no longer parse (a regex Python's ``re``
    took before matchers moved to RE2, such as ``a\\Z``) is left out with a warning: it must not
    make every routing decision fail, nor silence anything in a way nobody can read."""
    found = []
    for doc in db[silences_doc.SILENCES].find(silences_doc.unexpired(now)):
        try:
            found.append(silences_doc.to_silence(doc))
        except MatcherError as exc:
            log.warning("silence %s ignored: %s; expire it and create it again", doc.get("_id"), exc)
    return found


def _labels(doc: dict[str, Any]) -> dict[str, str]:
    return routing_labels(doc.get("labels") or {}, source=doc["source"], severity=doc["severity"])


def _sources(db: Database, router: Router, now: datetime) -> list[FiringAlert]:
    """Firing alerts that could inhibit others (only loaded when there are inhibit rules)."""
    rules = router.config.inhibit_rules
    if not rules:
        return []
    cursor = db[ALERTS].find({"open": True, "status": "firing"}, {"labels": 1, "source": 1, "severity": 1})
    return source_candidates(rules, [FiringAlert(d["_id"], _labels(d)) for d in cursor])


def _hold_until(
    route: RouteDecision, silences: list[Silence], labels: dict[str, str], now: datetime
) -> datetime | None:
    """When a held route is worth deciding again (None: every sweep, as for inhibition)."""
    if route.outcome == "muted":
        return route.muted_until
    if route.outcome == "silenced":
        return next_change(silences, labels, now)
    return None


def _record_route(
    db: Database, doc: dict[str, Any], route: RouteDecision, hold_until: datetime | None, now: datetime
) -> dict[str, Any] | None:
    options = route.match.options
    before: dict[str, Any] | None = db[ALERT_ROUTES].find_one_and_update(
        {"_id": routes_doc.route_id(doc["_id"], options.path)},
        {
            "$set": {
                "alert_id": doc["_id"],
                "receiver": options.receiver,
                "route": options.path,
                "group_id": route.match.group_id,
                "group_key": route.match.group_key,
                "title": route.match.title,
                "status": doc["status"],
                "outcome": route.outcome,
                "hold_until": hold_until,
                "group_wait": options.timing.group_wait,
                "group_interval": options.timing.group_interval,
                "repeat_interval": options.timing.repeat_interval,
                "updated_at": now,
            },
            "$setOnInsert": {
                "notified_status": None,
                "last_notified_at": None,
                "next_repeat_at": None,
                "created_at": now,
            },
        },
        upsert=True,
        return_document=ReturnDocument.BEFORE,
    )
    return before


# --- raising -----------------------------------------------------------------------------------


def raise_alert(db: Database, router: Router, alert: RaiseAlert, now: datetime) -> Routed:
    ingested = store.ingest(db, alert, now)
    if ingested is None:
        return Routed()
    doc = db[ALERTS].find_one({"_id": ingested.alert_id})
    if doc is None:  # pragma: no cover - just written
        return Routed()
    decision, outcomes = decide(db, router, doc, now)
    result = Routed(alert_id=doc["_id"], outcomes=outcomes)
    if ingested.changed:  # a new episode or a resolution; a repeat only counts occurrences
        for route in decision.routes:
            flush_at = _flush_time(db, route, now)
            if store.arm_group(db, route.match.group_id, flush_at):
                result.armed.append((route.match.group_id, flush_at))
    return result


def _flush_time(db: Database, route: RouteDecision, now: datetime) -> datetime:
    """``group_wait`` for a new (or idle) group; the next ``group_interval`` tick for a busy one."""
    timing = route.match.options.timing
    group = db[GROUPS].find_one({"_id": route.match.group_id}, {"last_flush_at": 1})
    last = group.get("last_flush_at") if group else None
    if last is not None and last + timedelta(seconds=timing.group_interval) > now:
        return last + timedelta(seconds=timing.group_interval)
    return now + timedelta(seconds=timing.group_wait)


# --- flushing ----------------------------------------------------------------------------------


def flush_group(db: Database, router: Router, group_id: str, now: datetime) -> Routed:
    """If the group's wait is over: decide its due alerts again and send the routed ones as one
    notification to the group's receiver. Held ones stay due; resolutions that are held are
    dropped (nothing fires any more to be said later)."""
    result = Routed()
    if not store.claim_group(db, group_id, now):
        return result
    due = list(db[ALERT_ROUTES].find(routes_doc.due_in_group(group_id, now)).sort("created_at", ASCENDING))
    alerts = {d["_id"]: d for d in db[ALERTS].find({"_id": {"$in": [r["alert_id"] for r in due]}})}
    send: list[tuple[dict[str, Any], dict[str, Any]]] = []
    target: RouteDecision | None = None
    for route in due:
        doc = alerts.get(route["alert_id"])
        if doc is None:
            continue
        decision, outcomes = decide(db, router, doc, now)
        result.outcomes += outcomes
        here = next((r for r in decision.routes if r.match.group_id == group_id and r.outcome == "routed"), None)
        if here is not None:
            send.append((route, doc))
            target = here
        elif doc["status"] == "resolved":
            _mark_routes(db, [(route, doc)], now)
    if target is not None:
        result.notifications.append(_notify(db, router, target, send, now))
    return result


def _notify(
    db: Database,
    router: Router,
    target: RouteDecision,
    send: list[tuple[dict[str, Any], dict[str, Any]]],
    now: datetime,
) -> str:
    receiver = router.config.receiver(target.receiver)
    views = [store.view(doc) for _, doc in send]
    extra = {"receiver": receiver.name, "title": target.match.title}
    nid = store.create_notification(db, target.match.group_id, receiver.kind, views, now, extra=extra)
    store.mark_notified(db, [doc for _, doc in send], {receiver.name: nid}, now)
    _mark_routes(db, send, now)
    return nid


def _mark_routes(db: Database, sent: list[tuple[dict[str, Any], dict[str, Any]]], now: datetime) -> None:
    for route, doc in sent:
        firing = doc["status"] == "firing"
        repeat_at = now + timedelta(seconds=float(route["repeat_interval"])) if firing else None
        db[ALERT_ROUTES].update_one(
            {"_id": route["_id"], "status": doc["status"]},
            {"$set": {"notified_status": doc["status"], "last_notified_at": now, "next_repeat_at": repeat_at}},
        )


# --- the periodic sweep ------------------------------------------------------------------------


def arm_waiting(db: Database, now: datetime, *, settle_seconds: float) -> list[str]:
    """Arm the groups the sweep must flush now: held alerts to decide again, repeats, lost flushes."""
    keys = {
        d["group_id"] for d in db[ALERT_ROUTES].find(routes_doc.needing_flush(now, settle_seconds), {"group_id": 1})
    }
    return [key for key in sorted(keys) if store.arm_group(db, key, now)]


def periodic(db: Database, router: Router, now: datetime, *, settle_seconds: float) -> Routed:
    result = Routed()
    arm_waiting(db, now, settle_seconds=settle_seconds)
    for group_id in store.due_groups(db, now):
        result.merge(flush_group(db, router, group_id, now))
    return result
