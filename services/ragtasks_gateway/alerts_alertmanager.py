"""Alertmanager's webhook payload (version 4) to our alert model. Pure.

Alertmanager's own ``wechat_configs`` talks to the WeCom *app* API, not group robots; pointing a
``webhook_configs`` receiver at ``POST /v1/alerts/alertmanager`` brings Prometheus rules to the
robot through our grouping, rate limit and dead letters.

Alertmanager resends a whole batch when it is refused, so one bad alert must not block the
others: :func:`convert` applies ``safe_json``'s rule and the models alert by alert, and reports
the ones it skips (index, fingerprint, reason) instead of failing the batch.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ragtasks_core.contract import safe_json
from ragtasks_core.contract.alerter import (
    MAX_BODY_CHARS,
    MAX_LABEL_KEY_CHARS,
    MAX_LABEL_VALUE_CHARS,
    MAX_LABELS,
    MAX_TITLE_CHARS,
    RaiseAlert,
)

SOURCE = "alertmanager"
MAX_ALERTS = 200
_SEVERITY = {"critical": "critical", "page": "critical", "error": "critical", "warning": "warning", "info": "info"}


class AmAlert(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: Literal["firing", "resolved"]
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime | None = None
    endsAt: datetime | None = None
    generatorURL: str | None = None
    fingerprint: str | None = None


class AlertmanagerPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: str = "4"
    groupKey: str | None = None
    status: Literal["firing", "resolved"] | None = None
    receiver: str | None = None
    alerts: list[AmAlert] = Field(min_length=1, max_length=MAX_ALERTS)


class AlertmanagerBatch(AlertmanagerPayload):
    """What the endpoint takes: the alerts raw, each validated on its own by :func:`convert`."""

    alerts: list[Any] = Field(min_length=1, max_length=MAX_ALERTS)


class Skipped(BaseModel):
    index: int
    fingerprint: str | None = None
    reason: str


def _real(ts: datetime | None) -> datetime | None:
    # Alertmanager sends Go's zero time (0001-01-01) for "not set".
    return ts if ts is not None and ts.year > 1 else None


def _labels(labels: dict[str, Any]) -> dict[str, str]:
    kept = {}
    for key in sorted(labels)[:MAX_LABELS]:
        if 0 < len(key) <= MAX_LABEL_KEY_CHARS and "." not in key and not key.startswith("$"):
            kept[key] = str(labels[key])[:MAX_LABEL_VALUE_CHARS]
    return kept


def to_alert(alert: AmAlert, owner: str | None = None) -> RaiseAlert:
    labels = alert.labels
    fingerprint = alert.fingerprint or hashlib.sha256(repr(sorted(labels.items())).encode()).hexdigest()[:16]
    title = alert.annotations.get("summary") or labels.get("alertname") or "Alertmanager alert"
    body = alert.annotations.get("description") or alert.annotations.get("summary") or ""
    if alert.generatorURL:
        body = f"{body}\n{alert.generatorURL}".strip()
    return RaiseAlert(
        fingerprint=f"{SOURCE}:{fingerprint}"[:256],
        severity=_SEVERITY.get(labels.get("severity", "").lower(), "warning"),
        title=title[:MAX_TITLE_CHARS],
        body=body[:MAX_BODY_CHARS],
        labels=_labels(labels),
        source=SOURCE,
        status=alert.status,
        starts_at=_real(alert.startsAt),
        # A firing alert's endsAt is only Prometheus's refresh horizon: resolution comes explicitly.
        ends_at=_real(alert.endsAt) if alert.status == "resolved" else None,
        created_by=owner,
    )


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        # Never the input itself: it is what could not be validated (and may not even encode).
        return "; ".join(f"{'.'.join(map(str, e['loc'])) or '(alert)'}: {e['msg']}" for e in exc.errors())
    return str(exc)


def _fingerprint_of(raw: Any) -> str | None:
    value = raw.get("fingerprint") if isinstance(raw, dict) else None
    if isinstance(value, str) and safe_json.string_problem(value) is None:
        return value[:256]
    return None


def convert(alerts: list[Any], owner: str | None = None) -> tuple[list[RaiseAlert], list[Skipped]]:
    """The batch's valid alerts as ``RaiseAlert`` (raised by the key named ``owner``) and the
    skipped ones with the reason."""
    good: list[RaiseAlert] = []
    skipped: list[Skipped] = []
    for index, raw in enumerate(alerts):
        try:
            safe_json.check(raw, path=f"alerts[{index}]")
            good.append(to_alert(AmAlert.model_validate(raw), owner))
        except (ValueError, ValidationError) as exc:
            skipped.append(Skipped(index=index, fingerprint=_fingerprint_of(raw), reason=_reason(exc)))
    return good, skipped
