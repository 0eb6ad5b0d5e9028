"""The per-process retriever cache lives on the runtime; a row is one typed value; the vector
index re-embeds what another embedder made."""

from __future__ import annotations

from typing import Any

import pytest
from qdrant_client import QdrantClient

from ragtasks_core.runtime import Runtime
from ragtasks_core.settings import Settings
from ragtasks_evaluator import retrieval
from ragtasks_evaluator.evaluation import Row, _retrieve
from ragtasks_evaluator.retrievers import RetrieverConfigError
from ragtasks_evaluator.vectors import HashingEmbedder, IndexedChunk, QdrantIndex


def test_the_retriever_cache_belongs_to_the_runtime_and_goes_with_it() -> None:
    rt = Runtime(Settings(retriever="vector"))
    retrievers = retrieval.for_runtime(rt)
    assert retrieval.for_runtime(rt) is retrievers
    assert retrievers.index is retrievers.index  # one vector index per process, built on first use
    # A forked child (or a closed and rebuilt runtime) starts with caches of its own.
    assert retrieval.for_runtime(Runtime(rt.settings)) is not retrievers


def test_a_misconfigured_http_retriever_is_refused_before_any_question() -> None:
    db: Any = None  # never reached: the http retriever needs no KB
    with pytest.raises(RetrieverConfigError, match="RAGTASKS_RETRIEVER_URL"):
        retrieval.Retrievers(Settings(retriever="http")).build(db, "kb")


def test_a_row_document_keeps_every_field_the_report_reads() -> None:
    row = Row("ev", 2, "c1", "q?", "offline-keywords-v2", ["c9", "c1"], 2, None, 1.234, 5.678)
    doc = row.document()
    assert {k: doc[k] for k in ("evaluation_id", "batch", "chunk_id", "rank", "retrieved")} == {
        "evaluation_id": "ev",
        "batch": 2,
        "chunk_id": "c1",
        "rank": 2,
        "retrieved": ["c9", "c1"],
    }
    assert (doc["question_ms"], doc["retrieval_ms"], doc["empty_retrieval"]) == (1.23, 5.68, False)
    missing = Row("ev", 0, "gone", error="chunk deleted after sampling").document()
    assert missing["empty_retrieval"] and missing["rank"] is None and missing["question_source"] is None


def test_points_another_embedder_made_are_re_embedded_once() -> None:
    class OlderHashing(HashingEmbedder):
        def __init__(self) -> None:
            super().__init__(64)
            self.name = "hashing-64"  # what the embedder was called before the analyzer

    client = QdrantClient(location=":memory:")
    chunks = [IndexedChunk(f"c{i}", f"第{i}条：退货运费由买家承担 {i}", f"h{i}") for i in range(5)]
    assert QdrantIndex(client, OlderHashing()).align("kb", chunks).upserted == 5
    current = QdrantIndex(client, HashingEmbedder(64))
    assert current.align("kb", chunks).as_dict() == {"upserted": 5, "deleted": 0, "unchanged": 0}
    assert current.align("kb", chunks).as_dict() == {"upserted": 0, "deleted": 0, "unchanged": 5}


def test_a_row_keeps_at_most_the_largest_k_ids_and_ranks_merged_chunks_as_the_sampled_one() -> None:
    row = Row("ev", 0, "c1", "q?", retrieved=[f"x{i}" for i in range(1000)])
    assert len(row.document(10)["retrieved"]) == 10
    assert len(row.document()["retrieved"]) == 1000
    row = Row("ev", 0, "c1", "q?", aliases={"merged-into-c1": "c1"})
    scored = _retrieve(row, _Fixed(["x", "x", "merged-into-c1", "c1"]), 5)
    assert scored.rank == 2  # repeats count once; the merged chunk stands for c1
    doc = scored.document(3)
    assert doc["retrieved"] == ["x", "x", "merged-into-c1"] and doc["aliases"] == [["merged-into-c1", "c1"]]
    # A labelled query: the first id with a grade > 0 (a judged-irrelevant one does not count).
    labelled = Row("ev", 0, "q7", "q?", relevant=[["x", 0], ["c2", 2], ["c3", 1]])
    assert _retrieve(labelled, _Fixed(["x", "c3", "c2"]), 5).rank == 2


class _Fixed:
    name = "fixed"

    def __init__(self, ids: list[str]) -> None:
        self.ids = ids

    def search(self, question: str, top_k: int) -> list[str]:
        return self.ids[:top_k]
