"""The ``messages`` collection: chat history, one document per message.

``{session_id, seq, role, content, tokens, created_at}``, unique per ``(session_id, seq)``: append-heavy
data never grows one document, and a redelivered insert collides instead of duplicating.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING

from .indexes import Index

COLLECTION = "messages"

INDEXES: tuple[Index, ...] = (Index(COLLECTION, [("session_id", ASCENDING), ("seq", ASCENDING)], {"unique": True}),)

# Oldest first: the order every reader of a session's history wants.
IN_ORDER = [("seq", ASCENDING)]


def new_messages(
    session_id: str, first_seq: int, items: Sequence[tuple[str, str, int]], now: datetime
) -> list[dict[str, Any]]:
    """The documents of ``items`` (role, content, tokens), numbered from ``first_seq``."""
    return [
        {
            "session_id": session_id,
            "seq": first_seq + i,
            "role": role,
            "content": content,
            "tokens": tokens,
            "created_at": now,
        }
        for i, (role, content, tokens) in enumerate(items)
    ]


def after(session_id: str, seq: int) -> dict[str, Any]:
    """The session's messages after ``seq`` (a summary's watermark): sort them :data:`IN_ORDER`."""
    return {"session_id": session_id, "seq": {"$gt": seq}}


def of_session(session_id: str) -> dict[str, Any]:
    """All of a session's messages (deleting the session)."""
    return {"session_id": session_id}
