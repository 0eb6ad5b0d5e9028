"""Knowledge-base chunks and evaluation requests in Mongo, from the gateway (async PyMongo).

Chunk upserts are idempotent on ``(kb_id, chunk_id)``: a chunk sent again unchanged is counted
``unchanged`` and not rewritten; a changed text gets a new content hash (and is un-merged until
the next maintenance decides again). Any insert or change bumps the KB's version counter, which
invalidates the evaluator's cached BM25 index and vector alignment for that KB.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from ragtasks_core.contract.evaluator import EVALUATION_ROWS, EVALUATIONS, KB_CHUNKS, KBS


def content_hash(text: str) -> str:
    """sha256 of the text with whitespace runs collapsed: the key of exact-duplicate merging."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


async def ensure_indexes(db: AsyncDatabase) -> None:
    await db[KB_CHUNKS].create_index([("kb_id", ASCENDING), ("chunk_id", ASCENDING)], unique=True)
    await db[EVALUATIONS].create_index([("kb_id", ASCENDING), ("created_at", DESCENDING)])
    await db[EVALUATION_ROWS].create_index([("evaluation_id", ASCENDING), ("chunk_id", ASCENDING)], unique=True)


@dataclass(frozen=True)
class UpsertCounts:
    inserted: int
    updated: int
    unchanged: int
    version: int


async def upsert_chunks(db: AsyncDatabase, kb_id: str, chunks: list[dict[str, Any]]) -> UpsertCounts:
    now = datetime.now(UTC)
    ids = [c["chunk_id"] for c in chunks]
    existing = {
        d["chunk_id"]: d
        async for d in db[KB_CHUNKS].find(
            {"kb_id": kb_id, "chunk_id": {"$in": ids}}, {"chunk_id": 1, "hash": 1, "doc_id": 1, "metadata": 1}
        )
    }
    ops = []
    updated = unchanged = 0
    for c in chunks:
        digest = content_hash(c["text"])
        old = existing.get(c["chunk_id"])
        key = {"kb_id": kb_id, "chunk_id": c["chunk_id"]}
        if old is None:
            doc = {
                **key,
                **c,
                "hash": digest,
                "created_at": now,
                "updated_at": now,
                "merged_into": None,
                "merged_ids": [],
            }
            ops.append(UpdateOne(key, {"$setOnInsert": doc}, upsert=True))
        elif old.get("hash") == digest and old.get("doc_id") == c["doc_id"] and old.get("metadata") == c["metadata"]:
            unchanged += 1
        else:
            fields = {**c, "hash": digest, "updated_at": now}
            if old.get("hash") != digest:
                fields["merged_into"] = None
            ops.append(UpdateOne(key, {"$set": fields}))
            updated += 1
    inserted = 0
    if ops:
        result = await db[KB_CHUNKS].bulk_write(ops, ordered=False)
        inserted = result.upserted_count
    change = {"$inc": {"version": 1}} if inserted or updated else {}
    kb = await db[KBS].find_one_and_update(
        {"_id": kb_id},
        {**change, "$set": {"updated_at": now}, "$setOnInsert": {"created_at": now}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    return UpsertCounts(inserted, updated, unchanged, int((kb or {}).get("version") or 0))


async def kb_stats(db: AsyncDatabase, kb_id: str) -> dict[str, Any] | None:
    kb = await db[KBS].find_one({"_id": kb_id})
    if kb is None:
        return None
    total = await db[KB_CHUNKS].count_documents({"kb_id": kb_id})
    active = await db[KB_CHUNKS].count_documents({"kb_id": kb_id, "merged_into": None})
    documents = await db[KB_CHUNKS].distinct("doc_id", {"kb_id": kb_id, "doc_id": {"$ne": None}})
    return {
        "kb_id": kb_id,
        "version": int(kb.get("version") or 0),
        "chunks": total,
        "active_chunks": active,
        "merged_chunks": total - active,
        "documents": len(documents),
        "created_at": kb.get("created_at"),
        "updated_at": kb.get("updated_at"),
        "last_maintenance": kb.get("last_maintenance"),
    }


async def active_chunk_count(db: AsyncDatabase, kb_id: str) -> int | None:
    if await db[KBS].find_one({"_id": kb_id}, {"_id": 1}) is None:
        return None
    return int(await db[KB_CHUNKS].count_documents({"kb_id": kb_id, "merged_into": None}))


async def create_evaluation(db: AsyncDatabase, doc: dict[str, Any]) -> None:
    await db[EVALUATIONS].insert_one(doc)


async def set_evaluation_fields(db: AsyncDatabase, evaluation_id: str, fields: dict[str, Any]) -> None:
    await db[EVALUATIONS].update_one({"_id": evaluation_id}, {"$set": fields})


async def get_evaluation(db: AsyncDatabase, evaluation_id: str) -> dict[str, Any] | None:
    return await db[EVALUATIONS].find_one({"_id": evaluation_id}, {"chunk_ids": 0})


async def rows_done(db: AsyncDatabase, evaluation_id: str) -> int:
    return int(await db[EVALUATION_ROWS].count_documents({"evaluation_id": evaluation_id}))


async def evaluation_rows(db: AsyncDatabase, evaluation_id: str, limit: int) -> list[dict[str, Any]]:
    cursor = db[EVALUATION_ROWS].find({"evaluation_id": evaluation_id}, {"_id": 0}).sort("chunk_id", ASCENDING)
    return [d async for d in cursor.limit(limit)]


async def list_evaluations(db: AsyncDatabase, kb_id: str | None, limit: int) -> list[dict[str, Any]]:
    query = {"kb_id": kb_id} if kb_id else {}
    cursor = db[EVALUATIONS].find(query, {"chunk_ids": 0}).sort("created_at", DESCENDING).limit(limit)
    return [d async for d in cursor]
