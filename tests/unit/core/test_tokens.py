"""Token counts come from o200k_base (offline), not chars/4: pinned to the real encoding."""

from __future__ import annotations

import pytest

from ragtasks_core.tokens import MESSAGE_OVERHEAD_TOKENS, _encoding, count_message_tokens, count_tokens

CHINESE = "我想退货，上周买的耳机左边有杂音，请问怎么处理？退款需要几天到账？"  # 33 characters
ENGLISH = "The quick brown fox jumps over the lazy dog. "  # 45 characters


def test_the_encoding_is_o200k_base() -> None:
    # o200k_base ids (cl100k_base would give [15339, 1917]): the right vocabulary is loaded.
    assert _encoding().encode_ordinary("hello world") == [24912, 2375]


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("hello world", 2),
        (ENGLISH, 11),
        (ENGLISH * 10, 101),
        (CHINESE, 26),
        (CHINESE * 4, 104),
        ("用户想退货。", 5),
        ("我想退货，耳机左边有杂音。The left earbud crackles at high volume.", 23),
        ("", 0),
    ],
)
def test_pinned_o200k_counts(text: str, tokens: int) -> None:
    assert count_tokens(text) == tokens


def test_chars_over_four_fits_english() -> None:
    text = ENGLISH * 10
    assert abs(count_tokens(text) - len(text) / 4) <= len(text) / 16  # 101 vs 112.5


def test_chars_over_four_undercounts_chinese_at_least_threefold() -> None:
    text = CHINESE * 4
    assert len(text) == 132
    estimate = len(text) / 4  # 33
    assert count_tokens(text) >= 3 * estimate  # 104 real tokens: chars/4 is off 3.15x


def test_message_overhead() -> None:
    assert MESSAGE_OVERHEAD_TOKENS == 4
    assert count_message_tokens("user", "hello world") == 4 + 1 + 2
    assert count_message_tokens("assistant", CHINESE) == 4 + count_tokens("assistant") + 26
