"""MinHash LSH recall, measured: generated pairs of known Jaccard similarity, Chinese and English.

The banding is chosen from the S-curve (``dedup.lsh_bands``); this measures what it promises:
pairs at or above the threshold are proposed (and then confirmed) with recall >= 0.99, and no
pair below threshold - 0.05 is merged (each candidate is confirmed by its exact Jaccard).
"""

from __future__ import annotations

from ragtasks_evaluator.dedup import NUM_PERM, ChunkText, candidate_probability, duplicate_groups, lsh_bands
from tests.unit.evaluator.pairs import Pair, zh_and_en_pairs

THRESHOLD = 0.9
PAIRS_PER_LANGUAGE = 200


def _merged_share(pairs: list[Pair]) -> float:
    """The share of pairs merged, all in one KB (so a pair merged with another pair fails too)."""
    chunks = []
    for n, (a, b, _) in enumerate(pairs):
        chunks += [ChunkText(f"p{n:04d}-a", a), ChunkText(f"p{n:04d}-b", b)]
    groups = duplicate_groups(chunks, THRESHOLD)
    assert all(ids == [keeper[:-1] + "b"] for keeper, ids in groups.items()), "a pair merged with another"
    return len(groups) / len(pairs)


def test_the_banding_follows_the_s_curve() -> None:
    bands, rows = lsh_bands(THRESHOLD)
    assert bands * rows <= NUM_PERM and (bands, rows) == (18, 7)
    assert candidate_probability(THRESHOLD, bands, rows) >= 0.9999
    assert candidate_probability(0.2, bands, rows) < 0.001  # unrelated chunks are rarely even proposed
    for threshold in (0.5, 0.7, 0.8, 0.85, 0.95):
        assert candidate_probability(threshold, *lsh_bands(threshold)) >= 0.9999


def test_recall_of_pairs_above_the_threshold_is_at_least_099() -> None:
    pairs = zh_and_en_pairs(THRESHOLD, 1.0 + 1e-9, PAIRS_PER_LANGUAGE)
    recall = _merged_share(pairs)
    low = min(s for _, _, s in pairs)
    print(f"\nLSH recall at Jaccard {low:.3f}-1.00: {recall:.4f} of {len(pairs)} pairs (Chinese and English)")
    assert recall >= 0.99


def test_no_pair_below_threshold_minus_005_is_merged() -> None:
    assert _merged_share(zh_and_en_pairs(0.6, THRESHOLD - 0.05, PAIRS_PER_LANGUAGE)) == 0.0
