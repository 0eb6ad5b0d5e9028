"""The ``summaries`` collection: every summary written, under its idempotency key.

``{session_id, from_seq, upto_seq, summary, model, tokens_covered, committed, created_at}``: at most
one per ``(session_id, from_seq, upto_seq)``, so a redelivered or racing summarize task re-uses the
text already written instead of writing another.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING

from .indexes import Index

COLLECTION = "summaries"

KEY = [("session_id", ASCENDING), ("from_seq", ASCENDING), ("upto_seq", ASCENDING)]

INDEXES: tuple[Index, ...] = (
    Index(COLLECTION, KEY, {"unique": True}),
    Index(COLLECTION, [("session_id", ASCENDING), ("created_at", DESCENDING)]),
)


def key(session_id: str, from_seq: int, upto_seq: int) -> dict[str, Any]:
    """The filter of one summary by its idempotency key."""
    return {"session_id": session_id, "from_seq": from_seq, "upto_seq": upto_seq}


def new_summary(
    session_id: str, from_seq: int, upto_seq: int, *, summary: str, model: str, tokens_covered: int
) -> dict[str, Any]:
    """What a summarize task writes (without the fields :func:`as_recorded` adds)."""
    return {
        **key(session_id, from_seq, upto_seq),
        "summary": summary,
        "model": model,
        "tokens_covered": tokens_covered,
    }


def as_recorded(doc: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The document inserted: not committed yet (the session's watermark has not moved)."""
    return {**doc, "committed": False, "created_at": now}


COMMITTED: dict[str, Any] = {"$set": {"committed": True}}


def of_session(session_id: str) -> dict[str, Any]:
    """All of a session's summaries (deleting the session)."""
    return {"session_id": session_id}


def history_of(session_id: str) -> dict[str, Any]:
    """The session's committed summaries: its history (an uncommitted one lost its compare-and-set)."""
    return {"session_id": session_id, "committed": True}
