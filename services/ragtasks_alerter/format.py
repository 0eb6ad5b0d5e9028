"""Turning a group of alerts into one message: WeCom markdown and the generic JSON body. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# WeCom group robot limits, in UTF-8 bytes (a Chinese character is 3 bytes).
MARKDOWN_MAX_BYTES = 4096
TEXT_MAX_BYTES = 2048
TRUNCATED_MARKER = "\n\n…(truncated 内容过长已截断)"
MAX_BODY_LINES = 6
_SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
_FONT = {"firing": "warning", "resolved": "info"}


@dataclass(frozen=True)
class AlertView:
    """What a message says about one alert."""

    id: str
    fingerprint: str
    status: str
    severity: str
    title: str
    body: str
    source: str
    labels: dict[str, str] = field(default_factory=dict)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    occurrences: int = 1

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "fingerprint": self.fingerprint,
            "status": self.status,
            "severity": self.severity,
            "title": self.title,
            "body": self.body,
            "source": self.source,
            "labels": dict(self.labels),
            "starts_at": _iso(self.starts_at),
            "ends_at": _iso(self.ends_at),
            "occurrences": self.occurrences,
        }


def truncate_utf8(text: str, max_bytes: int, marker: str = TRUNCATED_MARKER) -> str:
    """``text`` if it fits in ``max_bytes`` UTF-8 bytes, else a prefix cut on a character boundary
    plus ``marker``, together at most ``max_bytes`` bytes."""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    room = max_bytes - len(marker.encode("utf-8"))
    if room < 0:
        raise ValueError("max_bytes is smaller than the truncation marker")
    # Dropping the bytes of a character cut in half leaves a valid prefix.
    return data[:room].decode("utf-8", errors="ignore") + marker


def sort_alerts(alerts: Sequence[AlertView]) -> list[AlertView]:
    """Firing before resolved, then by severity, then oldest first."""
    return sorted(
        alerts,
        key=lambda a: (a.status != "firing", _SEVERITY_ORDER.get(a.severity, 9), _iso(a.starts_at) or "", a.id),
    )


def headline(group_key: str, alerts: Sequence[AlertView]) -> str:
    firing = sum(1 for a in alerts if a.status == "firing")
    resolved = len(alerts) - firing
    parts = [f"FIRING:{firing}"] if firing else []
    if resolved:
        parts.append(f"RESOLVED:{resolved}")
    return f"[{' '.join(parts)}] {group_key}"


def markdown(group_key: str, alerts: Sequence[AlertView], *, max_bytes: int = MARKDOWN_MAX_BYTES) -> str:
    """The WeCom markdown content of one grouped notification, at most ``max_bytes`` bytes."""
    lines = [f"**{_escape(headline(group_key, alerts))}**"]
    for alert in sort_alerts(alerts):
        mark = "FIRING" if alert.status == "firing" else "RESOLVED"
        lines.append("")
        lines.append(
            f'<font color="{_FONT.get(alert.status, "comment")}">{mark}</font> '
            f"**{alert.severity.upper()}** {_escape(alert.title)}"
        )
        body_lines = [ln for ln in alert.body.splitlines() if ln.strip()]
        for line in body_lines[:MAX_BODY_LINES]:
            lines.append(f"> {_escape(line)}")
        if len(body_lines) > MAX_BODY_LINES:
            lines.append(f"> …(+{len(body_lines) - MAX_BODY_LINES} lines)")
        lines.append(f'<font color="comment">{_escape(_details(alert))}</font>')
    return truncate_utf8("\n".join(lines), max_bytes)


def wecom_markdown_message(content: str) -> dict[str, Any]:
    return {"msgtype": "markdown", "markdown": {"content": truncate_utf8(content, MARKDOWN_MAX_BYTES)}}


def wecom_text_message(content: str) -> dict[str, Any]:
    return {"msgtype": "text", "text": {"content": truncate_utf8(content, TEXT_MAX_BYTES)}}


def webhook_body(group_key: str, alerts: Sequence[AlertView]) -> dict[str, Any]:
    """The generic JSON channel's body: structured alerts plus ready-to-post markdown text."""
    ordered = sort_alerts(alerts)
    return {
        "version": "1",
        "group_key": group_key,
        "status": "firing" if any(a.status == "firing" for a in ordered) else "resolved",
        "title": headline(group_key, ordered),
        "text": markdown(group_key, ordered, max_bytes=16_384),
        "alerts": [a.as_json() for a in ordered],
    }


def _details(alert: AlertView) -> str:
    parts = [f"{k}={v}" for k, v in sorted(alert.labels.items())]
    if alert.starts_at is not None:
        parts.append(f"since {alert.starts_at:%Y-%m-%d %H:%M:%S} UTC")
    if alert.status == "resolved" and alert.ends_at is not None:
        parts.append(f"resolved {alert.ends_at:%Y-%m-%d %H:%M:%S} UTC")
    if alert.occurrences > 1:
        parts.append(f"×{alert.occurrences}")
    parts.append(f"source={alert.source}")
    return " · ".join(parts)


def _escape(text: str) -> str:
    # Keep a title or body from opening markup of its own in WeCom's markdown subset.
    return text.replace("<", "‹").replace(">", "›")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
