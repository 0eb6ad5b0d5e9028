"""Question sets that stay put: a question is written once per (chunk text, writer, model) and reused.

The ``eval_questions`` collection holds one document per ``(content hash, generator, n)``:
``{_id, hash, generator, n, question, created_at}``, where ``generator`` names the writer and
its model (``llm:<model>``, ``offline-keywords-v2``) and ``n`` counts a chunk's questions
(``questions_per_chunk``). The key is the chunk's *text* hash, not its id: an unchanged chunk
keeps its question night after night (so nightly differences are the retriever's, not question
noise), a changed chunk gets a new one, and the same text in two KBs shares one.

Written with ``$setOnInsert`` (first writer wins), so two batches racing on one text agree on one
question. Only questions the generator itself wrote are kept: a chunk the LLM skipped gets the
offline question for this evaluation and another LLM try in the next.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pymongo import UpdateOne
from pymongo.database import Database

from .questions import QuestionWriter

COLLECTION = "eval_questions"


def question_id(content_hash: str, generator: str, n: int = 0) -> str:
    return f"{content_hash}:{generator}:{n}"


def load(db: Database, ids: Iterable[str]) -> dict[str, str]:
    """The stored questions among ``ids``: ``{question_id: question}``."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    return {d["_id"]: d["question"] for d in db[COLLECTION].find({"_id": {"$in": wanted}}, {"question": 1})}


def save(db: Database, generator: str, questions: dict[tuple[str, int], str]) -> dict[str, str]:
    """Store ``{(content hash, n): question}`` unless already stored; returns what is stored now
    (another writer's question where it was first)."""
    if not questions:
        return {}
    now = datetime.now(UTC)
    ops = [
        UpdateOne(
            {"_id": question_id(h, generator, n)},
            {"$setOnInsert": {"hash": h, "generator": generator, "n": n, "question": q, "created_at": now}},
            upsert=True,
        )
        for (h, n), q in questions.items()
    ]
    db[COLLECTION].bulk_write(ops, ordered=False)
    return load(db, (question_id(h, generator, n) for h, n in questions))


def questions_for(
    db: Database, writer: QuestionWriter, generator: str, chunks: list[dict[str, Any]]
) -> list[tuple[str, str, str | None]]:
    """``(question, source, question_id)`` per chunk, in order: the stored question where there is
    one, else a new one from ``writer`` (stored when the generator wrote it; ``question_id`` None
    for a fallback, which is not stored)."""
    ids = [question_id(c["hash"], generator) if c.get("hash") else None for c in chunks]
    stored = load(db, [i for i in ids if i])
    need = [n for n, i in enumerate(ids) if i not in stored]
    written = dict(zip(need, writer([chunks[n]["text"] for n in need]) if need else [], strict=True))
    fresh = {(chunks[n]["hash"], 0): q for n, (q, source) in written.items() if source == generator and ids[n]}
    stored.update(save(db, generator, fresh))
    result: list[tuple[str, str, str | None]] = []
    for n, qid in enumerate(ids):
        if qid is not None and qid in stored:
            result.append((stored[qid], generator, qid))
        else:
            question, source = written[n]
            result.append((question, source, None))
    return result
