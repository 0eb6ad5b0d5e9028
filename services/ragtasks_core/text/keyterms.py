"""Key terms of one text, for the offline question writer: frequency x specificity x position.

A single chunk has no document frequencies to weigh its words with, and rjieba has no keyword
extractor; TextRank over one or two sentences favours whatever sits in the middle (measured:
"Hill", "hundreds", "forced" before "bushfire"). So each content word (not a function word by its
part of speech, a stopword, a number or a single character) scores

    occurrences  x  how specific it is  x  how early it first appears

- specific: for Chinese by part of speech (names 1.2, nouns 1.0, adjectives 0.8, verbs 0.6); for English, which
  the segmenter does not tag, longer words before short ones (rarer, by Zipf's law of
  abbreviation) and a capitalised word inside a sentence (a name) x1.5;
- early: 1.5 for the first term down to 1.0 for the last (PositionRank, Florescu & Caragea 2017:
  a text introduces its subject first).
Ties keep the order of first appearance. Terms come from the same segmentation as ``tokenize``,
so a question built from them shares tokens with its chunk.
"""

from __future__ import annotations

import math
import unicodedata
from collections import defaultdict
from dataclasses import dataclass

from ragtasks_core.text.analyzer import normalize, split_sentences, stopword_set, tagged_segments

# jieba part-of-speech tags of function words, never key terms: prepositions, conjunctions,
# auxiliaries, adverbs, pronouns, numerals, measure words, time and direction words, modal
# particles, interjections, onomatopoeia, punctuation. A list of what to drop, not of what to
# keep, because the dictionary tags some nouns oddly ("积分", points, is "ad").
_FUNCTION_TAGS = ("p", "c", "u", "d", "r", "m", "q", "t", "f", "y", "e", "o", "x", "w", "z")
_NAME_TAGS = ("nr", "ns", "nt", "nz")  # person, place, organisation, other proper noun
LEAD_BONUS = 0.5


@dataclass
class _Term:
    key: str  # normalized: what is counted
    surface: str  # as first written (NFKC, own case): what is returned
    weight: float


def _specificity(word: str, tag: str, *, sentence_start: bool) -> float:
    if tag == "eng":
        by_length = min(1.6, max(0.5, math.log(len(word)) / math.log(5)))  # 5 letters: 1.0
        proper = word[:1].isupper() and not sentence_start
        return by_length * (1.5 if proper else 1.0)
    if tag.startswith(_NAME_TAGS):
        return 1.2
    if tag == "v":
        return 0.6
    if tag.startswith("a"):
        return 0.8
    return 1.0


def _is_content(key: str, tag: str) -> bool:
    if len(key) < 2:  # one Chinese character or one letter is too vague to ask about
        return False
    return not tag.startswith(_FUNCTION_TAGS)


def _terms(text: str) -> list[_Term]:
    """The content words in order; every non-stopword if none is a content word."""
    stop = stopword_set()
    content: list[_Term] = []
    other: list[_Term] = []
    for sentence in split_sentences(unicodedata.normalize("NFKC", text)):
        for position, (word, tag) in enumerate(tagged_segments(sentence)):
            key = normalize(word)
            if key in stop or tag == "m":
                continue
            term = _Term(key, word, _specificity(word, tag, sentence_start=position == 0))
            (content if _is_content(key, tag) else other).append(term)
    return content or other


def rank_keywords(text: str, top_k: int = 5) -> list[str]:
    """Up to ``top_k`` key terms, best first, each in the form it first appears in (NFKC, own case)."""
    if top_k <= 0:
        return []
    first: dict[str, _Term] = {}
    score: dict[str, float] = defaultdict(float)
    for term in _terms(text):
        first.setdefault(term.key, term)
        score[term.key] += term.weight
    order = {key: i for i, key in enumerate(first)}
    last = max(len(first) - 1, 1)
    for key, i in order.items():
        score[key] *= 1 + LEAD_BONUS * (1 - i / last)
    ranked = sorted(first, key=lambda key: (-score[key], order[key]))
    return [first[key].surface for key in ranked[:top_k]]
