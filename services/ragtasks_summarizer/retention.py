"""Deleting sessions: one on request, and every session idle past ``RAGTASKS_SESSION_RETENTION_DAYS``.

Chat history is personal data: a deleted session leaves nothing behind -- its document (the
summary, the watermark, the pending slot), its messages and its summaries. The session document
goes first: from then on no summary task can commit (its compare-and-set finds no session) or
claim a new one, and a task already running removes what it recorded (``fold_loop``). Each
delete is idempotent, so a retry after a crash finishes the job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pymongo.database import Database

from ragtasks_core.documents import messages, sessions, summaries


@dataclass(frozen=True)
class Deleted:
    session: bool  # the session document existed
    messages: int
    summaries: int

    @property
    def anything(self) -> bool:
        return self.session or bool(self.messages or self.summaries)


def delete_session(db: Database, session_id: str) -> Deleted:
    """Delete the session, its messages and its summaries (idempotent)."""
    session = db[sessions.COLLECTION].delete_one(sessions.by_id(session_id)).deleted_count
    removed_messages = db[messages.COLLECTION].delete_many(messages.of_session(session_id)).deleted_count
    removed_summaries = db[summaries.COLLECTION].delete_many(summaries.of_session(session_id)).deleted_count
    return Deleted(bool(session), removed_messages, removed_summaries)


def idle_before(now: datetime, days: int) -> datetime:
    return now - timedelta(days=days)


def delete_idle(db: Database, *, days: int, now: datetime, batch: int) -> int:
    """Delete up to ``batch`` sessions not updated (no append, no summary) for ``days`` days."""
    cutoff = idle_before(now, days)
    ids = [doc["_id"] for doc in db[sessions.COLLECTION].find({"updated_at": {"$lt": cutoff}}, {"_id": 1}, limit=batch)]
    return sum(1 for session_id in ids if delete_session(db, session_id).session)
