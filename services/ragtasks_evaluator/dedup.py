"""Finding duplicate chunks: exact (same canonical text) and near (Jaccard of shingle sets).

Pure: plain data in, groups out. The keeper of a group is its smallest chunk id, so the result
does not depend on the order chunks are read in and re-running maintenance changes nothing.

- Exact: the SHA-256 of the canonical text (``textunits.canonical``: NFKC, case, punctuation
  width, whitespace), so a copy with full-width commas or extra spaces is an exact duplicate.
- Near: shingles are n-grams of units inside punctuation-bounded segments -- characters of
  Chinese text, words of Latin text (``shingles``) -- so one changed character touches a few
  shingles of a Chinese chunk instead of its whole clause, and swapping two clauses changes
  nothing. MinHash LSH only *proposes* candidate pairs; a pair is merged only if the exact
  Jaccard of its shingle sets reaches the threshold, so nothing below the threshold is merged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from .textunits import canonical, segments

if TYPE_CHECKING:
    from datasketch import MinHash

# datasketch is imported where it is used: it pulls in scipy, a second of CPU at import, and every
# worker loads this module at start (it consumes ``maintenance``), while dedup runs once a night.

NUM_PERM = 128
SHINGLE_UNITS = 2
# The probability that LSH proposes a pair right AT the threshold. Pairs above it are proposed
# more often still, so measured recall (tests/unit/evaluator/test_dedup_lsh.py) stays above 0.99.
TARGET_CANDIDATE_PROBABILITY = 0.9999


@dataclass(frozen=True)
class ChunkText:
    chunk_id: str
    text: str


def exact_key(text: str) -> str:
    """The key of exact duplicates: SHA-256 of the canonical text."""
    return hashlib.sha256(canonical(text).encode("utf-8")).hexdigest()


def shingles(text: str, size: int = SHINGLE_UNITS) -> set[str]:
    """``size``-grams of units within each segment; a shorter segment is one shingle."""
    out: set[str] = set()
    for units in segments(text):
        if len(units) <= size:
            out.add("\x1f".join(units))
        else:
            out.update("\x1f".join(units[i : i + size]) for i in range(len(units) - size + 1))
    return out


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def candidate_probability(similarity: float, bands: int, rows: int) -> float:
    """The LSH S-curve: the chance that two sets of Jaccard ``similarity`` agree on all ``rows``
    MinHash values of at least one of ``bands`` bands, i.e. are proposed: 1 - (1 - s^r)^b."""
    return 1.0 - (1.0 - similarity**rows) ** bands


@lru_cache(maxsize=32)
def lsh_bands(threshold: float, num_perm: int = NUM_PERM) -> tuple[int, int]:
    """(bands, rows) for a threshold: the most rows per band (fewest false candidates, each of
    which costs an exact Jaccard) such that a pair at the threshold is still proposed with
    ``TARGET_CANDIDATE_PROBABILITY``. E.g. 128 permutations at 0.9 -> 18 bands x 7 rows:
    P(0.9) = 0.99999, P(0.5) = 0.13, P(0.2) = 0.0002 (16 x 8 misses the target: P(0.9) = 0.99988).
    datasketch's own choice weighs false positives and negatives alike and gave 3 x 21 at 0.9
    with 64 permutations: P(0.93) = 0.52 -- it missed near duplicates a confirmation step would
    have accepted, while a false candidate only costs one exact Jaccard.
    """
    for rows in range(num_perm, 0, -1):
        bands = num_perm // rows
        if candidate_probability(threshold, bands, rows) >= TARGET_CANDIDATE_PROBABILITY:
            return bands, rows
    return num_perm, 1


def _minhash(items: set[str], num_perm: int) -> MinHash:
    from datasketch import MinHash

    mh = MinHash(num_perm=num_perm, seed=1)
    mh.update_batch([s.encode("utf-8") for s in sorted(items)])
    return mh


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            # The smaller id is the root, so the keeper is deterministic.
            self.parent[max(ra, rb)] = min(ra, rb)


def duplicate_groups(chunks: Sequence[ChunkText], threshold: float) -> dict[str, list[str]]:
    """``{keeper_id: [merged ids...]}`` for every group of two or more duplicates.

    Exact duplicates share a canonical text. Near duplicates have an exact Jaccard similarity of
    their shingle sets of at least ``threshold``; MinHash LSH only finds the candidate pairs.
    """
    uf = _UnionFind()
    by_key: dict[str, str] = {}
    for chunk in sorted(chunks, key=lambda c: c.chunk_id):
        first = by_key.setdefault(exact_key(chunk.text), chunk.chunk_id)
        if first != chunk.chunk_id:
            uf.union(first, chunk.chunk_id)
    if threshold < 1.0:
        texts = {c.chunk_id: c.text for c in chunks}
        for a, b in near_pairs({i: texts[i] for i in sorted(by_key.values())}, threshold):
            uf.union(a, b)
    groups: dict[str, list[str]] = {}
    for chunk in chunks:
        root = uf.find(chunk.chunk_id)
        if root != chunk.chunk_id:
            groups.setdefault(root, []).append(chunk.chunk_id)
    return {keeper: sorted(ids) for keeper, ids in sorted(groups.items())}


def near_pairs(texts: dict[str, str], threshold: float) -> list[tuple[str, str]]:
    """Pairs of ids whose shingle sets have an exact Jaccard >= ``threshold`` (LSH proposes them)."""
    sets = {chunk_id: items for chunk_id in sorted(texts) if (items := shingles(texts[chunk_id]))}
    candidates = candidate_pairs(sets, lsh_bands(threshold, NUM_PERM))
    return [(a, b) for a, b in candidates if jaccard(sets[a], sets[b]) >= threshold - 1e-9]


def candidate_pairs(sets: dict[str, set[str]], params: tuple[int, int]) -> list[tuple[str, str]]:
    """The pairs MinHash LSH with ``params`` = (bands, rows) proposes, each once, in id order."""
    bands, rows = params
    from datasketch import MinHashLSH

    lsh = MinHashLSH(num_perm=bands * rows, params=(bands, rows))
    pairs: list[tuple[str, str]] = []
    for chunk_id in sorted(sets):
        mh = _minhash(sets[chunk_id], bands * rows)
        pairs.extend((other, chunk_id) for other in sorted(lsh.query(mh)))
        lsh.insert(chunk_id, mh)
    return pairs
