"""Alert messages in RAGTASKS_ALERT_LANGUAGE (zh, en), times in RAGTASKS_TIMEZONE: every template, both languages."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from ragtasks_alerter.channels import WEBHOOK, WECOM, build_request, message_style
from ragtasks_alerter.format import TEMPLATES, AlertView, MessageStyle, markdown, webhook_body
from ragtasks_core.settings import Settings

# The nightly run at 02:00 Beijing time is 18:00 UTC of the day before.
NIGHTLY_UTC = datetime(2025, 1, 1, 18, 0, 0, tzinfo=UTC)
ENDED_UTC = datetime(2025, 1, 1, 18, 30, 0, tzinfo=UTC)


def alert(i: int, *, status: str = "firing", severity: str = "warning", lines: int = 1, count: int = 1) -> AlertView:
    return AlertView(
        id=f"al-{i}",
        fingerprint=f"fp-{i}",
        status=status,
        severity=severity,
        title=f"检索结果为空 kb-{i}",
        body="\n".join(f"line {n}" for n in range(lines)),
        source="empty_retrieval",
        labels={"kb": f"kb-{i}"},
        starts_at=NIGHTLY_UTC,
        ends_at=ENDED_UTC if status == "resolved" else None,
        occurrences=count,
    )


def every_template_group() -> list[AlertView]:
    """Alerts that need every template: both states, every severity, repeats, long bodies, an end time."""
    return [
        alert(1, severity="critical", lines=9, count=3),
        alert(2, severity="warning"),
        alert(3, severity="info", status="resolved"),
    ]


def expected_pieces(style: MessageStyle) -> dict[str, str]:
    return {
        "firing": style.text("firing"),
        "resolved": style.text("resolved"),
        "critical": f"**{style.text('critical')}**",
        "warning": f"**{style.text('warning')}**",
        "info": f"**{style.text('info')}**",
        "since": style.text("since", time="2025-01-02 02:00:00 UTC+8"),
        "resolved_at": style.text("resolved_at", time="2025-01-02 02:30:00 UTC+8"),
        "occurrences": style.text("occurrences", count=3),
        "source": style.text("source", source="empty_retrieval"),
        "more_lines": style.text("more_lines", count=3),
        "truncated": style.text("truncated"),
    }


def test_both_languages_have_the_same_templates() -> None:
    assert set(TEMPLATES["zh"]) == set(TEMPLATES["en"])
    assert set(expected_pieces(MessageStyle())) == set(TEMPLATES["zh"])  # this module covers every one


@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_template_is_rendered(language: str) -> None:
    style = MessageStyle(language, "Asia/Shanghai")  # type: ignore[arg-type]
    content = markdown("empty_retrieval", every_template_group(), style)
    pieces = expected_pieces(style)
    for key, piece in pieces.items():
        if key != "truncated":
            assert piece in content, (key, piece, content)
    assert content.startswith(f"**[{pieces['firing']}:2 {pieces['resolved']}:1] empty_retrieval**")
    oversized = markdown("empty_retrieval", [alert(i, lines=6) for i in range(300)], style)
    assert oversized.endswith(pieces["truncated"]) and len(oversized.encode()) <= 4096


def test_chinese_is_the_default_and_english_has_no_chinese_wording() -> None:
    zh = markdown("g", every_template_group())
    assert "告警中" in zh and "开始于" in zh and "FIRING" not in zh
    en = markdown("g", every_template_group(), MessageStyle("en"))
    frame = en.replace("检索结果为空", "")  # the alerts' own titles stay as written
    assert "FIRING" in frame and not re.search(r"[\u4e00-\u9fff]", frame), frame


def test_the_nightly_run_reads_02_00_beijing_time_not_18_00_utc() -> None:
    content = markdown("nightly", [alert(1)])
    assert "2025-01-02 02:00:00 UTC+8" in content
    assert "18:00" not in content and "2025-01-01" not in content


def test_naive_datetimes_are_utc() -> None:
    # Mongo hands back naive datetimes that are UTC.
    assert MessageStyle().time(datetime(2025, 1, 1, 18, 0)) == "2025-01-02 02:00:00 UTC+8"


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        ("UTC", "2025-01-01 18:00:00 UTC"),
        ("Asia/Kolkata", "2025-01-01 23:30:00 UTC+5:30"),
        ("America/New_York", "2025-01-01 13:00:00 UTC-5"),
    ],
)
def test_any_zone_shows_its_offset(zone: str, expected: str) -> None:
    assert MessageStyle("en", zone).time(NIGHTLY_UTC) == expected


def test_settings_choose_language_zone_and_link_hosts() -> None:
    settings = Settings(alert_language="en", timezone="UTC", alert_link_hosts=" Grafana.Example.com ,x:3000")
    style = message_style(settings)
    assert style == MessageStyle("en", "UTC", frozenset({"grafana.example.com", "x:3000"}))
    body = build_request(WECOM, "g", [alert(1)], style)
    assert "[FIRING:1] g" in body["markdown"]["content"]
    assert "2025-01-01 18:00:00 UTC" in body["markdown"]["content"]
    hook = build_request(WEBHOOK, "g", [alert(1)], style)
    assert hook["title"] == "[FIRING:1] g" and "since 2025-01-01 18:00:00 UTC" in hook["text"]


def test_setting_defaults_and_bad_values() -> None:
    settings = Settings()
    assert (settings.alert_language, settings.timezone, settings.alert_link_hosts) == ("zh", "Asia/Shanghai", [])
    with pytest.raises(ValueError, match="alert_language"):
        Settings(alert_language="fr")
    with pytest.raises(ValueError, match="unknown time zone"):
        Settings(timezone="Mars/Olympus_Mons")


def test_webhook_body_title_and_text_follow_the_style() -> None:
    body = webhook_body("g", [alert(1)], MessageStyle("zh", "Asia/Shanghai"))
    assert body["title"] == "[告警中:1] g"
    assert "开始于 2025-01-02 02:00:00 UTC+8" in body["text"]
    assert body["alerts"][0]["starts_at"] == NIGHTLY_UTC.isoformat()  # structured times stay UTC ISO-8601
