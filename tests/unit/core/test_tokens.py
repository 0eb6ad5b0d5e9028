"""Token counts come from o200k_base (offline), not chars/4."""

from __future__ import annotations

from ragtasks_core.tokens import MESSAGE_OVERHEAD_TOKENS, count_message_tokens, count_tokens


def test_english_is_near_chars_over_four() -> None:
    text = "The quick brown fox jumps over the lazy dog. " * 10
    assert count_tokens("hello world") == 2
    assert abs(count_tokens(text) - len(text) / 4) < len(text) / 8


def test_chinese_counts_far_more_than_chars_over_four() -> None:
    text = "我想退货，上周买的耳机左边有杂音，请问怎么处理？退款需要几天到账？" * 4
    tokens = count_tokens(text)
    # chars/4 would say ~32; o200k_base needs roughly one token per 1-2 characters.
    assert tokens > 2 * (len(text) / 4)
    assert tokens <= len(text)


def test_message_overhead() -> None:
    assert count_message_tokens("user", "hello world") == MESSAGE_OVERHEAD_TOKENS + 1 + 2
    assert count_tokens("") == 0
