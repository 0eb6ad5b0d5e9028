"""Two summaries of one session at once, with appends in between: one consistent watermark."""

from __future__ import annotations

import uuid
from typing import Any

from tests.integration.helpers import auth
from tests.support.procs import wait_until

from .conftest import Rig, wait_states


def append(client: Any, session_id: str, *contents: str) -> None:
    messages = [{"role": "user" if i % 2 == 0 else "assistant", "content": c} for i, c in enumerate(contents)]
    r = client.post(f"/v1/sessions/{session_id}/messages", json={"messages": messages}, headers=auth())
    assert r.status_code == 200, r.text


def assert_consistent(db: Any, session_id: str) -> dict[str, Any]:
    """The watermark is the end of the one committed chain, and the token count matches it."""
    session = db.sessions.find_one({"_id": session_id})
    upto = session["summary_upto_seq"]
    committed = list(db.summaries.find({"session_id": session_id, "committed": True}).sort("from_seq", 1))
    # One committed summary per range, chained 0 -> a -> b -> ... -> watermark.
    assert [c["from_seq"] for c in committed] == [0] + [c["upto_seq"] for c in committed[:-1]], committed
    assert committed[-1]["upto_seq"] == upto
    assert session["summary"] == committed[-1]["summary"]
    for doc in db.summaries.find({"session_id": session_id}):
        same_start = db.summaries.count_documents(
            {"session_id": session_id, "from_seq": doc["from_seq"], "committed": True}
        )
        assert same_start <= 1
    after = sum(m["tokens"] for m in db.messages.find({"session_id": session_id, "seq": {"$gt": upto}}))
    assert session["tokens_since_summary"] == after, (session["tokens_since_summary"], after)
    return session


def test_concurrent_summaries_commit_once(rig: Rig) -> None:
    rig.llm.latency_seconds = 2.0
    env = rig.env(SUMMARY_TRIGGER_TOKENS="100000")
    rig.start_worker("summarizer", env, concurrency=2)
    client = rig.client(env)
    sid = "race-1"
    append(client, sid, *[f"[[race]] message {i}: the order number is {1000 + i}." for i in range(10)])

    # Round 1: the same range twice, at the same moment; more messages arrive mid-flight.
    ids = [f"race-a-{uuid.uuid4().hex[:6]}", f"race-b-{uuid.uuid4().hex[:6]}"]
    for task_id in ids:
        rig.publish(sid, task_id)
    wait_until(lambda: len(rig.llm.chat_requests()) >= 2, 30, message="both LLM calls in flight")
    append(client, sid, "a new question while summarizing.", "and its answer.")
    final = wait_states(client, ids, timeout=60)
    statuses = sorted(body["result"]["status"] for body in final.values())
    assert statuses == ["committed", "superseded"], final
    session = assert_consistent(rig.db, sid)
    assert session["summary_upto_seq"] == 9  # 10 messages, the newest one kept verbatim
    assert rig.db.summaries.count_documents({"session_id": sid}) == 1  # the range was recorded once

    # Round 2: overlapping ranges from the same watermark -- one planned before an append, one after.
    first = f"race-c-{uuid.uuid4().hex[:6]}"
    rig.publish(sid, first)
    wait_until(lambda: len(rig.llm.chat_requests()) >= 3, 30, message="third LLM call in flight")
    append(client, sid, "yet another question.", "yet another answer.")
    second = f"race-d-{uuid.uuid4().hex[:6]}"
    rig.publish(sid, second)
    final = wait_states(client, [first, second], timeout=60)
    assert sorted(body["result"]["status"] for body in final.values()) == ["committed", "superseded"], final
    session = assert_consistent(rig.db, sid)
    assert session["summary_upto_seq"] in (11, 13)

    # Round 3: whatever is left is folded; the watermark only ever moved forward.
    last = f"race-e-{uuid.uuid4().hex[:6]}"
    rig.publish(sid, last)
    body = wait_states(client, [last], timeout=60)[last]
    assert body["state"] == "SUCCESS"
    session = assert_consistent(rig.db, sid)
    assert session["summary_upto_seq"] == 13
    committed = rig.db.summaries.find({"session_id": sid, "committed": True}).sort("from_seq", 1)
    versions = [c["upto_seq"] for c in committed]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
