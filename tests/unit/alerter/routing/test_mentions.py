"""Mentions in the posted JSON: <@userid> in markdown, WeCom's mention lists in text messages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from ragtasks_alerter.format import MARKDOWN_MAX_BYTES, TEXT_MAX_BYTES, AlertView, markdown
from ragtasks_alerter.routing.config import WecomReceiver
from ragtasks_alerter.routing.mentions import plain_text, wecom_message

URL = "http://robot/send?key=K"
ALERT = AlertView(
    id="al-1",
    fingerprint="f",
    status="firing",
    severity="critical",
    title="知识库 k1 检索为空",
    body="50 次空检索 <b>",
    source="empty_retrieval",
    labels={"kb": "k1"},
    starts_at=datetime(2026, 12, 2, 1, 0, tzinfo=UTC),
)


def receiver(**fields: object) -> WecomReceiver:
    return WecomReceiver.model_validate({"webhook_url": URL, **fields})


def test_markdown_mentions_users_in_the_content() -> None:
    content = markdown("empty_retrieval k1", [ALERT])
    body = wecom_message(content, receiver(mention_users=["zhangsan", "lisi"], mention_mobiles=["13800000000"]))
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["content"] == content + "\n<@zhangsan><@lisi>"
    assert set(body) == {"msgtype", "markdown"}  # WeCom markdown has no mention lists


def test_markdown_without_mentions_is_today_s_message() -> None:
    content = markdown("g", [ALERT])
    assert wecom_message(content, receiver()) == {"msgtype": "markdown", "markdown": {"content": content}}


def test_text_messages_carry_the_mention_lists() -> None:
    content = markdown("g", [ALERT])
    body = wecom_message(
        content, receiver(message_type="text", mention_users=["zhangsan", "@all"], mention_mobiles=["13800000000"])
    )
    assert body["msgtype"] == "text"
    assert body["text"]["mentioned_list"] == ["zhangsan", "@all"]
    assert body["text"]["mentioned_mobile_list"] == ["13800000000"]
    text = body["text"]["content"]
    assert "**" not in text and "<font" not in text and "</font>" not in text
    assert "知识库 k1 检索为空" in text and "‹b›" in text  # alert text stays as the formatter made it inert
    assert set(wecom_message(content, receiver(message_type="text"))["text"]) == {"content"}


def test_mentions_survive_truncation() -> None:
    long = AlertView(**{**ALERT.__dict__, "body": "很长的告警内容\n" * 3000})
    content = markdown("g", [long])
    md = wecom_message(content, receiver(mention_users=["zhangsan"]))["markdown"]["content"]
    assert md.endswith("\n<@zhangsan>") and len(md.encode("utf-8")) <= MARKDOWN_MAX_BYTES
    text = wecom_message(content, receiver(message_type="text", mention_users=["zhangsan"]))["text"]
    assert len(text["content"].encode("utf-8")) <= TEXT_MAX_BYTES and text["mentioned_list"] == ["zhangsan"]


def test_plain_text() -> None:
    assert (
        plain_text('**[告警中:1] g**\n<font color="warning">告警中</font> **严重** x') == "[告警中:1] g\n告警中 严重 x"
    )


@pytest.mark.parametrize("field", [{"mention_users": ["a>b"]}, {"mention_users": [""]}, {"mention_mobiles": ["x1"]}])
def test_bad_mentions_are_refused(field: dict[str, list[str]]) -> None:
    with pytest.raises(ValidationError):
        receiver(**field)
