"""Units of text the evaluator compares: canonical form, CJK runs, punctuation-bounded segments.

Built on the core analyzer (``ragtasks_core.text``): what it does not offer -- a canonical form
for exact-duplicate hashing and the character-level view Chinese near-duplicates need -- is here.
"""

from __future__ import annotations

import re

from ragtasks_core.text import is_cjk, normalize

# Chinese punctuation NFKC leaves alone, mapped to the ASCII mark it stands for, so that a copy
# typed with half-width punctuation (or the other way round) hashes the same.
_PUNCT_WIDTH = str.maketrans(
    {
        "。": ".",
        "、": ",",
        "“": '"',
        "”": '"',
        "‘": "'",
        "’": "'",
        "「": '"',
        "」": '"',
        "『": '"',
        "』": '"',
        "【": "[",
        "】": "]",
        "《": "<",
        "》": ">",
        "〈": "<",
        "〉": ">",
        "—": "-",
        "·": ".",
    }
)
_SPACE_RE = re.compile(r"\s+")


def canonical(text: str) -> str:
    """NFKC, case folded, Chinese punctuation as ASCII, and no whitespace except between two Latin
    words or numbers -- spaces around Chinese text or punctuation carry no meaning in Chinese."""
    folded = normalize(text).translate(_PUNCT_WIDTH)
    return _SPACE_RE.sub(lambda m: _space(folded, m.start(), m.end()), folded)


def _space(text: str, start: int, end: int) -> str:
    before = text[start - 1] if start > 0 else ""
    after = text[end] if end < len(text) else ""
    return " " if _latin_alnum(before) and _latin_alnum(after) else ""


def _latin_alnum(ch: str) -> bool:
    return bool(ch) and ch.isalnum() and not is_cjk(ch)


def segments(text: str) -> list[list[str]]:
    """The canonical text cut at punctuation into segments of units: one unit per CJK character,
    one per Latin word or number (versions whole). Whitespace separates words but not segments."""
    out: list[list[str]] = []
    units: list[str] = []
    word: list[str] = []
    text = canonical(text)
    for i, ch in enumerate(text):
        if (ch.isalnum() and not is_cjk(ch)) or _decimal_point(text, i, word):
            word.append(ch)
            continue
        if word:
            units.append("".join(word))
            word = []
        if is_cjk(ch):
            units.append(ch)
        elif not ch.isspace() and units:  # punctuation ends a segment
            out.append(units)
            units = []
    if word:
        units.append("".join(word))
    if units:
        out.append(units)
    return out


def _decimal_point(text: str, i: int, word: list[str]) -> bool:
    """A "." inside a number or version ("5.3", "1.2.0") belongs to it."""
    return text[i] == "." and bool(word) and word[-1].isdigit() and text[i + 1 : i + 2].isdigit()


def cjk_runs(text: str) -> list[str]:
    """Maximal runs of CJK characters of the normalized text ("禾木buds耳机" -> ["禾木", "耳机"])."""
    runs: list[str] = []
    current: list[str] = []
    for ch in normalize(text):
        if is_cjk(ch):
            current.append(ch)
        elif current:
            runs.append("".join(current))
            current = []
    if current:
        runs.append("".join(current))
    return runs
