"""Evaluation requests and reports in Mongo, from the gateway (async PyMongo).

The gateway writes a requested evaluation (:func:`ragtasks_core.documents.evaluations.new_evaluation`)
and reads what the evaluator reports; the evaluator writes the rest.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from ragtasks_core.documents import evaluations

from .. import ownership
from ..ownership import Caller

EVALUATIONS = evaluations.COLLECTION
ROWS = evaluations.ROWS


# Rows in chunk order, a chunk's questions in their order: the unique index serves this sort.
ROW_ORDER = [("chunk_id", ASCENDING), ("question_index", ASCENDING)]


async def create(db: AsyncDatabase, doc: dict[str, Any]) -> None:
    await db[EVALUATIONS].insert_one(doc)


async def mark_not_published(db: AsyncDatabase, evaluation_id: str, error: str) -> None:
    await db[EVALUATIONS].update_one({"_id": evaluation_id}, {"$set": evaluations.not_published(error)})


async def get(db: AsyncDatabase, evaluation_id: str) -> dict[str, Any] | None:
    return await db[EVALUATIONS].find_one({"_id": evaluation_id}, evaluations.WITHOUT_SAMPLE)


async def rows_done(db: AsyncDatabase, evaluation_id: str) -> int:
    return int(await db[ROWS].count_documents(evaluations.rows_of(evaluation_id)))


async def rows(db: AsyncDatabase, evaluation_id: str, limit: int) -> list[dict[str, Any]]:
    cursor = db[ROWS].find(evaluations.rows_of(evaluation_id), {"_id": 0}).sort(ROW_ORDER)
    return [d async for d in cursor.limit(limit)]


async def history(
    db: AsyncDatabase, kb_id: str | None, limit: int, caller: Caller = ownership.UNCONFINED
) -> list[dict[str, Any]]:
    """Newest first; only the caller's own when it is confined."""
    query = ownership.scoped({"kb_id": kb_id} if kb_id else {}, caller)
    cursor = db[EVALUATIONS].find(query, evaluations.WITHOUT_SAMPLE).sort("created_at", DESCENDING).limit(limit)
    return [d async for d in cursor]


# What a page of rows and the CSV export show: the stored row minus Mongo's bookkeeping.
ROW_FIELDS = {
    "question_index": 1,
    "_id": 0,
    "chunk_id": 1,
    "batch": 1,
    "question": 1,
    "question_source": 1,
    "question_id": 1,
    "rank": 1,
    "retrieved": 1,
    "aliases": 1,
    "relevant": 1,
    "empty_retrieval": 1,
    "error": 1,
    "question_ms": 1,
    "retrieval_ms": 1,
}


async def rows_page(db: AsyncDatabase, evaluation_id: str, offset: int, limit: int) -> list[dict[str, Any]]:
    """One page of rows in :data:`ROW_ORDER` (stable across pages: the order is unique per row)."""
    cursor = db[ROWS].find(evaluations.rows_of(evaluation_id), ROW_FIELDS).sort(ROW_ORDER)
    return [d async for d in cursor.skip(offset).limit(limit)]


async def iter_rows(db: AsyncDatabase, evaluation_id: str, batch_size: int = 500) -> AsyncIterator[dict[str, Any]]:
    """Every row, in chunk-id order, fetched ``batch_size`` at a time (the CSV export streams them)."""
    cursor = db[ROWS].find(evaluations.rows_of(evaluation_id), ROW_FIELDS).sort(ROW_ORDER)
    async for doc in cursor.batch_size(batch_size):
        yield doc
