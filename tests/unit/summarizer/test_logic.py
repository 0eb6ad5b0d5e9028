"""The summarizer's pure logic: what to fold, the prompt, the offline summarizer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ragtasks_core.tokens import count_tokens
from ragtasks_summarizer.logic import (
    HOLE_GRACE,
    SYSTEM_PROMPT,
    Message,
    build_prompt,
    extractive_budget,
    extractive_summary,
    plan_summary,
)


def msgs(*seqs: int, tokens: int = 10) -> list[Message]:
    return [Message(s, "user" if s % 2 else "assistant", f"message number {s}.", tokens) for s in seqs]


def test_plan_folds_all_but_the_newest() -> None:
    plan = plan_summary(msgs(3, 1, 2, 5, 4), keep_recent=2)
    assert plan is not None
    assert [m.seq for m in plan.messages] == [1, 2, 3]
    assert plan.upto_seq == 3
    assert plan.tokens_covered == 30


def test_plan_nothing_to_fold() -> None:
    assert plan_summary([], keep_recent=0) is None
    assert plan_summary(msgs(1, 2), keep_recent=2) is None
    assert plan_summary(msgs(1, 2), keep_recent=5) is None


def test_plan_keep_zero_folds_everything() -> None:
    plan = plan_summary(msgs(1, 2, 3), keep_recent=0)
    assert plan is not None and plan.upto_seq == 3


def test_plan_stops_at_a_hole_after_the_watermark() -> None:
    # 7 and 8 are reserved by a concurrent append but not inserted yet: never jump over them.
    plan = plan_summary(msgs(5, 6, 9, 10, 11), keep_recent=1, watermark=4)
    assert plan is not None
    assert [m.seq for m in plan.messages] == [5, 6]
    assert plan.upto_seq == 6
    assert plan.tokens_covered == 20


def test_plan_hole_right_after_the_watermark_folds_nothing() -> None:
    assert plan_summary(msgs(6, 7, 8), keep_recent=0, watermark=4) is None


def test_plan_without_holes_is_unchanged_by_watermark() -> None:
    assert plan_summary(msgs(5, 6, 7), keep_recent=1, watermark=4) == plan_summary(msgs(5, 6, 7), keep_recent=1)


def test_build_prompt_carries_previous_summary_and_transcript() -> None:
    prompt = build_prompt("用户想退货。", [Message(7, "user", "耳机有杂音", 5)], max_words=120)
    assert prompt[0] == {"role": "system", "content": SYSTEM_PROMPT}
    user = prompt[1]
    assert user["role"] == "user"
    assert "Previous summary:\n用户想退货。" in user["content"]
    assert "[7] user: 耳机有杂音" in user["content"]
    assert "at most 120 words" in user["content"]


def test_build_prompt_without_previous_summary() -> None:
    prompt = build_prompt(None, msgs(1), max_words=50)
    assert "Previous summary:\n(none)" in prompt[1]["content"]


def test_extractive_summary_keeps_order_and_budget() -> None:
    messages = [
        Message(1, "user", "I want to return my headphones. The left earbud crackles.", 0),
        Message(2, "assistant", "Returns are accepted within 30 days. Please keep the receipt.", 0),
        Message(3, "user", "ok thanks", 0),
    ]
    text = extractive_summary(None, messages, max_tokens=200)
    lines = text.split("\n")
    assert lines[0].startswith("user: I want to return")
    assert any("30 days" in line for line in lines)
    short = extractive_summary(None, messages, max_tokens=12)
    assert 0 < len(short.split("\n")) < len(lines)


def test_extractive_summary_dedupes_repeated_sentences() -> None:
    messages = [
        Message(1, "user", "Where is my order? Where is my order?", 0),
        Message(2, "assistant", "It ships tomorrow.", 0),
        Message(3, "user", "where is  my order?", 0),
    ]
    text = extractive_summary("user: Where is my order?", messages, max_tokens=500)
    assert text.casefold().count("where is my order") == 1, text
    assert "assistant: It ships tomorrow." in text


def test_extractive_summary_chinese() -> None:
    messages = [Message(1, "user", "我想退货。耳机左边有杂音。我想退货。", 0)]
    text = extractive_summary(None, messages, max_tokens=100)
    assert text.count("我想退货") == 1
    assert "杂音" in text


def test_extractive_summary_long_sentence_is_cut() -> None:
    from ragtasks_core.tokens import count_tokens

    text = extractive_summary(None, [Message(1, "user", "word " * 500, 0)], max_tokens=10)
    assert text.startswith("user: word") and 0 < count_tokens(text) <= 10


def test_extractive_summary_nothing_new_returns_previous() -> None:
    assert extractive_summary("old", [], max_tokens=50) == "old"
    assert extractive_summary(None, [], max_tokens=50) == ""


def test_a_permanent_hole_is_stepped_over_once_it_is_old() -> None:
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    fresh = now - timedelta(seconds=5)
    old = now - HOLE_GRACE - timedelta(seconds=1)
    # seq 6 was reserved but its insert failed: 7 and 8 exist.
    recent = [Message(5, "user", "a", 1, fresh), Message(7, "user", "b", 1, fresh), Message(8, "user", "c", 1, fresh)]
    plan = plan_summary(recent, keep_recent=0, watermark=4, now=now)
    assert plan is not None and plan.upto_seq == 5  # an append may still be in flight
    stale = [Message(5, "user", "a", 1, old), Message(7, "user", "b", 1, old), Message(8, "user", "c", 1, old)]
    plan = plan_summary(stale, keep_recent=0, watermark=4, now=now)
    assert plan is not None and plan.upto_seq == 8
    assert [m.seq for m in plan.messages] == [5, 7, 8]


def test_extractive_budget_is_a_third_of_the_input_within_bounds() -> None:
    assert extractive_budget(None, msgs(1, 2, 3, tokens=100), 512) == 100
    assert extractive_budget(None, msgs(1, tokens=10), 512) == 64
    assert extractive_budget(None, msgs(*range(1, 40), tokens=100), 512) == 512


# --- Chinese: sentences split with or without spaces, scored with the analyzer's words -------------


def test_extractive_summary_splits_chinese_sentences_without_spaces() -> None:
    messages = [Message(1, "user", "耳机左边有杂音；充电盒也充不进电！能换货吗？订单号是 A123。", 0)]
    text = extractive_summary(None, messages, max_tokens=500)
    assert text.split("\n") == [
        "user: 耳机左边有杂音；",
        "user: 充电盒也充不进电！",
        "user: 能换货吗？",
        "user: 订单号是 A123。",
    ]


def test_extractive_summary_splits_chinese_sentences_with_spaces_and_half_width_marks() -> None:
    messages = [Message(1, "assistant", "好的。 请提供订单号! 我们会在24小时内处理?  谢谢", 0)]
    text = extractive_summary(None, messages, max_tokens=500)
    assert len(text.split("\n")) == 4, text


def test_extractive_summary_keeps_the_chinese_sentences_about_the_topic() -> None:
    # Word-level scoring: the sentences about 退款 share words; the chit-chat shares none. With
    # characters as terms, the chit-chat's common characters (的, 了, 是) would outscore them.
    messages = [
        Message(1, "user", "我申请的退款还没有到账。", 0),
        Message(2, "assistant", "今天的天气是真的不错啊，是吧是吧。", 0),
        Message(3, "assistant", "退款会在三个工作日内退回原支付账户。", 0),
        Message(4, "user", "退款到账以后我会确认。", 0),
    ]
    budget = sum(len(m.content) for m in messages)  # room for about three of the four sentences
    text = extractive_summary(None, messages, max_tokens=budget * 3 // 4)
    assert "天气" not in text, text
    assert text.count("退款") == 3, text


def test_extractive_summary_full_width_repeat_is_kept_once() -> None:
    messages = [Message(1, "user", "ＯＫ，收到。", 0), Message(2, "user", "OK,收到。", 0)]
    text = extractive_summary(None, messages, max_tokens=100)
    assert text == "user: ＯＫ，收到。"


def test_extractive_summary_cuts_a_long_chinese_sentence_within_the_token_budget() -> None:
    from ragtasks_core.tokens import count_tokens

    text = extractive_summary(None, [Message(1, "user", "退款政策说明" * 400, 0)], max_tokens=10)
    assert text.startswith("user: 退款")
    assert 0 < count_tokens(text) <= 10


def test_extractive_summary_previous_summary_lines_stay_lines() -> None:
    previous = "user: 我想退货\nassistant: 请提供订单号"
    text = extractive_summary(previous, [Message(3, "user", "订单号是 A123。", 0)], max_tokens=500)
    assert text.split("\n") == ["user: 我想退货", "assistant: 请提供订单号", "user: 订单号是 A123。"]


def test_a_rolling_summary_keeps_what_the_conversation_established_when_the_topic_changes() -> None:
    # The first fold: the headphones, the order number, the request. The second fold's messages
    # are all about a power bank: their words outscore the old lines, which must still survive.
    def said(seq: int, content: str) -> Message:
        return Message(seq, "user" if seq % 2 else "assistant", content, count_tokens(content) + 4)

    first = [
        said(1, "我买的 Sony WH-1000XM5 耳机左边有杂音。订单号 JD-88231907。音量大的时候更明显。"),
        said(2, "抱歉给您带来不便。我想确认一下购买日期和购买渠道。"),
        said(3, "上周三在京东自营买的。我想申请换货，不要退款。"),
        said(4, "好的，换货申请需要您提供订单号和问题描述，我们会在24小时内处理。"),
    ]
    previous = extractive_summary(None, first, max_tokens=extractive_budget(None, first, 512))
    assert "JD-88231907" in previous and "换货" in previous, previous
    second = [
        said(5, "另外我的 Anker 737 充电宝充不进电。充电宝的指示灯一直闪。"),
        said(6, "充电宝型号是 A1289 吗？请用原装线给充电宝充电。"),
        said(7, "是 A1289。充电宝换了线也充不进电。充电宝还在保修期内。"),
        said(8, "充电宝在保修期内可以免费维修。充电宝请寄回售后中心。"),
        said(9, "充电宝寄回要多久？充电宝的运费谁出？"),
        said(10, "充电宝维修一般七个工作日。充电宝寄回的运费由我们承担。"),
    ]
    budget = extractive_budget(previous, second, 512)
    text = extractive_summary(previous, second, max_tokens=budget)
    assert "JD-88231907" in text, text
    assert "充电宝" in text, text
    assert count_tokens(text) <= budget
