"""Mongo side of summarizing: read what is after the watermark, commit with compare-and-set.

Correctness rests on single-document atomic updates only (no transactions):
- the session's ``summary_upto_seq`` (the watermark) only moves by compare-and-set from the
  value the task read, so two racing tasks can never rewind it;
- each summary is first recorded under the idempotency key (session, from_seq, upto_seq), so a
  redelivered or racing task re-uses the text already written instead of writing another;
- messages are never deleted or modified.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from ragtasks_core.mongo import MESSAGES, SESSIONS, SUMMARIES

from .logic import Message


@dataclass(frozen=True)
class SessionState:
    session_id: str
    summary: str | None
    upto_seq: int


def load_session(db: Database, session_id: str) -> SessionState | None:
    doc = db[SESSIONS].find_one({"_id": session_id}, {"summary": 1, "summary_upto_seq": 1})
    if doc is None:
        return None
    return SessionState(session_id, doc.get("summary"), int(doc.get("summary_upto_seq") or 0))


def messages_after(db: Database, session_id: str, seq: int) -> list[Message]:
    cursor = db[MESSAGES].find({"session_id": session_id, "seq": {"$gt": seq}}).sort("seq", 1)
    return [Message(d["seq"], d["role"], d["content"], int(d.get("tokens", 0)), d.get("created_at")) for d in cursor]


def find_recorded(db: Database, session_id: str, from_seq: int, upto_seq: int) -> dict[str, Any] | None:
    return db[SUMMARIES].find_one({"session_id": session_id, "from_seq": from_seq, "upto_seq": upto_seq})


def record_summary(db: Database, doc: dict[str, Any]) -> dict[str, Any]:
    """Insert the summary under its idempotency key; if one is there already, return that one."""
    try:
        db[SUMMARIES].insert_one({**doc, "committed": False, "created_at": datetime.now(UTC)})
        return doc
    except DuplicateKeyError:
        existing = find_recorded(db, doc["session_id"], doc["from_seq"], doc["upto_seq"])
        assert existing is not None  # the duplicate we collided with
        return existing


def commit(
    db: Database, *, session_id: str, from_seq: int, upto_seq: int, summary: str, model: str, tokens_covered: int
) -> bool:
    """Move the watermark from ``from_seq`` to ``upto_seq``; False if another task moved it first."""
    now = datetime.now(UTC)
    updated = db[SESSIONS].find_one_and_update(
        {"_id": session_id, "summary_upto_seq": from_seq},
        {
            "$set": {
                "summary": summary,
                "summary_upto_seq": upto_seq,
                "summary_model": model,
                "summary_updated_at": now,
                "updated_at": now,
            },
            "$inc": {"tokens_since_summary": -tokens_covered, "summary_version": 1},
        },
        return_document=ReturnDocument.AFTER,
    )
    if updated is None:
        return False
    db[SUMMARIES].update_one(
        {"session_id": session_id, "from_seq": from_seq, "upto_seq": upto_seq}, {"$set": {"committed": True}}
    )
    return True


def clear_pending(db: Database, session_id: str, task_id: str, *, error: str | None = None) -> None:
    """Release the session's one pending-summary slot, if this task holds it."""
    update: dict[str, Any] = {"$set": {"summary_pending": None}}
    if error is not None:
        update["$set"]["summary_error"] = {"task_id": task_id, "error": error, "at": datetime.now(UTC)}
    db[SESSIONS].update_one({"_id": session_id, "summary_pending.task_id": task_id}, update)
