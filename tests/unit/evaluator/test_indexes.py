"""Built-in retrievers on the real Lee corpus: BM25, and Qdrant (embedded, in memory) aligned with
a source of truth -- recall falls when a third of the index is deleted, and alignment restores it."""

from __future__ import annotations

import hashlib
import random

from qdrant_client import QdrantClient

from ragtasks_evaluator import logic, questions
from ragtasks_evaluator.corpus import lee_chunks
from ragtasks_evaluator.retrievers import Bm25Retriever, Retriever, VectorRetriever
from ragtasks_evaluator.vectors import HashingEmbedder, IndexedChunk, QdrantIndex

LEE = lee_chunks()
TEXT = {c["chunk_id"]: c["text"] for c in LEE}
SAMPLE = logic.sample_ids(TEXT, 50, seed=2)


def _hit_rate(retriever: Retriever, k: int = 10) -> float:
    ranks = [logic.rank_of([i], retriever.search(questions.offline_question(TEXT[i]), k)) for i in SAMPLE]
    return logic.score(ranks, [k])[f"hit_rate@{k}"]


def test_bm25_hit_rate_on_lee_is_high_and_stable() -> None:
    retriever = Bm25Retriever(list(TEXT), list(TEXT.values()))
    rate = _hit_rate(retriever)
    assert rate >= 0.9 and rate == _hit_rate(Bm25Retriever(list(TEXT), list(TEXT.values())))
    assert retriever.search("the of and", 10) == [] and Bm25Retriever([], []).search("fire", 5) == []


def test_vector_index_aligns_with_the_source_and_recall_tracks_its_damage() -> None:
    chunks = [IndexedChunk(i, t, hashlib.sha256(t.encode()).hexdigest()) for i, t in TEXT.items()]
    index = QdrantIndex(QdrantClient(location=":memory:"), HashingEmbedder(256))
    assert index.align("lee", chunks).as_dict() == {"upserted": len(chunks), "deleted": 0, "unchanged": 0}
    assert index.align("lee", chunks).as_dict() == {"upserted": 0, "deleted": 0, "unchanged": len(chunks)}
    retriever = VectorRetriever(index, "lee")
    intact = _hit_rate(retriever)
    assert intact >= 0.7, intact

    third = random.Random(4).sample(sorted(TEXT), len(TEXT) // 3)
    index.delete("lee", third)
    assert index.count("lee") == len(TEXT) - len(third)
    damaged = _hit_rate(retriever)
    assert damaged <= intact - 0.15, (intact, damaged)

    changed = [*chunks[1:], IndexedChunk(chunks[0].chunk_id, "new text", "new-hash")]
    report = index.align("lee", changed).as_dict()
    assert report == {
        "upserted": len(third) + (chunks[0].chunk_id not in third),
        "deleted": 0,
        "unchanged": len(chunks) - len(third) - (chunks[0].chunk_id not in third),
    }
    index.align("lee", chunks)
    assert _hit_rate(retriever) == intact
    assert index.align("lee", chunks[:10]).deleted == len(chunks) - 10  # orphans go
    assert index.search("other-kb", "fire", 5) == []
