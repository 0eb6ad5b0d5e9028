"""Reading a long session's history for folding without reading all of it each step.

A session of 100 messages of 32k characters is ~10 MB of text; a fold step takes a few of them.
So the plan is made from the messages' *heads* (sequence number, role, stored token count, time:
what keep-recent, tool pairs and holes need), and only the contents one step can use are read.
A session whose unsummarized tokens are within what one step reads anyway (the usual case: a
summary every few thousand tokens) is read whole, contents and all, in one query instead.
"""

from __future__ import annotations

from dataclasses import replace

from pymongo.database import Database

from ragtasks_core.documents import messages

from .logic import Message
from .policy import TOOL_ROLE

HEAD_FIELDS = {"_id": 0, "seq": 1, "role": 1, "tokens": 1, "created_at": 1}
# Contents are read for messages up to this many times the prompt limit (stored counts include
# the chat format; the plan counts the transcript lines exactly): always more than a step takes.
READ_AHEAD = 2


def heads_after(db: Database, session_id: str, seq: int, *, contents: bool = False) -> list[Message]:
    """The session's messages after ``seq``, in order; their contents only if asked for."""
    fields = {**HEAD_FIELDS, "content": 1} if contents else HEAD_FIELDS
    cursor = db[messages.COLLECTION].find(messages.after(session_id, seq), fields).sort(messages.IN_ORDER)
    return [
        Message(d["seq"], d["role"], d.get("content", ""), int(d.get("tokens") or 0), d.get("created_at"))
        for d in cursor
    ]


def read_whole(tokens_since: int, limit: int) -> bool:
    """Whether a session with ``tokens_since`` unsummarized tokens is read in one query, contents
    and all: no more than :func:`with_contents` would read of it for a step of ``limit``."""
    return tokens_since <= READ_AHEAD * limit


def step_share(run: list[Message], limit: int) -> list[Message]:
    """The start of ``run`` that one step of ``limit`` prompt tokens could use (whole units:
    tool results that follow the last message are included)."""
    count, total = 0, 0
    while count < len(run) and (total <= READ_AHEAD * limit or run[count].role == TOOL_ROLE):
        total += run[count].tokens
        count += 1
    return run[:count]


def with_contents(db: Database, session_id: str, run: list[Message], limit: int) -> list[Message]:
    """:func:`step_share` of ``run`` (heads only), its contents read."""
    share = step_share(run, limit)
    wanted = [m.seq for m in share]
    found = {
        d["seq"]: d["content"]
        for d in db[messages.COLLECTION].find(
            {"session_id": session_id, "seq": {"$in": wanted}}, {"_id": 0, "seq": 1, "content": 1}
        )
    }
    read = []
    for message in share:
        if message.seq not in found:  # deleted meanwhile: never fold past a missing message
            break
        read.append(replace(message, content=found[message.seq]))
    return read
