"""Reading a long session's history for folding without reading all of it each step.

A session of 100 messages of 32k characters is ~10 MB of text; a fold step takes a few of them.
So the plan is made from the messages' *heads* (sequence number, role, stored token count, time:
what keep-recent, tool pairs and holes need), and only the contents one step can use are read.
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


def heads_after(db: Database, session_id: str, seq: int) -> list[Message]:
    """The session's messages after ``seq``, in order, with empty contents."""
    cursor = db[messages.COLLECTION].find(messages.after(session_id, seq), HEAD_FIELDS).sort(messages.IN_ORDER)
    return [Message(d["seq"], d["role"], "", int(d.get("tokens") or 0), d.get("created_at")) for d in cursor]


def with_contents(db: Database, session_id: str, run: list[Message], limit: int) -> list[Message]:
    """The start of ``run`` that one step of ``limit`` prompt tokens could use, contents read.

    Whole units only: tool results that follow the last message read are read too.
    """
    count, total = 0, 0
    while count < len(run) and (total <= READ_AHEAD * limit or run[count].role == TOOL_ROLE):
        total += run[count].tokens
        count += 1
    wanted = [m.seq for m in run[:count]]
    found = {
        d["seq"]: d["content"]
        for d in db[messages.COLLECTION].find(
            {"session_id": session_id, "seq": {"$in": wanted}}, {"_id": 0, "seq": 1, "content": 1}
        )
    }
    read = []
    for message in run[:count]:
        if message.seq not in found:  # deleted meanwhile: never fold past a missing message
            break
        read.append(replace(message, content=found[message.seq]))
    return read
