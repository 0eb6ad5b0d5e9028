"""Duplicate detection: exact by content hash, near by MinHash; deterministic keepers."""

from __future__ import annotations

from ragtasks_evaluator.corpus import lee_chunks
from ragtasks_evaluator.dedup import ChunkText, duplicate_groups


def _chunk(chunk_id: str, text: str) -> ChunkText:
    return ChunkText(chunk_id, text)


def test_exact_and_near_duplicates_merge_into_the_smallest_id() -> None:
    lee = lee_chunks()[:40]
    base = [_chunk(c["chunk_id"], c["text"]) for c in lee]
    words = lee[5]["text"].split()
    extra = [_chunk("a-exact", lee[7]["text"]), _chunk("z-near", " ".join([*words[:-1], "different"]))]
    groups = duplicate_groups(base + extra, threshold=0.8)
    assert groups == {"a-exact": [lee[7]["chunk_id"]], lee[5]["chunk_id"]: ["z-near"]}
    assert duplicate_groups(list(reversed(base + extra)), threshold=0.8) == groups  # order-independent
    assert duplicate_groups(base + extra, threshold=1.0) == {"a-exact": [lee[7]["chunk_id"]]}  # exact only
    assert duplicate_groups(base, threshold=0.8) == {}  # the real corpus has no near-duplicates
