"""An append's insert is bounded (``insert_timeout``, half of RAGTASKS_SUMMARY_HOLE_GRACE_SECONDS).

Summaries and the context step over a hole once the message after it is older than the grace:
that is only safe if no insert can still land after it. An insert past its timeout fails the
append (the caller answers 5xx), leaves its numbers a hole and gives its tokens back.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

from ragtasks_core.settings import Settings
from ragtasks_gateway.models.sessions import ChatMessage
from ragtasks_gateway.stores import sessions

pytestmark = pytest.mark.integration

TURN = [
    ChatMessage(role="user", content="耳机左边有杂音，订单号 20240611。"),
    ChatMessage(role="assistant", content="好的，已登记。"),
]


def _append(settings: Settings, session_id: str, insert_timeout: float | None) -> BaseException | None:
    async def go() -> BaseException | None:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_url, tz_aware=True)
        try:
            collections = sessions.Collections.of(client[settings.mongodb_db])
            await sessions.append(collections, session_id, TURN, trigger_tokens=10**9, insert_timeout=insert_timeout)
        except PyMongoError as exc:
            return exc
        finally:
            await client.close()
        return None

    return asyncio.run(go())


def test_an_insert_past_its_timeout_fails_the_append_and_gives_its_tokens_back(settings: Settings, db: Any) -> None:
    assert _append(settings, "bounded", insert_timeout=30) is None
    tokens = db.sessions.find_one({"_id": "bounded"})["tokens_since_summary"]

    # A deadline already past when the insert starts: it cannot be sent at all.
    failure = _append(settings, "bounded", insert_timeout=1e-9)
    assert failure is not None and failure.timeout, repr(failure)
    doc = db.sessions.find_one({"_id": "bounded"})
    assert doc["last_seq"] == 4 and doc["tokens_since_summary"] == tokens  # 3-4: a hole, tokens back
    assert sorted(m["seq"] for m in db.messages.find({"session_id": "bounded"})) == [1, 2]
