"""A session's history from the gateway: the context after the summary, the summaries, deletion.

- The context is the gap-free run after the watermark (``ragtasks_core.session_context``, the
  rule the summarizer folds by), optionally only its newest messages within ``max_tokens``. The
  plan reads the messages' heads (seq, role, tokens, time) and then only the contents returned.
- The summaries are the committed ones (a summary recorded by a task that lost its
  compare-and-set never became the session's).
- Deletion removes the session document first (no summary task can commit or claim after it),
  then its messages and summaries; it is idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from ragtasks_core.documents import messages, sessions, summaries
from ragtasks_core.session_context import HOLE_GRACE, gap_free_count, newest_within

from .. import ownership
from ..ownership import UNCONFINED, Caller

HEAD_FIELDS = {"_id": 0, "seq": 1, "role": 1, "tokens": 1, "created_at": 1}
SUMMARY_FIELDS = {
    "_id": 0,
    "from_seq": 1,
    "upto_seq": 1,
    "summary": 1,
    "model": 1,
    "tokens_covered": 1,
    "created_at": 1,
}


async def context_messages(
    db: AsyncDatabase,
    session_id: str,
    watermark: int,
    *,
    max_tokens: int | None = None,
    hole_grace: timedelta = HOLE_GRACE,
) -> list[dict[str, Any]]:
    """The messages a prompt should carry after the summary: gap-free (a hole older than
    ``hole_grace`` stepped over, as the summarizer does), newest within ``max_tokens``."""
    cursor = db[messages.COLLECTION].find(messages.after(session_id, watermark), HEAD_FIELDS).sort(messages.IN_ORDER)
    heads = [doc async for doc in cursor]
    heads = heads[
        : gap_free_count([(h["seq"], h.get("created_at")) for h in heads], watermark, datetime.now(UTC), hole_grace)
    ]
    if max_tokens is not None:
        keep = newest_within([(h["role"], int(h.get("tokens") or 0)) for h in heads], max_tokens)
        heads = heads[len(heads) - keep :]
    if not heads:
        return []
    wanted = {"session_id": session_id, "seq": {"$gte": heads[0]["seq"], "$lte": heads[-1]["seq"]}}
    cursor = db[messages.COLLECTION].find(wanted, {"_id": 0}).sort(messages.IN_ORDER)
    chosen = {h["seq"] for h in heads}
    return [doc async for doc in cursor if doc["seq"] in chosen]


async def committed_summaries(db: AsyncDatabase, session_id: str, *, limit: int) -> list[dict[str, Any]]:
    """The session's rolling summaries, oldest first (at most ``limit``, the newest ones)."""
    cursor = (
        db[summaries.COLLECTION]
        .find(summaries.history_of(session_id), SUMMARY_FIELDS)
        .sort("from_seq", -1)
        .limit(limit)
    )
    return sorted([doc async for doc in cursor], key=lambda d: d["from_seq"])


@dataclass(frozen=True)
class Deleted:
    session: bool
    messages: int
    summaries: int


async def delete_session(db: AsyncDatabase, session_id: str, caller: Caller = UNCONFINED) -> Deleted:
    """Delete the session (its summary state and pending slot), its messages and summaries.

    The owner is part of the delete's own filter (no check-then-delete race); a confined caller
    whose filter matched nothing (no session, or another key's) deletes nothing else either."""
    session = await db[sessions.COLLECTION].delete_one(ownership.scoped(sessions.by_id(session_id), caller))
    if caller.confined and not session.deleted_count:
        return Deleted(False, 0, 0)
    removed_messages = await db[messages.COLLECTION].delete_many(messages.of_session(session_id))
    removed_summaries = await db[summaries.COLLECTION].delete_many(summaries.of_session(session_id))
    return Deleted(bool(session.deleted_count), removed_messages.deleted_count, removed_summaries.deleted_count)
