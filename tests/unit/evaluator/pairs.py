"""Generated near-duplicate pairs of known Jaccard similarity, Chinese and English.

Used by the LSH recall test and by ``benchmarks/bench_dedup.py``. A pair is a text of 80-200
units (Chinese characters of the zh_kb corpus, or words of the Lee corpus) in clauses of 8-20,
and the same text with 1-12 units replaced; its similarity is the exact Jaccard of the two
shingle sets (``dedup.shingles``), and only pairs inside the asked range are kept.
"""

from __future__ import annotations

import random

from ragtasks_evaluator.corpus import lee_chunks, load_zh_kb
from ragtasks_evaluator.dedup import jaccard, shingles

Pair = tuple[str, str, float]


def zh_units() -> list[str]:
    return sorted({ch for c in load_zh_kb().chunks for ch in c["text"] if "\u4e00" <= ch <= "\u9fff"})


def en_units() -> list[str]:
    return sorted({w.strip(".,;:'\"()").lower() for c in lee_chunks()[:200] for w in c["text"].split()} - {""})


def _text(units: list[str], joiner: str, stop: str, rng: random.Random) -> str:
    out, i = [], 0
    while i < len(units):
        n = rng.randint(8, 20)
        out.append(joiner.join(units[i : i + n]) + stop)
        i += n
    return joiner.join(out)


def pairs(vocab: list[str], joiner: str, stop: str, low: float, high: float, count: int, seed: int) -> list[Pair]:
    """``count`` pairs (a, b, exact Jaccard) with ``low <= Jaccard < high``."""
    rng = random.Random(seed)
    found: list[Pair] = []
    while len(found) < count:
        units = [rng.choice(vocab) for _ in range(rng.randint(80, 200))]
        changed = list(units)
        for _ in range(rng.randint(1, 12)):
            changed[rng.randrange(len(changed))] = rng.choice(vocab)
        cut = rng.random()  # the same clause boundaries in both texts
        a, b = _text(units, joiner, stop, random.Random(cut)), _text(changed, joiner, stop, random.Random(cut))
        similarity = jaccard(shingles(a), shingles(b))
        if low <= similarity < high:
            found.append((a, b, similarity))
    return found


def zh_and_en_pairs(low: float, high: float, count_per_language: int, seed: int = 11) -> list[Pair]:
    return pairs(zh_units(), "", "，", low, high, count_per_language, seed) + pairs(
        en_units(), " ", ",", low, high, count_per_language, seed + 1
    )
