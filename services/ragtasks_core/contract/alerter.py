"""Payloads of the alerter queue: one alert model for every source, plus the pipeline's own tasks."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from . import TaskName
from .common import Id, Payload

MAX_TITLE_CHARS = 256
MAX_BODY_CHARS = 8_000
MAX_LABELS = 32
MAX_LABEL_KEY_CHARS = 64
MAX_LABEL_VALUE_CHARS = 256

Fingerprint = Annotated[str, StringConstraints(min_length=1, max_length=256, strip_whitespace=True)]
Source = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")]


class RaiseAlert(Payload):
    """Raise (or resolve) one alert (``ragtasks.alerter.raise_alert``).

    Alerts with the same ``fingerprint`` are one alert: a repeat while it is firing only counts
    an occurrence. ``status="resolved"`` ends the open episode of that fingerprint. Alerts of one
    ``source`` raised within the group wait go out as one message.
    """

    fingerprint: Fingerprint
    severity: Literal["critical", "warning", "info"]
    title: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TITLE_CHARS)]
    body: Annotated[str, StringConstraints(max_length=MAX_BODY_CHARS)]
    labels: dict[str, str] = Field(max_length=MAX_LABELS)
    source: Source
    status: Literal["firing", "resolved"] = "firing"
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    # The name of the API key that raised it (set by the gateway, never by the caller's body): the
    # alert's owner under RAGTASKS_API_KEY_ISOLATION. None for alerts the system raises.
    created_by: Annotated[str, StringConstraints(min_length=1, max_length=MAX_LABEL_KEY_CHARS)] | None = None

    @field_validator("labels")
    @classmethod
    def _bounded_labels(cls, value: dict[str, str]) -> dict[str, str]:
        for key, item in value.items():
            if not key or len(key) > MAX_LABEL_KEY_CHARS or key.startswith("$") or "." in key:
                raise ValueError(f"label names must be 1-{MAX_LABEL_KEY_CHARS} characters without '$' or '.'")
            if len(item) > MAX_LABEL_VALUE_CHARS:
                raise ValueError(f"label {key!r} is longer than {MAX_LABEL_VALUE_CHARS} characters")
        return value


class FlushAlerts(Payload):
    """Notify what is due (``ragtasks.alerter.flush_alerts``).

    With a ``group_key``: flush that group if its group wait is over. Without one (beat): the
    periodic duties too -- rule clearing, repeats, auto-resolve, stuck deliveries.
    """

    group_key: Source | None = None


class DeliverAlert(Payload):
    """Deliver one stored notification to its channel (``ragtasks.alerter.deliver``)."""

    notification_id: Id


# The map behind docs/schemas and ``ragtasks publish`` (see ``contract.registry``); the ping takes
# the bare versioned envelope {"v": 1}.
TASK_PAYLOADS: dict[TaskName, type[Payload]] = {
    TaskName.RAISE_ALERT: RaiseAlert,
    TaskName.FLUSH_ALERTS: FlushAlerts,
    TaskName.DELIVER_ALERT: DeliverAlert,
}
