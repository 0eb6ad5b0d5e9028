"""Bodies of ``/v1/alerts`` (Alertmanager's own payload is in ``alerts_alertmanager``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ragtasks_core.contract.alerter import Body, Fingerprint, Labels, Source, Title
from ragtasks_core.contract.common import UtcDatetime
from ragtasks_core.text import is_blank

from ..alerts_alertmanager import Skipped


class AlertIn(BaseModel):
    """A manual (or any other system's) alert: ``RaiseAlert`` with friendlier defaults, and its
    rules (the same types), so a bad field is refused here with the standard 422."""

    model_config = ConfigDict(extra="forbid")

    # What makes two alerts "the same one" (dedup, occurrences, resolve). Left out, it is derived
    # from source, title and labels, so resending the same alert stays one alert.
    fingerprint: Fingerprint | None = None
    severity: Literal["critical", "warning", "info"] = "warning"
    title: Title
    body: Body = ""
    labels: Labels = Field(default_factory=dict)
    source: Source = "api"
    status: Literal["firing", "resolved"] = "firing"
    starts_at: UtcDatetime | None = None  # without a zone: UTC
    ends_at: UtcDatetime | None = None

    @field_validator("title")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if is_blank(value):
            raise ValueError("title must not be blank")
        return value


class Accepted(BaseModel):
    accepted: int
    task_ids: list[str]
    # Alerts of a batch that could not be taken (index in the batch, fingerprint, reason).
    skipped: list[Skipped] = Field(default_factory=list)


class Attempt(BaseModel):
    at: datetime
    channel: str | None = None
    outcome: str
    detail: str = ""
    notification_id: str | None = None


class RoutedTo(BaseModel):
    """One place a routes file sends the alert, and what happened there."""

    receiver: str
    route: str  # the route node, e.g. route.routes[0]
    group_key: str
    outcome: Literal["routed", "silenced", "inhibited", "muted"]
    muted_until: datetime | None = None


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
    # The routing decision, with a routes file (RAGTASKS_ALERT_ROUTES_FILE), as last made.
    routed_to: list[RoutedTo] = Field(default_factory=list)
    silenced_by: list[str] = Field(default_factory=list)
    inhibited_by: str | None = None
    muted_until: datetime | None = None
    decided_at: datetime | None = None
    # The key that raised it, or the owner of the KB it is about; None: a system alert.
    created_by: str | None = None


class AlertList(BaseModel):
    alerts: list[AlertOut]


class Redelivered(BaseModel):
    alert_id: str
    notification_ids: list[str]
