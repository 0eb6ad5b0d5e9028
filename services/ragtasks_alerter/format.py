"""Turning a group of alerts into one message: WeCom markdown and the generic JSON body. Pure.

Messages speak the team's language (``RAGTASKS_ALERT_LANGUAGE``: zh or en) and give times in
``RAGTASKS_TIMEZONE``: the 02:00 Beijing run reads 02:00, not "18:00 UTC" of the day before. All
text that comes from alerts goes through ``markup.safe_markdown`` (links only to listed hosts).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ragtasks_core.settings.alerter import AlertLanguage

from .markup import safe_markdown

# WeCom group robot limits, in UTF-8 bytes (a Chinese character is 3 bytes).
MARKDOWN_MAX_BYTES = 4096
TEXT_MAX_BYTES = 2048
MAX_BODY_LINES = 6
_SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
_FONT = {"firing": "warning", "resolved": "info"}

# Every piece of wording a message adds around the alerts' own text, per language.
TEMPLATES: dict[AlertLanguage, dict[str, str]] = {
    "zh": {
        "firing": "告警中",
        "resolved": "已恢复",
        "critical": "严重",
        "warning": "警告",
        "info": "提示",
        "since": "开始于 {time}",
        "resolved_at": "恢复于 {time}",
        "occurrences": "共 {count} 次",
        "source": "来源={source}",
        "more_lines": "…(另有 {count} 行)",
        "truncated": "\n\n…(内容过长，已截断)",
    },
    "en": {
        "firing": "FIRING",
        "resolved": "RESOLVED",
        "critical": "CRITICAL",
        "warning": "WARNING",
        "info": "INFO",
        "since": "since {time}",
        "resolved_at": "resolved {time}",
        "occurrences": "×{count}",
        "source": "source={source}",
        "more_lines": "…(+{count} lines)",
        "truncated": "\n\n…(truncated)",
    },
}
TRUNCATED_MARKER = TEMPLATES["zh"]["truncated"]


@dataclass(frozen=True)
class MessageStyle:
    """How messages are written: language, time zone, hosts whose links stay links (lower case)."""

    language: AlertLanguage = "zh"
    timezone: str = "Asia/Shanghai"
    link_hosts: frozenset[str] = frozenset()

    def text(self, key: str, **values: object) -> str:
        return TEMPLATES[self.language][key].format(**values)

    def time(self, value: datetime) -> str:
        """``2025-01-02 02:00:00 UTC+8``: local time, and the offset that makes it unambiguous."""
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)  # Mongo gives naive UTC
        local = aware.astimezone(ZoneInfo(self.timezone))
        return f"{local:%Y-%m-%d %H:%M:%S} {_utc_offset(local.utcoffset() or timedelta(0))}"


DEFAULT_STYLE = MessageStyle()


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


def headline(group_key: str, alerts: Sequence[AlertView], style: MessageStyle = DEFAULT_STYLE) -> str:
    firing = sum(1 for a in alerts if a.status == "firing")
    resolved = len(alerts) - firing
    parts = [f"{style.text('firing')}:{firing}"] if firing else []
    if resolved:
        parts.append(f"{style.text('resolved')}:{resolved}")
    return f"[{' '.join(parts)}] {group_key}"


def markdown(
    group_key: str,
    alerts: Sequence[AlertView],
    style: MessageStyle = DEFAULT_STYLE,
    *,
    max_bytes: int = MARKDOWN_MAX_BYTES,
) -> str:
    """The WeCom markdown content of one grouped notification, at most ``max_bytes`` bytes."""
    safe = _safe(style)
    lines = [f"**{headline(safe(group_key), alerts, style)}**"]
    for alert in sort_alerts(alerts):
        mark = style.text("firing" if alert.status == "firing" else "resolved")
        lines.append("")
        lines.append(
            f'<font color="{_FONT.get(alert.status, "comment")}">{mark}</font> '
            f"**{safe(_severity(alert.severity, style))}** {safe(alert.title)}"
        )
        body_lines = [ln for ln in alert.body.splitlines() if ln.strip()]
        for line in body_lines[:MAX_BODY_LINES]:
            lines.append(f"> {safe(line)}")
        if len(body_lines) > MAX_BODY_LINES:
            lines.append(f"> {style.text('more_lines', count=len(body_lines) - MAX_BODY_LINES)}")
        lines.append(f'<font color="comment">{_details(alert, style)}</font>')
    return truncate_utf8("\n".join(lines), max_bytes, style.text("truncated"))


def wecom_markdown_message(content: str) -> dict[str, Any]:
    return {"msgtype": "markdown", "markdown": {"content": truncate_utf8(content, MARKDOWN_MAX_BYTES)}}


def wecom_text_message(content: str) -> dict[str, Any]:
    return {"msgtype": "text", "text": {"content": truncate_utf8(content, TEXT_MAX_BYTES)}}


def webhook_body(group_key: str, alerts: Sequence[AlertView], style: MessageStyle = DEFAULT_STYLE) -> dict[str, Any]:
    """The generic JSON channel's body: structured alerts plus ready-to-post markdown text."""
    ordered = sort_alerts(alerts)
    return {
        "version": "1",
        "group_key": group_key,
        "status": "firing" if any(a.status == "firing" for a in ordered) else "resolved",
        "title": headline(group_key, ordered, style),
        "text": markdown(group_key, ordered, style, max_bytes=16_384),
        "alerts": [a.as_json() for a in ordered],
    }


def _details(alert: AlertView, style: MessageStyle) -> str:
    safe = _safe(style)
    parts = [safe(f"{k}={v}") for k, v in sorted(alert.labels.items())]
    if alert.starts_at is not None:
        parts.append(style.text("since", time=style.time(alert.starts_at)))
    if alert.status == "resolved" and alert.ends_at is not None:
        parts.append(style.text("resolved_at", time=style.time(alert.ends_at)))
    if alert.occurrences > 1:
        parts.append(style.text("occurrences", count=alert.occurrences))
    parts.append(style.text("source", source=safe(alert.source)))
    return " · ".join(parts)


def _severity(severity: str, style: MessageStyle) -> str:
    known = severity in ("critical", "warning", "info")
    return style.text(severity) if known else severity.upper()


def _safe(style: MessageStyle) -> Callable[[str], str]:
    # Alert text may carry links, images and tags of its own: only links to listed hosts survive.
    return lambda text: safe_markdown(text, style.link_hosts)


def _utc_offset(offset: timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    if minutes == 0:
        return "UTC"
    sign, minutes = ("+" if minutes > 0 else "-"), abs(minutes)
    hours, rest = divmod(minutes, 60)
    return f"UTC{sign}{hours}:{rest:02d}" if rest else f"UTC{sign}{hours}"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
