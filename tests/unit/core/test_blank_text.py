"""``is_blank``: "must not be blank" means no visible character, not only no whitespace."""

from __future__ import annotations

import pytest

from ragtasks_core.text import is_blank


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \t\n",
        "\u3000\u3000",  # ideographic spaces: what str.strip() already caught
        "\u200b\u200c\u200d\ufeff",  # zero-width space, joiners, BOM: strip() leaves them
        "\u2060",  # word joiner
        "\u00ad\u180e",  # soft hyphen, Mongolian vowel separator
        " \u200b \u3000\ufe0f",  # mixed with spaces and a lone variation selector
        "\u3164\u2800",  # Hangul filler, blank Braille cell
    ],
)
def test_invisible_text_is_blank(text: str) -> None:
    assert is_blank(text)


@pytest.mark.parametrize(
    "text",
    [
        "你好",
        "\u200b退款\u200b",  # hidden characters around real words: the words count
        "ＡＢＣ１２３",  # full-width letters and digits
        "。",  # punctuation alone is visible
        "😀",
        "\u200b+",
        "\ue000",  # private use: an icon font's glyph
        "\U0001fa77",  # 🩷, Unicode 15: unassigned (Cn) in Python 3.11's tables, drawn by every phone
        "\U0001fae8",  # 🫨, Unicode 15 too
        "e\u0301",
    ],
)
def test_text_with_a_visible_character_is_not_blank(text: str) -> None:
    assert not is_blank(text)
