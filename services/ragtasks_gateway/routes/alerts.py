"""Alerts: raise one by hand, accept Alertmanager's webhook, list history and dead letters, redeliver.

No response ever carries a webhook URL: channels are named (``wecom``, ``webhook``), and the
URLs live only in the workers' settings.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from pydantic import ValidationError

from ragtasks_core import outbox
from ragtasks_core.contract import ID_PATTERN, TaskName
from ragtasks_core.contract.alerter import DeliverAlert, RaiseAlert

from .. import ownership
from ..alerts_alertmanager import AlertmanagerBatch, convert
from ..deps import CallerDep, DbDep, PublisherDep, require_api_key
from ..models.alerts import Accepted, AlertIn, AlertList, AlertOut, Attempt, Redelivered, RoutedTo
from ..safe_body import ItemsJsonRoute, SafeJsonRoute
from ..stores import alerts as alerts_store

log = logging.getLogger(__name__)
router = APIRouter(
    prefix="/v1/alerts", tags=["alerts"], dependencies=[Depends(require_api_key)], route_class=SafeJsonRoute
)
# Alertmanager's batches: the JSON rule is applied alert by alert (one bad alert is skipped alone).
alertmanager_router = APIRouter(
    prefix="/v1/alerts", tags=["alerts"], dependencies=[Depends(require_api_key)], route_class=ItemsJsonRoute
)
AlertId = Annotated[str, Path(pattern=ID_PATTERN)]


_STATE_ORDER = ("dead", "retrying", "pending", "sent")


def _channel_states(doc: dict[str, Any], dead: set[str]) -> tuple[str, dict[str, str]]:
    delivery = doc.get("delivery") or {}
    per_channel = dict(delivery.get("channels") or {}) | dict.fromkeys(dead, "dead")
    states = set(per_channel.values()) or {delivery.get("state", "pending")}
    worst = next((s for s in _STATE_ORDER if s in states), delivery.get("state", "pending"))
    return worst, per_channel


def _out(doc: dict[str, Any], dead: set[str]) -> AlertOut:
    delivery = doc.get("delivery") or {}
    state, per_channel = _channel_states(doc, dead)
    return AlertOut(
        id=doc["_id"],
        fingerprint=doc["fingerprint"],
        status=doc["status"],
        severity=doc["severity"],
        title=doc["title"],
        body=doc["body"],
        labels=doc.get("labels") or {},
        source=doc["source"],
        starts_at=doc.get("starts_at"),
        ends_at=doc.get("ends_at"),
        occurrences=int(doc.get("occurrences") or 1),
        notified_status=doc.get("notified_status"),
        last_notified_at=doc.get("last_notified_at"),
        delivery_state=state,
        delivery_channel=delivery.get("channel"),
        delivery_channels=per_channel,
        attempts=[Attempt(**a) for a in (doc.get("attempts") or [])[-alerts_store.ATTEMPTS_SHOWN :]],
        created_by=doc.get("created_by"),
        **_routing(doc.get("routing") or {}),
    )


def _routing(record: dict[str, Any]) -> dict[str, Any]:
    """The alerter's last routing decision (``routing`` on the alert) as the API shows it."""
    routed_to = [RoutedTo(**r) for r in record.get("routed_to") or []]
    muted = [r.muted_until for r in routed_to if r.outcome == "muted" and r.muted_until is not None]
    return {
        "routed_to": routed_to,
        "silenced_by": list(record.get("silenced_by") or []),
        "inhibited_by": record.get("inhibited_by"),
        "muted_until": min(muted) if muted else None,
        "decided_at": record.get("decided_at"),
    }


def derived_fingerprint(source: str, title: str, labels: dict[str, str]) -> str:
    identity = json.dumps([source, title, sorted(labels.items())], ensure_ascii=False)
    return f"{source}:{hashlib.sha256(identity.encode()).hexdigest()[:16]}"[:256]


async def _publish(publisher: PublisherDep, db: DbDep, alerts: list[RaiseAlert]) -> Accepted:
    """Through the outbox: with the broker away the alerts are recorded and the sweep sends them."""
    task_ids = []
    for alert in alerts:
        task_id, _ = await publisher.publish_reliably(TaskName.RAISE_ALERT, alert, db=db)
        task_ids.append(task_id)
    return Accepted(accepted=len(task_ids), task_ids=task_ids)


@router.post("", response_model=Accepted, status_code=status.HTTP_202_ACCEPTED)
async def raise_alert(body: AlertIn, publisher: PublisherDep, db: DbDep, caller: CallerDep) -> Accepted:
    fields = body.model_dump()
    if fields["fingerprint"] is None:
        fields["fingerprint"] = derived_fingerprint(body.source, body.title, body.labels)
    fields["fingerprint"] = ownership.alert_fingerprint(fields["fingerprint"], caller)
    fields["created_by"] = caller.owner  # who raised it: the alert's owner (docs/security.md)
    try:
        alert = RaiseAlert.model_validate(fields)
    except ValidationError as exc:
        # AlertIn takes RaiseAlert's field types, so this is only a safety net. Without the context
        # (it holds the raised exception, which JSON cannot encode: a 500 and a dropped connection).
        detail = exc.errors(include_url=False, include_input=False, include_context=False)
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail) from exc
    return await _publish(publisher, db, [alert])


@alertmanager_router.post("/alertmanager", response_model=Accepted, status_code=status.HTTP_202_ACCEPTED)
async def alertmanager(body: AlertmanagerBatch, publisher: PublisherDep, db: DbDep, caller: CallerDep) -> Accepted:
    """Alertmanager ``webhook_configs`` receiver: each alert of the payload is raised or resolved.

    An alert that breaks the rules is skipped and listed in ``skipped`` with the reason; the
    others are accepted (202). Only when none is valid is the batch refused (422): a resend
    would fail the same way, and Alertmanager does not retry a 4xx."""
    alerts, skipped = convert(body.alerts, caller.owner)
    alerts = [a.model_copy(update={"fingerprint": ownership.alert_fingerprint(a.fingerprint, caller)}) for a in alerts]
    for item in skipped:
        log.warning("alertmanager alert %d skipped: %s", item.index, item.reason)
    if not alerts:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, [s.model_dump() for s in skipped])
    accepted = await _publish(publisher, db, alerts)
    return accepted.model_copy(update={"skipped": skipped})


@router.get("", response_model=AlertList)
async def list_alerts(
    db: DbDep,
    caller: CallerDep,
    status_: Annotated[Literal["firing", "resolved", "dead"] | None, Query(alias="status")] = None,
    source: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AlertList:
    docs = await alerts_store.list_alerts(db, status=status_, source=source, limit=limit, caller=caller)
    dead = await alerts_store.dead_channels(db, [d["_id"] for d in docs])
    return AlertList(alerts=[_out(d, dead.get(d["_id"], set())) for d in docs])


@router.get("/{alert_id}", response_model=AlertOut)
async def get_alert(alert_id: AlertId, db: DbDep, caller: CallerDep) -> AlertOut:
    doc = await alerts_store.get_alert(db, alert_id)
    if doc is None or not ownership.may_see(doc, caller):  # another key's alert: the same 404 as none
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"alert {alert_id!r} not found")
    dead = await alerts_store.dead_channels(db, [alert_id])
    return _out(doc, dead.get(alert_id, set()))


@router.post("/{alert_id}/redeliver", response_model=Redelivered, status_code=status.HTTP_202_ACCEPTED)
async def redeliver(alert_id: AlertId, db: DbDep, publisher: PublisherDep, caller: CallerDep) -> Redelivered:
    """Send a dead-lettered alert again, through the channel settings the workers have *now*."""
    doc = await alerts_store.get_alert(db, alert_id)
    if doc is None or not ownership.may_see(doc, caller):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"alert {alert_id!r} not found")
    ids = await alerts_store.redeliver(db, alert_id)
    if not ids:
        state = (doc.get("delivery") or {}).get("state", "pending")
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"alert {alert_id!r} has no dead-lettered notification (delivery: {state})"
        )
    for nid in ids:
        # Re-armed in Mongo already: if the broker is away, the alerter's periodic sweep publishes it.
        await publisher.publish_after_write(
            TaskName.DELIVER_ALERT, DeliverAlert(notification_id=nid), task_id=outbox.new_task_id()
        )
    return Redelivered(alert_id=alert_id, notification_ids=ids)
