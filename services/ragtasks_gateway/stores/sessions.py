"""Sessions and messages in Mongo, from the gateway (async PyMongo).

Appending reserves a contiguous range of sequence numbers with one atomic ``$inc`` on the
session document, then inserts one document per message. When the tokens since the last summary
pass the threshold and no summary is pending, the caller asks for a summary
(:mod:`ragtasks_gateway.summary_requests`): one caller wins a compare-and-set on ``summary_pending``
(:func:`claim_pending`) and publishes the task; the pending record is written *before*
publishing, so the outbox sweep can publish it later if the broker was down.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pymongo
from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from ragtasks_core.documents import messages, sessions
from ragtasks_core.outbox import new_task_id
from ragtasks_core.tokens import count_message_tokens

from .. import ownership
from ..models.sessions import ChatMessage
from ..ownership import Caller

SESSIONS = sessions.COLLECTION


@dataclass(frozen=True)
class Collections:
    """The two collections an append writes, made once per database (the app's lifespan keeps
    one): ``db[name]`` builds a new ``AsyncCollection`` on every access, ~0.04 ms of CPU each
    (issue 17)."""

    sessions: AsyncCollection
    messages: AsyncCollection

    @classmethod
    def of(cls, db: AsyncDatabase) -> Collections:
        return cls(db[SESSIONS], db[messages.COLLECTION])


@dataclass(frozen=True)
class Appended:
    last_seq: int
    tokens_since_summary: int
    past_threshold: bool  # the threshold rule holds on the session as this append left it


# An append this short (~0.4 ms of CPU at most, all CJK) is counted on the event loop: the hop to
# a thread would cost as much as the counting (issue 17).
INLINE_BELOW_CHARS = 2000


async def count_tokens(items: list[ChatMessage]) -> list[int]:
    """BPE token counts; a long append's in a worker thread: a maximal CJK append is ~0.6 s of CPU.

    One thread hop per message, not one for all: the tokenizer holds the GIL for a whole call,
    and between calls the event loop gets its turn, so no request waits for more than one
    message's worth (a few ms)."""
    if sum(len(m.content) for m in items) < INLINE_BELOW_CHARS:
        return [count_message_tokens(m.role, m.content) for m in items]
    return [await asyncio.to_thread(count_message_tokens, m.role, m.content) for m in items]


async def _reserve(
    collections: Collections, session_id: str, count: int, tokens: int, now: datetime, caller: Caller
) -> dict[str, Any]:
    update = sessions.reserve_update(count, tokens, now, owner=caller.owner)
    # Confined: only the caller's own session matches, so another key's session is never
    # touched: its upsert collides on _id, and the session is found to be someone else's.
    wanted = ownership.scoped(sessions.by_id(session_id), caller)
    for _ in range(3):  # two first appends to one new session may race on the upsert
        try:
            doc = await collections.sessions.find_one_and_update(
                wanted, update, sessions.APPEND_STATE, upsert=True, return_document=ReturnDocument.AFTER
            )
            assert doc is not None
            return doc
        except DuplicateKeyError:
            if caller.confined:
                existing = await collections.sessions.find_one(sessions.by_id(session_id))
                if ownership.foreign(existing, caller):
                    raise ownership.NotYours(session_id) from None
            continue
    raise RuntimeError("could not reserve sequence numbers")


async def append(
    collections: Collections,
    session_id: str,
    items: list[ChatMessage],
    *,
    trigger_tokens: int,
    trigger_messages: int | None = None,
    caller: Caller = ownership.UNCONFINED,
    insert_timeout: float | None = None,
) -> Appended:
    """Append ``items``; raises :class:`~ragtasks_gateway.ownership.NotYours` (nothing written)
    when the session is another key's and ``caller`` is confined.

    ``insert_timeout``: the longest the messages' insert may take (None: no limit). Readers step
    over a hole once the message after it is RAGTASKS_SUMMARY_HOLE_GRACE_SECONDS old, so an
    insert must end well within that: the route gives it half."""
    now = datetime.now(UTC)
    token_counts = await count_tokens(items)
    doc = await _reserve(collections, session_id, len(items), sum(token_counts), now, caller)
    last_seq = int(doc["last_seq"])
    first_seq = last_seq - len(items) + 1
    rows = [(m.role, m.content, token_counts[i]) for i, m in enumerate(items)]
    docs = messages.new_messages(session_id, first_seq, rows, now)
    try:
        with pymongo.timeout(insert_timeout):
            await _insert(collections.messages, docs)
    except Exception:
        # The reserved numbers stay a hole (the summarizer steps over it once it is old); give the
        # tokens back, best effort, so the threshold is not reached early. Then the caller gets 5xx.
        with contextlib.suppress(Exception):
            await collections.sessions.update_one(
                sessions.by_id(session_id), sessions.give_back_tokens(sum(token_counts))
            )
        raise
    tokens_since = int(doc.get("tokens_since_summary", 0))
    return Appended(last_seq, tokens_since, sessions.past_threshold(doc, trigger_tokens, trigger_messages))


async def _insert(collection: AsyncCollection, docs: list[dict[str, Any]]) -> None:
    """One ``insert`` command either way; ``insert_one`` skips the bulk machinery that
    ``insert_many`` goes through (~0.2 ms of CPU, issue 17) for the usual one-message append."""
    if len(docs) == 1:
        await collection.insert_one(docs[0])
    else:
        await collection.insert_many(docs, ordered=True)


async def claim_pending(db: AsyncDatabase, session_id: str, *, reason: str) -> str | None:
    """Take the session's single pending-summary slot; None if another request holds it."""
    task_id = new_task_id()
    result = await db[SESSIONS].update_one(
        sessions.claim_filter(session_id), sessions.claim_update(task_id, reason, datetime.now(UTC))
    )
    return task_id if result.modified_count else None


async def mark_published(db: AsyncDatabase, session_id: str, task_id: str) -> None:
    await db[SESSIONS].update_one(sessions.held_by(session_id, task_id), sessions.published_update(datetime.now(UTC)))


async def get_session(db: AsyncDatabase, session_id: str) -> dict[str, Any] | None:
    return await db[SESSIONS].find_one(sessions.by_id(session_id))


async def messages_after(db: AsyncDatabase, session_id: str, seq: int) -> list[dict[str, Any]]:
    cursor = db[messages.COLLECTION].find(messages.after(session_id, seq), {"_id": 0}).sort(messages.IN_ORDER)
    return [doc async for doc in cursor]
