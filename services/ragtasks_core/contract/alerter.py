"""Payloads of the alerter queue: one alert model for every source, plus the pipeline's own tasks."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from . import TaskName
from .common import Id, Payload, UtcDatetime

MAX_TITLE_CHARS = 256
MAX_BODY_CHARS = 8_000
MAX_LABELS = 32
MAX_LABEL_KEY_CHARS = 64
MAX_LABEL_VALUE_CHARS = 256

Fingerprint = Annotated[str, StringConstraints(min_length=1, max_length=256, strip_whitespace=True)]
Source = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")]
Title = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TITLE_CHARS)]
Body = Annotated[str, StringConstraints(max_length=MAX_BODY_CHARS)]


def _label_name(key: str) -> str:
    # Labels are stored as the keys of a Mongo document, where '$' and '.' are operators and paths.
    if key.startswith("$") or "." in key:
        raise ValueError("label names must not start with '$' or contain '.'")
    return key


LabelName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_LABEL_KEY_CHARS),
    AfterValidator(_label_name),
    Field(json_schema_extra={"not": {"pattern": r"^\$|\."}}),  # the rule above, for the schema's readers
]
LabelValue = Annotated[str, StringConstraints(max_length=MAX_LABEL_VALUE_CHARS)]
# The one definition of an alert's labels: the payload and the gateway's bodies both take it, so a
# bad label is the gateway's 422 and stated in its OpenAPI schema.
Labels = Annotated[dict[LabelName, LabelValue], Field(max_length=MAX_LABELS)]


class RaiseAlert(Payload):
    """Raise (or resolve) one alert (``ragtasks.alerter.raise_alert``).

    Alerts with the same ``fingerprint`` are one alert: a repeat while it is firing only counts
    an occurrence. ``status="resolved"`` ends the open episode of that fingerprint. Alerts of one
    ``source`` raised within the group wait go out as one message.
    """

    fingerprint: Fingerprint
    severity: Literal["critical", "warning", "info"]
    title: Title
    body: Body
    labels: Labels
    source: Source
    status: Literal["firing", "resolved"] = "firing"
    starts_at: UtcDatetime | None = None
    ends_at: UtcDatetime | None = None
    # The name of the API key that raised it (set by the gateway, never by the caller's body): the
    # alert's owner under RAGTASKS_API_KEY_ISOLATION. None for alerts the system raises.
    created_by: Annotated[str, StringConstraints(min_length=1, max_length=MAX_LABEL_KEY_CHARS)] | None = None


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
