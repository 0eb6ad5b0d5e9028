"""Fold steps under a token budget: the oldest run that fits, shortened messages, tool pairs."""

from __future__ import annotations

import pytest

from ragtasks_core.prompt_budget import chat_tokens
from ragtasks_core.tokens import count_message_tokens
from ragtasks_summarizer.folding import MIN_MESSAGE_TOKENS, WindowTooSmall, plan_step
from ragtasks_summarizer.logic import Message

ZH = "客户说耳机有杂音，想要退货；我们确认了订单号和购买日期，并解释了七天无理由退货的政策。"


def msg(seq: int, content: str, role: str | None = None) -> Message:
    role = role or ("user" if seq % 2 else "assistant")
    return Message(seq, role, content, count_message_tokens(role, content))


def plan(run: list[Message], limit: int, previous: str | None = None):  # type: ignore[no-untyped-def]
    return plan_step(previous, run, limit=limit, max_words=300)


def test_everything_fits_in_one_step() -> None:
    run = [msg(i, f"{ZH} 第{i}条。") for i in range(1, 6)]
    step = plan(run, 4000)
    assert step is not None
    assert [m.seq for m in step.messages] == [1, 2, 3, 4, 5]
    assert step.upto_seq == 5 and not step.shortened
    assert step.tokens_covered == sum(m.tokens for m in run)
    assert step.prompt_tokens == chat_tokens(step.prompt) <= 4000


def test_the_oldest_run_that_fits() -> None:
    run = [msg(i, ZH * 10) for i in range(1, 21)]  # ~450 tokens each
    step = plan(run, 2000)
    assert step is not None
    assert 1 <= len(step.messages) < 20
    assert [m.seq for m in step.messages] == list(range(1, len(step.messages) + 1))
    assert step.messages == run[: len(step.messages)]  # whole, unshortened messages
    assert step.prompt_tokens <= 2000
    # One more message would not have fitted.
    bigger = plan(run[: len(step.messages) + 1], 10**6)
    assert bigger is not None and bigger.prompt_tokens > 2000


def test_a_message_larger_than_the_window_goes_in_shortened_with_a_marker() -> None:
    huge = (ZH * 800)[:32_000]
    run = [msg(1, huge), msg(2, "好的。")]
    step = plan(run, 3000)
    assert step is not None
    [shown] = step.messages
    assert shown.seq == 1 and step.upto_seq == 1 and step.shortened
    assert shown.content.startswith(huge[:50]) and shown.content.endswith(huge[-50:])
    assert "此处省略" in shown.content and "字" in shown.content
    assert step.prompt_tokens <= 3000
    assert step.tokens_covered == run[0].tokens  # the stored count, not the shortened one
    assert run[0].content == huge  # the message itself is untouched


def test_english_marker_for_english_text() -> None:
    huge = "The customer says the headphones crackle and wants a refund. " * 600
    step = plan([msg(1, huge)], 2000)
    assert step is not None and "characters" in step.messages[0].content and "left out" in step.messages[0].content


def test_a_tool_result_stays_with_its_call() -> None:
    run = [
        msg(1, ZH * 4, "user"),
        msg(2, "调用订单查询工具。", "assistant"),
        msg(3, ZH * 6, "tool"),
        msg(4, ZH * 6, "tool"),
        msg(5, "查到了。", "assistant"),
    ]
    # Room for 1, 2 and 3 but not 4: the whole unit (2, 3, 4) waits for the next step.
    limit = plan(run[:3], 10**6).prompt_tokens + 5  # type: ignore[union-attr]
    step = plan(run, limit)
    assert step is not None and [m.seq for m in step.messages] == [1]
    rest = plan(run[1:], 10**6)
    assert rest is not None and [m.seq for m in rest.messages] == [2, 3, 4, 5]


def test_an_oversized_tool_unit_is_shortened_together() -> None:
    run = [msg(1, "查一下订单。", "assistant"), msg(2, ZH * 400, "tool"), msg(3, ZH * 400, "tool")]
    step = plan(run, 3000)
    assert step is not None and [m.seq for m in step.messages] == [1, 2, 3]
    assert step.prompt_tokens <= 3000 and step.shortened


def test_a_long_previous_summary_is_shortened_to_half_the_prompt() -> None:
    previous = ZH * 300
    step = plan([msg(1, "新消息。")], 2000, previous=previous)
    assert step is not None and step.previous != previous and "此处省略" in (step.previous or "")
    assert step.prompt_tokens <= 2000


def test_a_window_too_small_fails_clearly() -> None:
    with pytest.raises(WindowTooSmall):
        plan([msg(1, ZH * 100)], 150)


def test_empty_run() -> None:
    assert plan([], 1000) is None


@pytest.mark.parametrize("limit", [1500, 2500, 4000, 9000])
def test_every_prompt_of_a_long_chinese_session_fits(limit: int) -> None:
    run = [msg(i, (ZH * 30)[: 400 + 97 * i]) for i in range(1, 40)]
    folded = 0
    previous = None
    while folded < len(run):
        step = plan(run[folded:], limit, previous=previous)
        assert step is not None and step.prompt_tokens <= limit
        assert step.messages[0].seq == folded + 1
        folded += len(step.messages)
        previous = "摘要：" + ZH * 5
    assert limit > MIN_MESSAGE_TOKENS
