"""Mongo side of summarizing: read what is after the watermark, commit with compare-and-set.

Correctness rests on single-document atomic updates only (no transactions):
- the session's ``summary_upto_seq`` (the watermark) only moves by compare-and-set from the
  value the task read, so two racing tasks can never rewind it;
- each summary is first recorded under the idempotency key (session, from_seq, upto_seq), so a
  redelivered or racing task re-uses the text already written instead of writing another;
- messages are never deleted or modified.

The documents, filters and updates are built by :mod:`ragtasks_core.documents`.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from ragtasks_core.documents import messages, sessions, summaries

from .logic import Message

SESSIONS = sessions.COLLECTION


@dataclass(frozen=True)
class SessionState:
    session_id: str
    summary: str | None
    upto_seq: int
    tokens_since: int = 0  # tokens_since_summary
    last_seq: int = 0

    @property
    def messages_since(self) -> int:
        return self.last_seq - self.upto_seq


def state_of(session_id: str, doc: dict[str, Any]) -> SessionState:
    return SessionState(
        session_id,
        doc.get("summary"),
        int(doc.get("summary_upto_seq") or 0),
        int(doc.get("tokens_since_summary") or 0),
        int(doc.get("last_seq") or 0),
    )


def load_session(db: Database, session_id: str) -> SessionState | None:
    doc = db[SESSIONS].find_one(sessions.by_id(session_id), sessions.SUMMARY_STATE)
    return None if doc is None else state_of(session_id, doc)


def messages_after(db: Database, session_id: str, seq: int) -> list[Message]:
    cursor = db[messages.COLLECTION].find(messages.after(session_id, seq)).sort(messages.IN_ORDER)
    return [Message(d["seq"], d["role"], d["content"], int(d.get("tokens", 0)), d.get("created_at")) for d in cursor]


def find_recorded(db: Database, session_id: str, from_seq: int, upto_seq: int) -> dict[str, Any] | None:
    return db[summaries.COLLECTION].find_one(summaries.key(session_id, from_seq, upto_seq))


def record_summary(db: Database, doc: dict[str, Any]) -> dict[str, Any]:
    """Insert the summary under its idempotency key; if one is there already, return that one."""
    try:
        db[summaries.COLLECTION].insert_one(summaries.as_recorded(doc, datetime.now(UTC)))
        return doc
    except DuplicateKeyError:
        existing = find_recorded(db, doc["session_id"], doc["from_seq"], doc["upto_seq"])
        assert existing is not None  # the duplicate we collided with
        return existing


@dataclass(frozen=True)
class Committed:
    after: SessionState  # the session as the commit left it
    released: bool  # the same update freed the task's pending slot


def commit(
    db: Database,
    *,
    session_id: str,
    from_seq: int,
    upto_seq: int,
    summary: str,
    model: str,
    tokens_covered: int,
    release_for: str | None = None,
) -> Committed | None:
    """Move the watermark from ``from_seq`` to ``upto_seq``; None if another task moved it first
    (or the session is gone).

    With ``release_for`` (a task id) the same update also frees the pending slot if it is empty
    or that task's: one round trip for a task's last step instead of two. A slot held by another
    task (a ``/summarize`` claim racing this one) is not ours to free: then, and when superseded,
    the commit is tried once more without the release.
    """
    update = functools.partial(
        sessions.commit_update, upto_seq=upto_seq, summary=summary, model=model, tokens_covered=tokens_covered
    )
    after = None
    if release_for is not None:
        query = sessions.commit_and_release_filter(session_id, from_seq, release_for)
        after = _commit_once(db, query, update(now=datetime.now(UTC), release=True))
    released = after is not None
    if after is None:
        query = sessions.commit_filter(session_id, from_seq)
        after = _commit_once(db, query, update(now=datetime.now(UTC)))
    if after is None:
        return None
    db[summaries.COLLECTION].update_one(summaries.key(session_id, from_seq, upto_seq), summaries.COMMITTED)
    return Committed(state_of(session_id, after), released)


def _commit_once(db: Database, query: dict[str, Any], update: dict[str, Any]) -> dict[str, Any] | None:
    return db[SESSIONS].find_one_and_update(
        query, update, projection=sessions.SUMMARY_STATE, return_document=ReturnDocument.AFTER
    )


# --- the pending-summary slot (the outbox sweep's side; the gateway's is async) ------------------


def claim_pending(db: Database, session_id: str, *, reason: str, now: datetime) -> str | None:
    """Take the session's single pending-summary slot; None if someone holds it."""
    task_id = str(uuid.uuid4())
    result = db[SESSIONS].update_one(sessions.claim_filter(session_id), sessions.claim_update(task_id, reason, now))
    return task_id if result.modified_count else None


def mark_published(db: Database, session_id: str, task_id: str, now: datetime) -> None:
    db[SESSIONS].update_one(sessions.held_by(session_id, task_id), sessions.published_update(now))


def clear_pending(db: Database, session_id: str, task_id: str, *, error: str | None = None) -> None:
    """Release the session's one pending-summary slot, if this task holds it."""
    db[SESSIONS].update_one(
        sessions.held_by(session_id, task_id), sessions.release_update(task_id, datetime.now(UTC), error=error)
    )
