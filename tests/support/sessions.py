"""Sessions written straight into Mongo, as the gateway writes them: the summarizer's tests and
benchmarks start from these instead of appending through the API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ragtasks_core.tokens import count_message_tokens


def seed_session(db: Any, session_id: str, contents: list[str], *, pending_task_id: str | None = None) -> None:
    """Write a session as the gateway does: one document per message (user first, then
    alternating), tokens counted with BPE.

    ``pending_task_id``: the session's pending-summary slot is held by that task, as after the
    gateway claimed it and published the task.
    """
    now = datetime.now(UTC)
    docs: list[dict[str, Any]] = []
    for i, content in enumerate(contents, start=1):
        role = "user" if i % 2 else "assistant"
        docs.append(
            {
                "session_id": session_id,
                "seq": i,
                "role": role,
                "content": content,
                "tokens": count_message_tokens(role, content),
                "created_at": now,
            }
        )
    if docs:
        db.messages.insert_many(docs)
    db.sessions.insert_one(
        {
            "_id": session_id,
            "last_seq": len(docs),
            "tokens_since_summary": sum(d["tokens"] for d in docs),
            "summary": None,
            "summary_upto_seq": 0,
            "summary_pending": (
                {"task_id": pending_task_id, "reason": "manual", "requested_at": now, "published": True}
                if pending_task_id
                else None
            ),
            "created_at": now,
            "updated_at": now,
        }
    )


def seed_sessions(db: Any, prefix: str, count: int, contents: list[str]) -> list[str]:
    """``count`` sessions of ``contents``, named ``{prefix}-0`` onwards; their ids."""
    ids = [f"{prefix}-{n}" for n in range(count)]
    for session_id in ids:
        seed_session(db, session_id, contents)
    return ids
