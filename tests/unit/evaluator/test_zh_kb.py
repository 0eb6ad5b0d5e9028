"""The Chinese KB written for this project (tests/data/zh_kb): retrieval, questions, duplicates.

Before the analyzer, bm25s's English tokenizer made one token of each Chinese clause (hit_rate@5
0.04 on a corpus like this one), the offline "question" was the whole chunk behind an English
prefix, and word shingles merged none of the near-duplicate pairs.
"""

from __future__ import annotations

import hashlib

from qdrant_client import QdrantClient

from ragtasks_core.text import language_of
from ragtasks_evaluator import logic, questions
from ragtasks_evaluator.corpus import lee_chunks, load_zh_kb
from ragtasks_evaluator.dedup import ChunkText, duplicate_groups, exact_key
from ragtasks_evaluator.retrievers import Bm25Retriever, Retriever, VectorRetriever
from ragtasks_evaluator.vectors import HashingEmbedder, IndexedChunk, QdrantIndex

KB = load_zh_kb()
TEXT = KB.text
# Measured on this corpus when the analyzer landed: the hashing vectors found 28 of the 30
# paraphrases in their top 5 (0.933); the floor leaves room for a change of segmentation.
VECTOR_HIT_RATE_AT_5_FLOOR = 0.85


def _paraphrase_hit_rate(retriever: Retriever, k: int = 5) -> float:
    ranks = [logic.rank_of([q["chunk_id"]], retriever.search(q["question"], k)) for q in KB.questions]
    return logic.score(ranks, [k])[f"hit_rate@{k}"]


def test_the_corpus_is_what_its_readme_says() -> None:
    assert len(KB.chunks) >= 50 and len(KB.questions) == 30 and len(KB.near_duplicates) == 10
    assert len({c["domain"] for c in KB.chunks}) == 5
    assert all(language_of(c["text"]) == "zh" for c in KB.chunks)
    assert all(q["chunk_id"] in TEXT and q["question"] not in TEXT[q["chunk_id"]] for q in KB.questions)
    assert len({d["kind"] for d in KB.near_duplicates}) == 10


def test_bm25_finds_the_chunk_of_chinese_paraphrases() -> None:
    rate = _paraphrase_hit_rate(Bm25Retriever(list(TEXT), list(TEXT.values())))
    print(f"\nzh_kb BM25 hit_rate@5 on 30 paraphrases: {rate:.3f}")
    assert rate >= 0.8
    # Only stopwords or punctuation, in the question or in the whole KB: a miss, not an error.
    assert Bm25Retriever(list(TEXT), list(TEXT.values())).search("的了吗？", 5) == []
    assert Bm25Retriever(["a", "b"], ["。。。", "的了"]).search("的", 5) == []


def test_hashing_vectors_find_the_chunk_of_chinese_paraphrases() -> None:
    index = QdrantIndex(QdrantClient(location=":memory:"), HashingEmbedder(384))
    index.align("zh", [IndexedChunk(i, t, hashlib.sha256(t.encode()).hexdigest()) for i, t in TEXT.items()])
    rate = _paraphrase_hit_rate(VectorRetriever(index, "zh"))
    print(f"\nzh_kb hashing-vector hit_rate@5 on 30 paraphrases: {rate:.3f}")
    assert rate >= VECTOR_HIT_RATE_AT_5_FLOOR


def test_offline_questions_are_short_and_in_the_chunks_language() -> None:
    for text in TEXT.values():
        question = questions.offline_question(text)
        assert 2 * len(question) < len(text), (question, text)
        assert language_of(question) == "zh" and "What" not in question, question
    for chunk in lee_chunks()[:100]:
        question = questions.offline_question(chunk["text"])
        assert 2 * len(question) < len(chunk["text"]) and language_of(question) == "en", question
    # BM25 still finds the chunk from its offline question (a question shorter than half its chunk).
    bm25 = Bm25Retriever(list(TEXT), list(TEXT.values()))
    ranks = [logic.rank_of([i], bm25.search(questions.offline_question(t), 5)) for i, t in TEXT.items()]
    assert logic.score(ranks, [5])["hit_rate@5"] >= 0.9


def test_every_near_duplicate_pair_is_merged_and_no_distinct_chunk() -> None:
    chunks = [ChunkText(c["chunk_id"], c["text"]) for c in KB.chunks + KB.near_duplicates]
    groups = duplicate_groups(chunks, threshold=0.9)
    pairs = {tuple(sorted([keeper, *ids])) for keeper, ids in groups.items()}
    assert pairs == {tuple(sorted([d["chunk_id"], d["of"]])) for d in KB.near_duplicates}, groups
    # Width of punctuation, letters and digits, whitespace and case: exact duplicates once canonical.
    exact = {d["kind"] for d in KB.near_duplicates if exact_key(d["text"]) == exact_key(TEXT[d["of"]])}
    assert exact == {"halfwidth-punctuation", "extra-whitespace", "fullwidth-letters-and-digits", "latin-case"}
