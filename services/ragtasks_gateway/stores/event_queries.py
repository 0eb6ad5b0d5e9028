"""The review list of real queries (``kb_event_queries``), from the gateway (async PyMongo).

Recording is on the retrieval-events hot path (up to 1,000 events a request): one read of the
request's known queries, one count of the distinct queries of the KBs that get new ones, and one
unordered bulk write. Two requests (or two gateways) racing for a KB's last free places may both
take them, so a request that created queries counts its KBs again after its write and deletes
what lies beyond the bound (``RAGTASKS_EVENT_QUERIES_MAX_PER_KB``), newest first: the last
writer's count sees every earlier write, so the bound holds once the racing requests are done,
and every racer drops the same newest queries (the oldest ones, first come, are kept).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from ragtasks_core.documents import queries

EVENTS = queries.EVENTS


@dataclass(frozen=True)
class Recorded:
    written: int  # distinct queries counted (new or known)
    dropped: int  # new distinct queries of a full KB, not kept


async def record(db: AsyncDatabase, sampled: list[queries.Sampled], max_per_kb: int, now: datetime) -> Recorded:
    """Count a request's distinct queries (:func:`ragtasks_core.documents.queries.sample`)."""
    if max_per_kb <= 0 or not sampled:
        return Recorded(0, 0)
    known = {d["_id"] async for d in db[EVENTS].find({"_id": {"$in": [s.id for s in sampled]}}, {"_id": 1})}
    growing = sorted({s.kb_id for s in sampled if s.id not in known})
    stored = await _distinct_counts(db, growing) if growing else {}
    kept, dropped = queries.admit(sampled, known, stored, max_per_kb)
    ops = [
        UpdateOne({"_id": s.id}, queries.seen_update(s, now, new=s.id not in known), upsert=s.id not in known)
        for s in kept
    ]
    if ops:
        await db[EVENTS].bulk_write(ops, ordered=False)
    created = sorted({s.kb_id for s in kept if s.id not in known})
    trimmed = await _trim(db, created, max_per_kb) if created else 0
    return Recorded(max(0, len(kept) - trimmed), len(dropped) + trimmed)  # trimmed: maybe a racer's


async def _trim(db: AsyncDatabase, kb_ids: list[str], max_per_kb: int) -> int:
    """Delete each KB's distinct queries beyond ``max_per_kb``, the newest (a race's excess)."""
    removed = 0
    for kb_id, n in (await _distinct_counts(db, kb_ids)).items():
        if n <= max_per_kb:
            continue
        cursor = db[EVENTS].find(queries.of_kb(kb_id), {"_id": 1}).sort(queries.ADMISSION_ORDER).skip(max_per_kb)
        excess = [d["_id"] async for d in cursor]
        if excess:
            removed += (await db[EVENTS].delete_many({"_id": {"$in": excess}})).deleted_count
    return removed


async def _distinct_counts(db: AsyncDatabase, kb_ids: list[str]) -> dict[str, int]:
    """Each KB's distinct queries now (a KB with none is absent: all its room is free)."""
    pipeline: list[dict[str, Any]] = [
        {"$match": {"kb_id": {"$in": kb_ids}}},
        {"$group": {"_id": "$kb_id", "n": {"$sum": 1}}},
    ]
    cursor = await db[EVENTS].aggregate(pipeline)
    return {d["_id"]: int(d["n"]) async for d in cursor}


async def review_page(db: AsyncDatabase, kb_id: str, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
    """A page of the KB's review list, most frequent first, each marked labelled or not."""
    cursor = db[EVENTS].find(queries.of_kb(kb_id), queries.REVIEW_FIELDS).sort(queries.REVIEW_ORDER)
    docs = [d async for d in cursor.skip(offset).limit(limit)]
    ids = [queries.default_query_id(d["query"]) for d in docs]
    wanted = {"_id": {"$in": [queries.labelled_id(kb_id, i) for i in ids]}}
    labelled = {d["query_id"] async for d in db[queries.COLLECTION].find(wanted, {"query_id": 1})} if ids else set()
    total = int(await db[EVENTS].count_documents(queries.of_kb(kb_id)))
    return [queries.review_item(d, labelled) for d in docs], total
