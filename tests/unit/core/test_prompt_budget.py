"""Prompt budgets: counting a chat prompt, shortening a text by tokens at character boundaries."""

from __future__ import annotations

import pytest

from ragtasks_core.prompt_budget import chat_tokens, longest_prefix, longest_suffix, prompt_limit, shorten
from ragtasks_core.tokens import MESSAGE_OVERHEAD_TOKENS, count_tokens

ZH = "我们确认了订单号和购买日期，并解释了七天无理由退货的政策。"


def test_chat_tokens_counts_roles_contents_and_format() -> None:
    messages = [{"role": "system", "content": "总结对话。"}, {"role": "user", "content": ZH}]
    expected = 3 + sum(MESSAGE_OVERHEAD_TOKENS + count_tokens(m["role"]) + count_tokens(m["content"]) for m in messages)
    assert chat_tokens(messages) == expected


def test_prompt_limit_leaves_room_for_the_reply_and_a_margin() -> None:
    assert prompt_limit(16_000, 512) == 16_000 - 800 - 512
    assert prompt_limit(100, 512) == 0


def test_a_text_that_fits_is_unchanged() -> None:
    assert shorten(ZH, 1000) == ZH


@pytest.mark.parametrize("budget", [80, 300, 2000])
def test_shortened_chinese_keeps_head_and_tail_and_says_how_much_is_missing(budget: int) -> None:
    text = "".join(f"第{i}句：{ZH}" for i in range(400))
    out = shorten(text, budget)
    assert count_tokens(out) <= budget
    head, _, rest = out.partition("\n[……此处省略 ")
    chars = int(rest.split(" 字", 1)[0])
    tail = rest.split("……]\n", 1)[1]
    assert text.startswith(head) and text.endswith(tail)
    assert len(head) + chars + len(tail) == len(text)  # the marker says exactly how much is left out


def test_cuts_fall_between_characters_not_inside_one() -> None:
    text = "😀表情" * 500
    assert text.startswith(longest_prefix(text, 7))
    assert text.endswith(longest_suffix(text, 7))
    assert count_tokens(longest_prefix(text, 7)) <= 7


def test_a_budget_too_small_for_a_marker_keeps_the_head() -> None:
    out = shorten(ZH * 50, 10)
    assert count_tokens(out) <= 10 and (ZH * 50).startswith(out)
