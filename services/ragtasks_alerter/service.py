"""The alert pipeline: record -> group wait -> one notification per channel -> deliver.

Celery-free (tasks.py maps its results to retries and metrics); time and I/O come in as arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from pymongo.database import Database

from ragtasks_core.alerting.rules import retrieval_alert, rule_from
from ragtasks_core.alerting.window import RetrievalWindows
from ragtasks_core.contract.alerter import RaiseAlert
from ragtasks_core.settings import Settings

from . import channels, routed, store
from .format import AlertView, MessageStyle
from .policy import AttemptResult, decide
from .routing import Router

# A deliver task that has not run this long after its notification was due is taken as lost.
STUCK_GRACE_SECONDS = 30.0
# A notification being sent is leased this long (beyond the HTTP timeout) before the sweep retakes it.
LEASE_MARGIN_SECONDS = 30.0


def configured_channels(settings: Settings) -> list[str]:
    found = [name for name in channels.CHANNELS if channel_url(settings, name) is not None]
    # With no channel at all the notification still goes to WeCom's outbox: it is dead-lettered
    # ("not configured") and can be redelivered once the webhook is set -- never silently lost.
    return found or [channels.WECOM]


def channel_url(settings: Settings, channel: str) -> str | None:
    secret = settings.wecom_webhook_url if channel == channels.WECOM else settings.alert_webhook_url
    return secret.get_secret_value() if secret is not None else None


# --- raising -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Raised:
    alert_id: str | None
    group_key: str
    flush_at: datetime | None  # set when this alert started the group's wait


def raise_alert(db: Database, alert: RaiseAlert, now: datetime, *, group_wait: float) -> Raised:
    ingested = store.ingest(db, alert, now)
    if ingested is None:
        return Raised(None, alert.source, None)
    flush_at = now + timedelta(seconds=group_wait)
    armed = ingested.changed and store.arm_group(db, ingested.group_key, flush_at)
    return Raised(ingested.alert_id, ingested.group_key, flush_at if armed else None)


# --- flushing ----------------------------------------------------------------------------------


def flush_group(db: Database, group_key: str, now: datetime, settings: Settings) -> list[str]:
    """If the group's wait is over, turn its due alerts into one notification per channel."""
    if not store.claim_group(db, group_key, now):
        return []
    due = store.alerts_to_notify(db, group_key, now, repeat_seconds=settings.alert_repeat_interval_seconds)
    if not due:
        return []
    views = [store.view(doc) for doc in due]
    ids = {ch: store.create_notification(db, group_key, ch, views, now) for ch in configured_channels(settings)}
    store.mark_notified(db, due, ids, now)
    return list(ids.values())


@dataclass
class Sweep:
    resolved: list[str]
    notifications: list[str]
    republish: list[str]
    # With a routes file: (receiver kind, outcome) of the decisions that changed.
    outcomes: list[tuple[str, str]] = field(default_factory=list)


def periodic(
    db: Database, windows: RetrievalWindows | None, now: datetime, settings: Settings, router: Router | None = None
) -> Sweep:
    """Beat's flush: rule clearing, auto-resolve, lost or repeating groups, stuck deliveries;
    with a routes file, also the held alerts (silenced, inhibited, muted) decided again."""
    sweep = Sweep([], [], [])

    def raise_(alert: RaiseAlert, group_wait: float) -> str | None:
        if router is None:
            return raise_alert(db, alert, now, group_wait=group_wait).alert_id
        done = routed.raise_alert(db, router, alert, now)
        sweep.outcomes.extend(done.outcomes)
        return done.alert_id

    resolved = sweep.resolved
    if windows is not None:
        rule = rule_from(settings)
        for kb, counts in windows.record({kb: (0, 0) for kb in windows.firing()}).items():
            if counts.firing and not rule.breached(counts.total, counts.empty) and windows.transition(kb, "resolve"):
                alert = retrieval_alert(rule, kb, firing=False, total=counts.total, empty=counts.empty, now=now)
                raise_(alert, settings.alert_group_wait_seconds)
                resolved.append(alert.fingerprint)
    for doc in store.expired_open_alerts(db, now):
        if raise_(_resolution(doc["fingerprint"]), 0) is not None:
            resolved.append(doc["fingerprint"])
    if router is not None:
        swept = routed.periodic(db, router, now, settle_seconds=router.max_group_wait() + 1)
        sweep.notifications, sweep.outcomes = swept.notifications, sweep.outcomes + swept.outcomes
        sweep.republish = store.stuck_notifications(db, now, STUCK_GRACE_SECONDS)
        return sweep
    # Groups with an unnotified change (a lost or never-armed flush) or a repeat due: flush now.
    for group_key in store.groups_needing_flush(
        db,
        now,
        repeat_seconds=settings.alert_repeat_interval_seconds,
        settle_seconds=settings.alert_group_wait_seconds + 1,
    ):
        store.arm_group(db, group_key, now)
    notifications: list[str] = []
    for group_key in store.due_groups(db, now):
        notifications += flush_group(db, group_key, now, settings)
    sweep.notifications = notifications
    sweep.republish = store.stuck_notifications(db, now, STUCK_GRACE_SECONDS)
    return sweep


def _resolution(fingerprint: str) -> RaiseAlert:
    return RaiseAlert(
        fingerprint=fingerprint, severity="info", title="-", body="", labels={}, source="expired", status="resolved"
    )


# --- delivering --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivered:
    action: Literal["sent", "retry", "dead", "skipped"]
    channel: str = ""
    delay: float = 0.0
    # The metric outcome of the HTTP attempt made, if one was: sent | failed | dead.
    attempt_outcome: str | None = None
    detail: str = ""


# (channel, url) -> None once a rate-limiter slot is taken, else the seconds until one is free.
Acquire = Callable[[str, str], float | None]
Send = Callable[[str, str, dict[str, Any]], AttemptResult]  # (channel, url, body)


def deliver(
    db: Database,
    nid: str,
    now: Callable[[], datetime],
    settings: Settings,
    *,
    acquire: Acquire,
    send: Send,
    worker: str,
    router: Router | None = None,
) -> Delivered:
    """One delivery attempt of a notification (idempotent: only the claimer sends)."""
    lease = settings.alert_http_timeout_seconds + settings.alert_rate_limit_max_wait_seconds + LEASE_MARGIN_SECONDS
    note = store.claim_notification(db, nid, now(), lease)
    if note is None:
        return _not_claimed(db, nid, now())
    channel = note["channel"]
    url, detail, build = _target(settings, note, router)
    if url is None:
        store.record_attempt(db, note, state="dead", outcome="dead", detail=detail, worker=worker, now=now())
        return Delivered("dead", channel, attempt_outcome="dead", detail=detail)
    defer = acquire(channel, url)
    if defer is not None:
        # No rate-limiter slot soon enough: give the claim back and come again (not a failure).
        delay = max(0.5, defer)
        store.release_notification(db, nid, now() + timedelta(seconds=delay), now())
        return Delivered("retry", channel, delay=delay, detail="rate limited locally")
    alerts = [_snapshot_view(a) for a in note["alerts"]]
    result = send(channel, url, build(alerts, channels.message_style(settings)))
    decision = decide(
        result,
        failures_so_far=int(note.get("failures") or 0),
        max_retries=settings.alert_max_retries,
        base=settings.alert_retry_base_seconds,
        cap=settings.alert_retry_max_seconds,
        rate_limited_min=settings.wecom_rate_limited_retry_seconds,
    )
    at = now()
    if decision.action == "retry":
        store.record_attempt(
            db,
            note,
            state="pending",
            outcome="failed",
            detail=result.detail,
            worker=worker,
            now=at,
            next_attempt_at=at + timedelta(seconds=decision.delay),
            failed=decision.counts_as_failure,
        )
        return Delivered("retry", channel, decision.delay, "failed", result.detail)
    outcome = "sent" if decision.action == "sent" else "dead"
    store.record_attempt(db, note, state=outcome, outcome=outcome, detail=result.detail, worker=worker, now=at)
    return Delivered(decision.action, channel, attempt_outcome=outcome, detail=result.detail)


Build = Callable[[list[AlertView], MessageStyle], dict[str, Any]]


def _target(settings: Settings, note: dict[str, Any], router: Router | None) -> tuple[str | None, str, Build]:
    """The URL (or why there is none) and the body builder: a routed notification's receiver, as
    the routes file says now, else the channel's setting."""
    channel, name = note["channel"], note.get("receiver")
    if name is None:
        detail = f"channel {channel} is not configured (RAGTASKS_{_setting_name(channel)} is not set)"
        return (
            channel_url(settings, channel),
            detail,
            lambda a, s: channels.build_request(channel, note["group_key"], a, s),
        )
    receiver = router.config.receivers_by_name().get(name) if router is not None else None
    if receiver is None:
        return None, f"receiver {name} is not in the routes file", lambda a, s: {}
    url, detail = channels.receiver_url(receiver)
    return url, detail, lambda a, s: channels.routed_request(receiver, str(note.get("title") or ""), a, s)


def _not_claimed(db: Database, nid: str, now: datetime) -> Delivered:
    note = store.get_notification(db, nid)
    if note is None or note["state"] != "pending":
        return Delivered("skipped")
    # Pending but not yet due (an early duplicate): come back when it is.
    remaining = (note["next_attempt_at"] - now).total_seconds()
    return Delivered("retry", note["channel"], delay=max(0.5, remaining), detail="not due yet")


def _snapshot_view(doc: dict[str, Any]) -> AlertView:
    return AlertView(
        id=doc["id"],
        fingerprint=doc["fingerprint"],
        status=doc["status"],
        severity=doc["severity"],
        title=doc["title"],
        body=doc["body"],
        source=doc["source"],
        labels=dict(doc.get("labels") or {}),
        starts_at=doc.get("starts_at"),
        ends_at=doc.get("ends_at"),
        occurrences=int(doc.get("occurrences") or 1),
    )


def _setting_name(channel: str) -> str:
    return "WECOM_WEBHOOK_URL" if channel == channels.WECOM else "ALERT_WEBHOOK_URL"
