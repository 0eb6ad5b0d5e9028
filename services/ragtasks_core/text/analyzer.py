"""The one text analyzer: every component that splits user text calls this module.

Normalization (NFKC: full-width -> half-width; case folding; whitespace collapsed), Chinese word
segmentation with ``rjieba`` (the Rust port of jieba, chosen by measurement: docs/text.md), Latin
words and numbers kept whole, punctuation dropped, Chinese and English stopwords shipped as package
data. Nothing is downloaded: rjieba compiles jieba's dictionary into its wheel.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Callable, Iterator
from functools import lru_cache
from importlib import resources
from typing import Literal

# Han ideographs (BMP blocks, compatibility ideographs, extensions B-H), the ideographic zero,
# kana and Hangul syllables: scripts written without spaces between words.
_CJK_CLASS = (
    "\u3007\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002ebef\U00030000-\U000323af"
)
_CJK_RE = re.compile(f"[{_CJK_CLASS}]")
# One scan finds, in order: a CJK run (segmented by rjieba), a decimal or version number kept whole
# ("3.5", "1.2.3"), or a run of letters/digits that are not CJK ("buds", "pro2", "4o").
# Everything else (punctuation, symbols, spaces, "_") separates tokens and is dropped.
_TOKEN_RE = re.compile(rf"(?P<cjk>[{_CJK_CLASS}]+)|(?P<num>\d+(?:\.\d+)+)|(?P<word>(?:(?![{_CJK_CLASS}])[^\W_])+)")
_SPACE_RE = re.compile(r"\s+")

# Sentence ends: Chinese marks (and their half-width forms after NFKC) end a sentence whatever
# follows; "." only before whitespace or the end, so "3.5" and "e.g.x" stay whole. Closing quotes
# and brackets stay with the sentence they close. A blank line, or a line break right after a CJK
# character (Chinese is not hard-wrapped, so that is a list item or a heading), also ends one.
_SENTENCE_END_RE = re.compile(
    r"(?:[。！？；!?;]+|[.…]+(?=\s|$))[”’\"'」』）)\]】]*"
    rf"|\n\s*\n|(?<=[{_CJK_CLASS}])[ \t]*\n"
)

Language = Literal["zh", "en"]
# Share of CJK among letters from which a text counts as Chinese. Low on purpose: one Chinese
# character carries about as much as an English word of ~4 letters, and Chinese support text is
# full of English product names ("禾木 Buds Pro 2 耳机" is 4 CJK of 11 letters, 0.36).
ZH_RATIO = 0.2


def normalize(text: str) -> str:
    """NFKC (full-width letters, digits and punctuation -> half-width), case folding, single spaces."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _SPACE_RE.sub(" ", folded).strip()


def is_cjk(ch: str) -> bool:
    """True for one Han ideograph, kana or Hangul syllable."""
    return len(ch) == 1 and _CJK_RE.match(ch) is not None


def cjk_ratio(text: str) -> float:
    """CJK characters / all letters (CJK + other alphabetic); 0.0 for a text without letters."""
    cjk = letters = 0
    for ch in text:
        if is_cjk(ch):
            cjk += 1
            letters += 1
        elif ch.isalpha():
            letters += 1
    return cjk / letters if letters else 0.0


def language_of(text: str) -> Language:
    return "zh" if cjk_ratio(text) >= ZH_RATIO else "en"


class _Segmenter:
    """rjieba, imported once per process on first use, behind a lock.

    Importing rjieba builds its dictionary (~0.15 s): done lazily so that processes that never
    split text (the gateway, the beat) do not pay for it, and once even when threads race.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cut: Callable[[str], list[str]] | None = None
        self._tag: Callable[[str], list[tuple[str, str]]] | None = None

    def _load(self) -> None:
        with self._lock:
            if self._cut is None:
                import rjieba

                self._tag = rjieba.tag
                self._cut = rjieba.cut

    def cut(self, run: str) -> list[str]:
        if self._cut is None:
            self._load()
        assert self._cut is not None
        return self._cut(run)

    def tag(self, run: str) -> list[tuple[str, str]]:
        if self._tag is None:
            self._load()
        assert self._tag is not None
        return self._tag(run)


_SEGMENTER = _Segmenter()


def _merge_single_characters(words: list[tuple[str, str]], stop: frozenset[str]) -> list[tuple[str, str]]:
    """Join neighbouring one-character (word, tag) pairs that are not stopwords into one word, tagged "nz".

    The dictionary does not know new names: it cuts a brand like "禾木" into "禾" + "木" whether it
    stands alone or in "禾木耳机". Joining such runs gives the name back as one token, the same in
    a query and in a document, while function characters ("的", "在", ...) still separate words.
    """
    out: list[tuple[str, str]] = []
    run: list[tuple[str, str]] = []
    for pair in words:
        if len(pair[0]) == 1 and pair[0] not in stop:
            run.append(pair)
            continue
        if run:
            out.append(_joined(run))
            run = []
        out.append(pair)
    if run:
        out.append(_joined(run))
    return out


def _joined(run: list[tuple[str, str]]) -> tuple[str, str]:
    return run[0] if len(run) == 1 else ("".join(word for word, _ in run), "nz")


def _segment(text: str, stop: frozenset[str]) -> list[str]:
    """Tokens of an already normalized text, stopwords included (one flat loop: this is the hot path)."""
    tokens: list[str] = []
    cut = _SEGMENTER.cut
    for match in _TOKEN_RE.finditer(text):
        if match.lastgroup != "cjk":
            tokens.append(match.group())
            continue
        words = cut(match.group())  # a run of CJK characters only: no spaces or punctuation in it
        if any(len(word) == 1 and word not in stop for word in words):
            words = [word for word, _ in _merge_single_characters([(w, "") for w in words], stop)]
        tokens.extend(words)
    return tokens


def tagged_segments(text: str) -> Iterator[tuple[str, str]]:
    """(token, part of speech) pairs of a text in its own case, the same tokens ``tokenize`` gives.

    Latin words are "eng", numbers "m"; one-character words joined into a name are "nz".
    """
    stop = stopword_set()
    for match in _TOKEN_RE.finditer(text):
        kind = match.lastgroup
        if kind == "cjk":
            yield from _merge_single_characters(_SEGMENTER.tag(match.group()), stop)
        else:
            yield match.group(), "m" if kind == "num" or match.group().isdigit() else "eng"


def tokenize(text: str, *, stopwords: bool = True) -> list[str]:
    """Normalized tokens: Chinese words, Latin words and numbers whole, no punctuation.

    >>> tokenize("禾木 Buds Pro 2 耳机")
    ['禾木', 'buds', 'pro', '2', '耳机']
    """
    stop = stopword_set()
    tokens = _segment(normalize(text), stop)
    return [token for token in tokens if token not in stop] if stopwords else tokens


def split_sentences(text: str) -> list[str]:
    """Sentences of a Chinese, English or mixed text, stripped, in order, original characters kept."""
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END_RE.finditer(text):
        _append_stripped(sentences, text[start : match.end()])
        start = match.end()
    _append_stripped(sentences, text[start:])
    return sentences


def _append_stripped(sentences: list[str], piece: str) -> None:
    piece = piece.strip()
    if piece:
        sentences.append(piece)


@lru_cache(maxsize=1)
def stopword_set() -> frozenset[str]:
    """Chinese and English stopwords (package data), normalized like the tokens they are matched to."""
    words: set[str] = set()
    for name in ("stopwords_zh.txt", "stopwords_en.txt"):
        data = resources.files("ragtasks_core.text").joinpath(name).read_text(encoding="utf-8")
        words.update(normalize(line) for line in data.splitlines() if line.strip() and not line.startswith("#"))
    return frozenset(words)


def keywords(text: str, top_k: int = 5) -> list[str]:
    """The text's key terms, most important first, in the text's own case (see keyterms.py)."""
    from ragtasks_core.text.keyterms import rank_keywords

    return rank_keywords(text, top_k)
