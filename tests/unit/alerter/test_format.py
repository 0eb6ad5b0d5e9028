"""Message formatting: grouping, WeCom's byte limits, truncation on a character boundary."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ragtasks_alerter.format import (
    MARKDOWN_MAX_BYTES,
    TEXT_MAX_BYTES,
    TRUNCATED_MARKER,
    AlertView,
    MessageStyle,
    markdown,
    truncate_utf8,
    webhook_body,
    wecom_markdown_message,
    wecom_text_message,
)

T0 = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
EN_UTC = MessageStyle("en", "UTC")


def view(i: int, *, status: str = "firing", severity: str = "warning", body: str = "body") -> AlertView:
    return AlertView(
        id=f"al-{i}",
        fingerprint=f"fp-{i}",
        status=status,
        severity=severity,
        title=f"Alert number {i}",
        body=body,
        source="alertmanager",
        labels={"instance": f"host-{i}"},
        starts_at=T0,
    )


def test_short_text_is_untouched() -> None:
    assert truncate_utf8("短消息", 100) == "短消息"


@pytest.mark.parametrize("limit", [MARKDOWN_MAX_BYTES, TEXT_MAX_BYTES, 100, 101, 102])
def test_chinese_is_cut_on_a_character_boundary(limit: int) -> None:
    text = "检索结果为空" * 1000  # 3 bytes a character
    cut = truncate_utf8(text, limit)
    data = cut.encode("utf-8")
    assert len(data) <= limit
    assert len(data) > limit - 3 - 1  # nothing wasted beyond one partial character
    assert cut.endswith(TRUNCATED_MARKER)
    assert data.decode("utf-8") == cut  # valid UTF-8: no half character
    assert text.startswith(cut[: -len(TRUNCATED_MARKER)])


def test_emoji_four_byte_characters_are_not_split() -> None:
    cut = truncate_utf8("🚨" * 2000, 4096)
    assert len(cut.encode()) <= 4096
    assert set(cut[: -len(TRUNCATED_MARKER)]) == {"🚨"}


def test_marker_larger_than_limit_is_an_error() -> None:
    with pytest.raises(ValueError):
        truncate_utf8("x" * 100, 5)


def test_wecom_messages_respect_both_limits() -> None:
    body = "中" * 5000
    md = wecom_markdown_message(body)
    assert md["msgtype"] == "markdown"
    assert len(md["markdown"]["content"].encode()) <= MARKDOWN_MAX_BYTES
    text = wecom_text_message(body)
    assert text["msgtype"] == "text"
    assert len(text["text"]["content"].encode()) <= TEXT_MAX_BYTES


def test_five_alerts_make_one_message_listing_them_all() -> None:
    alerts = [view(i, severity="critical" if i == 3 else "warning") for i in range(5)]
    content = markdown("alertmanager", alerts, EN_UTC)
    assert content.startswith("**[FIRING:5] alertmanager**")
    for i in range(5):
        assert f"Alert number {i}" in content
    # Critical first.
    assert content.index("Alert number 3") < content.index("Alert number 0")


def test_resolved_are_listed_after_firing() -> None:
    content = markdown("g", [view(1, status="resolved"), view(2)], EN_UTC)
    assert "[FIRING:1 RESOLVED:1]" in content
    assert content.index("Alert number 2") < content.index("Alert number 1")
    assert "RESOLVED</font>" in content


def test_oversized_chinese_group_is_truncated_validly() -> None:
    alerts = [view(i, body="\n".join(["知识库检索结果为空，请检查索引。"] * 5)) for i in range(200)]
    content = markdown("empty_retrieval", alerts)
    assert len(content.encode("utf-8")) <= MARKDOWN_MAX_BYTES
    assert content.endswith(TRUNCATED_MARKER)
    content.encode("utf-8").decode("utf-8")


def test_markup_in_titles_cannot_inject_tags() -> None:
    alert = AlertView("al-x", "fp", "firing", "info", '<font color="red">x</font>', "a<b", "api")
    content = markdown("api", [alert])
    assert '<font color="red">' not in content


def test_webhook_body_is_structured() -> None:
    body = webhook_body("g", [view(1), view(2, status="resolved")])
    assert body["status"] == "firing"
    assert [a["id"] for a in body["alerts"]] == ["al-1", "al-2"]
    assert body["alerts"][0]["starts_at"] == T0.isoformat()
    assert "Alert number 1" in body["text"]
