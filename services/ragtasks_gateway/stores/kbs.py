"""Knowledge-base chunks in Mongo, from the gateway (async PyMongo).

Chunk upserts are idempotent on ``(kb_id, chunk_id)``: a chunk sent again unchanged is counted
``unchanged`` and not rewritten; a changed text gets a new content hash (and is un-merged until
the next maintenance decides again). Any insert or change bumps the KB's version counter, which
invalidates the evaluator's cached BM25 index and vector alignment for that KB.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from ragtasks_core.documents import chunks, kbs, merges, queries
from ragtasks_core.documents.indexes import CREATED_BY

from .. import ownership
from ..ownership import Caller

KBS = kbs.COLLECTION
KB_CHUNKS = chunks.COLLECTION
KB_QUERIES = queries.COLLECTION
KB_MERGES = merges.COLLECTION


@dataclass(frozen=True)
class UpsertCounts:
    inserted: int
    updated: int
    unchanged: int
    version: int


async def kb_doc(db: AsyncDatabase, kb_id: str) -> dict[str, Any] | None:
    """The KB's id and owner (None: no such KB)."""
    doc: dict[str, Any] | None = await db[KBS].find_one({"_id": kb_id}, kbs.OWNER_FIELDS)
    return doc


async def owners(db: AsyncDatabase, kb_ids: list[str]) -> dict[str, str | None]:
    """The owner of each of ``kb_ids`` that exists (None: recorded without one), in one read."""
    cursor = db[KBS].find({"_id": {"$in": kb_ids}}, kbs.OWNER_FIELDS)
    return {d["_id"]: d.get(CREATED_BY) async for d in cursor}


async def claim(db: AsyncDatabase, kb_id: str, caller: Caller) -> None:
    """Before a write: the KB is created (owned by ``caller``) if it is new; raises
    :class:`~ragtasks_gateway.ownership.NotYours`, having written nothing, when it is another
    key's and ``caller`` is confined."""
    update = kbs.claim_update(datetime.now(UTC), caller.owner)
    for _ in range(3):  # two first writes to one new KB may race on the upsert
        try:
            await db[KBS].update_one(ownership.scoped({"_id": kb_id}, caller), update, upsert=True)
            return
        except DuplicateKeyError:
            if ownership.foreign(await kb_doc(db, kb_id), caller):
                raise ownership.NotYours(kb_id) from None
    raise RuntimeError(f"could not claim knowledge base {kb_id!r}")


async def upsert_chunks(db: AsyncDatabase, kb_id: str, items: list[dict[str, Any]]) -> UpsertCounts:
    now = datetime.now(UTC)
    ids = [c["chunk_id"] for c in items]
    existing = {
        d["chunk_id"]: d async for d in db[KB_CHUNKS].find(chunks.of_kb(kb_id, chunk_ids=ids), chunks.COMPARED_FIELDS)
    }
    ops = []
    updated = unchanged = 0
    for c in items:
        digest = chunks.content_hash(c["text"])
        old = existing.get(c["chunk_id"])
        key = chunks.key(kb_id, c["chunk_id"])
        if old is None:
            ops.append(UpdateOne(key, {"$setOnInsert": chunks.new_chunk(kb_id, c, digest, now)}, upsert=True))
        elif chunks.unchanged(old, c, digest):
            unchanged += 1
        else:
            ops.append(UpdateOne(key, {"$set": chunks.changed_fields(old, c, digest, now)}))
            updated += 1
    inserted = 0
    if ops:
        result = await db[KB_CHUNKS].bulk_write(ops, ordered=False)
        inserted = result.upserted_count
    kb = await db[KBS].find_one_and_update(
        {"_id": kb_id},
        kbs.touch_update(now, bump_version=bool(inserted or updated)),
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    return UpsertCounts(inserted, updated, unchanged, int((kb or {}).get("version") or 0))


async def kb_stats(db: AsyncDatabase, kb_id: str) -> dict[str, Any] | None:
    kb = await db[KBS].find_one({"_id": kb_id})
    if kb is None:
        return None
    total = await db[KB_CHUNKS].count_documents(chunks.of_kb(kb_id))
    active = await db[KB_CHUNKS].count_documents(chunks.of_kb(kb_id, active_only=True))
    documents = await db[KB_CHUNKS].distinct("doc_id", {**chunks.of_kb(kb_id), "doc_id": {"$ne": None}})
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
        "retriever": kb.get("retriever"),
        "baseline": kb.get("baseline"),
        "created_by": kb.get(CREATED_BY),
    }


async def active_chunk_count(db: AsyncDatabase, kb_id: str) -> int | None:
    if await db[KBS].find_one({"_id": kb_id}, {"_id": 1}) is None:
        return None
    return int(await db[KB_CHUNKS].count_documents(chunks.of_kb(kb_id, active_only=True)))


async def set_retriever(db: AsyncDatabase, kb_id: str, spec: dict[str, Any] | None, now: datetime) -> None:
    """The KB's own retriever (``None``: the settings' one); creates the KB if it is new."""
    await db[KBS].update_one(
        {"_id": kb_id},
        {"$set": {"retriever": spec, "updated_at": now}, "$setOnInsert": {"created_at": now, "version": 0}},
        upsert=True,
    )


async def set_baseline(db: AsyncDatabase, kb_id: str, evaluation_id: str, now: datetime) -> dict[str, Any]:
    baseline = {"evaluation_id": evaluation_id, "pinned_at": now}
    await db[KBS].update_one({"_id": kb_id}, {"$set": {"baseline": baseline}})
    return baseline


async def delete_chunks(db: AsyncDatabase, kb_id: str, chunk_ids: list[str]) -> tuple[list[str], int]:
    """Delete chunks; returns (deleted ids, KB version). Chunks merged into a deleted keeper stand
    for themselves again (the next maintenance merges them anew), a deleted merged chunk leaves
    its keeper's ``merged_ids``; the version bump makes the evaluator rebuild its BM25 index and
    drop the chunks from the vector index at the next alignment."""
    found = [d["chunk_id"] async for d in db[KB_CHUNKS].find(chunks.of_kb(kb_id, chunk_ids=chunk_ids), {"chunk_id": 1})]
    if not found:
        kb = await db[KBS].find_one({"_id": kb_id}, {"version": 1})
        return [], int((kb or {}).get("version") or 0)
    await db[KB_CHUNKS].delete_many(chunks.of_kb(kb_id, chunk_ids=found))
    now = datetime.now(UTC)
    await db[KB_CHUNKS].update_many(
        {"kb_id": kb_id, "merged_into": {"$in": found}}, {"$set": {"merged_into": None, "updated_at": now}}
    )
    await db[KB_CHUNKS].update_many(
        {"kb_id": kb_id, "merged_ids": {"$in": found}}, {"$pull": {"merged_ids": {"$in": found}}}
    )
    kb = await db[KBS].find_one_and_update(
        {"_id": kb_id}, kbs.bump_version_update(now), return_document=ReturnDocument.AFTER
    )
    return found, int((kb or {}).get("version") or 0)


async def merges_since(db: AsyncDatabase, kb_id: str, since: datetime | None, limit: int) -> list[dict[str, Any]]:
    """What maintenance merged into what (``merged_into`` None: un-merged), oldest first."""
    query: dict[str, Any] = {"kb_id": kb_id}
    if since is not None:
        query["at"] = {"$gt": since}
    cursor = db[KB_MERGES].find(query, {"_id": 0, "kb_id": 0}).sort([("at", ASCENDING), ("chunk_id", ASCENDING)])
    return [d async for d in cursor.limit(limit)]


async def upsert_query(
    db: AsyncDatabase, kb_id: str, query_id: str, query: str, relevant: dict[str, int], source: str
) -> bool:
    """A labelled query (idempotent on its id: a re-post replaces it); True when it is new.
    Judgements are stored as ``[[chunk_id, grade], ...]``: chunk ids may hold dots, which Mongo
    field names must not."""
    now = datetime.now(UTC)
    result = await db[KB_QUERIES].update_one(
        {"_id": queries.labelled_id(kb_id, query_id)},
        {
            "$set": {
                "kb_id": kb_id,
                "query_id": query_id,
                "query": query,
                "relevant": [[c, g] for c, g in sorted(relevant.items())],
                "source": source,
                "updated_at": now,
            },
            "$setOnInsert": {"created_at": now},
        },
        upsert=True,
    )
    return result.upserted_id is not None


async def queries_page(db: AsyncDatabase, kb_id: str, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
    query = {"kb_id": kb_id}
    fields = {"_id": 0, "query_id": 1, "query": 1, "relevant": 1, "source": 1}
    cursor = db[KB_QUERIES].find(query, fields).sort("query_id", ASCENDING).skip(offset).limit(limit)
    page = [{**d, "relevant": {c: g for c, g in d["relevant"]}} async for d in cursor]
    return page, int(await db[KB_QUERIES].count_documents(query))


async def query_count(db: AsyncDatabase, kb_id: str) -> int:
    return int(await db[KB_QUERIES].count_documents({"kb_id": kb_id}))


async def retriever_of(db: AsyncDatabase, kb_id: str) -> dict[str, Any] | None:
    """The KB's own retriever spec, or None (the settings' one; also for a KB that does not exist)."""
    kb = await db[KBS].find_one({"_id": kb_id}, {"retriever": 1})
    spec = (kb or {}).get("retriever")
    return spec if isinstance(spec, dict) else None
