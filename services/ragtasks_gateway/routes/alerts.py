"""Alerts: raise one by hand, accept Alertmanager's webhook, list history and dead letters, redeliver.

No response ever carries a webhook URL: channels are named (``wecom``, ``webhook``), and the
URLs live only in the workers' settings.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ragtasks_core.contract import ID_PATTERN, TaskName
from ragtasks_core.contract.alerter import DeliverAlert, RaiseAlert

from .. import alerts_store
from ..alerts_alertmanager import AlertmanagerPayload, to_alert
from ..deps import DbDep, PublisherDep, require_api_key
from ..publisher import PublishError

router = APIRouter(prefix="/v1/alerts", tags=["alerts"], dependencies=[Depends(require_api_key)])
AlertId = Annotated[str, Path(pattern=ID_PATTERN)]


class AlertIn(BaseModel):
    """A manual (or any other system's) alert: ``RaiseAlert`` with friendlier defaults."""

    model_config = ConfigDict(extra="forbid")

    # What makes two alerts "the same one" (dedup, occurrences, resolve). Left out, it is derived
    # from source, title and labels, so resending the same alert stays one alert.
    fingerprint: str | None = None
    severity: Literal["critical", "warning", "info"] = "warning"
    title: str
    body: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    source: str = "api"
    status: Literal["firing", "resolved"] = "firing"
    starts_at: datetime | None = None
    ends_at: datetime | None = None


class Accepted(BaseModel):
    accepted: int
    task_ids: list[str]


class Attempt(BaseModel):
    at: datetime
    channel: str | None = None
    outcome: str
    detail: str = ""
    notification_id: str | None = None


class AlertOut(BaseModel):
    id: str
    fingerprint: str
    status: str
    severity: str
    title: str
    body: str
    labels: dict[str, str]
    source: str
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    occurrences: int
    notified_status: str | None = None
    last_notified_at: datetime | None = None
    # The worst state over the channels: dead > retrying > pending > sent.
    delivery_state: str
    # The channel of the latest attempt.
    delivery_channel: str | None = None
    # Per channel (wecom, webhook): a dead-lettered notification on a channel shows as dead until
    # it is redelivered, whatever happens on the other channel.
    delivery_channels: dict[str, str] = Field(default_factory=dict)
    attempts: list[Attempt]


class AlertList(BaseModel):
    alerts: list[AlertOut]


class Redelivered(BaseModel):
    alert_id: str
    notification_ids: list[str]


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
    )


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
async def raise_alert(body: AlertIn, publisher: PublisherDep, db: DbDep) -> Accepted:
    fields = body.model_dump()
    if fields["fingerprint"] is None:
        fields["fingerprint"] = derived_fingerprint(body.source, body.title, body.labels)
    try:
        alert = RaiseAlert.model_validate(fields)
    except ValidationError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, exc.errors(include_url=False, include_input=False)
        ) from exc
    return await _publish(publisher, db, [alert])


@router.post("/alertmanager", response_model=Accepted, status_code=status.HTTP_202_ACCEPTED)
async def alertmanager(body: AlertmanagerPayload, publisher: PublisherDep, db: DbDep) -> Accepted:
    """Alertmanager ``webhook_configs`` receiver: each alert of the payload is raised or resolved."""
    return await _publish(publisher, db, [to_alert(a) for a in body.alerts])


@router.get("", response_model=AlertList)
async def list_alerts(
    db: DbDep,
    status_: Annotated[Literal["firing", "resolved", "dead"] | None, Query(alias="status")] = None,
    source: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AlertList:
    docs = await alerts_store.list_alerts(db, status=status_, source=source, limit=limit)
    dead = await alerts_store.dead_channels(db, [d["_id"] for d in docs])
    return AlertList(alerts=[_out(d, dead.get(d["_id"], set())) for d in docs])


@router.get("/{alert_id}", response_model=AlertOut)
async def get_alert(alert_id: AlertId, db: DbDep) -> AlertOut:
    doc = await alerts_store.get_alert(db, alert_id)
    if doc is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"alert {alert_id!r} not found")
    dead = await alerts_store.dead_channels(db, [alert_id])
    return _out(doc, dead.get(alert_id, set()))


@router.post("/{alert_id}/redeliver", response_model=Redelivered, status_code=status.HTTP_202_ACCEPTED)
async def redeliver(alert_id: AlertId, db: DbDep, publisher: PublisherDep) -> Redelivered:
    """Send a dead-lettered alert again, through the channel settings the workers have *now*."""
    doc = await alerts_store.get_alert(db, alert_id)
    if doc is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"alert {alert_id!r} not found")
    ids = await alerts_store.redeliver(db, alert_id)
    if not ids:
        state = (doc.get("delivery") or {}).get("state", "pending")
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"alert {alert_id!r} has no dead-lettered notification (delivery: {state})"
        )
    for nid in ids:
        # Re-armed in Mongo already: if the broker is away, the alerter's periodic sweep publishes it.
        with contextlib.suppress(PublishError):
            await publisher.publish(TaskName.DELIVER_ALERT, DeliverAlert(notification_id=nid))
    return Redelivered(alert_id=alert_id, notification_ids=ids)
