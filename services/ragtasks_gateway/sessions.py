"""Sessions and messages in Mongo, from the gateway (async PyMongo).

Appending reserves a contiguous range of sequence numbers with one atomic ``$inc`` on the
session document, then inserts one document per message. When the tokens since the last summary
pass the threshold and no summary is pending, one caller wins a compare-and-set on
``summary_pending`` and publishes the task; the pending record is written *before* publishing,
so the outbox sweep can publish it later if the broker was down.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from ragtasks_core.mongo import MESSAGES, SESSIONS
from ragtasks_core.tokens import count_message_tokens

from .schemas import ChatMessage


@dataclass(frozen=True)
class Appended:
    last_seq: int
    tokens_since_summary: int
    pending_task_id: str | None  # set when this call claimed the pending-summary slot


def new_task_id() -> str:
    return str(uuid.uuid4())


async def _reserve(db: AsyncDatabase, session_id: str, count: int, tokens: int, now: datetime) -> dict[str, Any]:
    update = {
        "$inc": {"last_seq": count, "tokens_since_summary": tokens},
        "$set": {"updated_at": now},
        "$setOnInsert": {"created_at": now, "summary": None, "summary_upto_seq": 0, "summary_pending": None},
    }
    for _ in range(3):  # two first appends to one new session may race on the upsert
        try:
            doc = await db[SESSIONS].find_one_and_update(
                {"_id": session_id}, update, upsert=True, return_document=ReturnDocument.AFTER
            )
            assert doc is not None
            return doc
        except DuplicateKeyError:
            continue
    raise RuntimeError("could not reserve sequence numbers")


async def append(db: AsyncDatabase, session_id: str, messages: list[ChatMessage], *, trigger_tokens: int) -> Appended:
    now = datetime.now(UTC)
    token_counts = [count_message_tokens(m.role, m.content) for m in messages]
    doc = await _reserve(db, session_id, len(messages), sum(token_counts), now)
    last_seq = int(doc["last_seq"])
    first_seq = last_seq - len(messages) + 1
    try:
        await db[MESSAGES].insert_many(
            [
                {
                    "session_id": session_id,
                    "seq": first_seq + i,
                    "role": m.role,
                    "content": m.content,
                    "tokens": token_counts[i],
                    "created_at": now,
                }
                for i, m in enumerate(messages)
            ],
            ordered=True,
        )
    except Exception:
        # The reserved numbers stay a hole (the summarizer steps over it once it is old); give the
        # tokens back, best effort, so the threshold is not reached early. Then the caller gets 5xx.
        with contextlib.suppress(Exception):
            await db[SESSIONS].update_one({"_id": session_id}, {"$inc": {"tokens_since_summary": -sum(token_counts)}})
        raise
    tokens_since = int(doc.get("tokens_since_summary", 0))
    pending_id = None
    if tokens_since >= trigger_tokens and doc.get("summary_pending") is None:
        pending_id = await claim_pending(db, session_id, reason="threshold")
    return Appended(last_seq, tokens_since, pending_id)


async def claim_pending(db: AsyncDatabase, session_id: str, *, reason: str) -> str | None:
    """Take the session's single pending-summary slot; None if another request holds it."""
    task_id = new_task_id()
    result = await db[SESSIONS].update_one(
        {"_id": session_id, "summary_pending": None},
        {
            "$set": {
                "summary_pending": {
                    "task_id": task_id,
                    "reason": reason,
                    "requested_at": datetime.now(UTC),
                    "published": False,
                }
            }
        },
    )
    return task_id if result.modified_count else None


async def mark_published(db: AsyncDatabase, session_id: str, task_id: str) -> None:
    await db[SESSIONS].update_one(
        {"_id": session_id, "summary_pending.task_id": task_id},
        {"$set": {"summary_pending.published": True, "summary_pending.published_at": datetime.now(UTC)}},
    )


async def get_session(db: AsyncDatabase, session_id: str) -> dict[str, Any] | None:
    return await db[SESSIONS].find_one({"_id": session_id})


async def messages_after(db: AsyncDatabase, session_id: str, seq: int) -> list[dict[str, Any]]:
    cursor = db[MESSAGES].find({"session_id": session_id, "seq": {"$gt": seq}}, {"_id": 0}).sort("seq", 1)
    return [doc async for doc in cursor]
